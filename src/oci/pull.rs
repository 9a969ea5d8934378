//! Reading from a registry within bounds, and the few requests oci-client
//! does not make (DELETE, PUT of a placeholder).
//!
//! What a registry sends is input: a manifest that never ends, a tag list
//! of millions, a blob larger than its descriptor says, or one byte a
//! second. So every read here is capped ([`MANIFEST_CAP`], [`TAG_PAGES`],
//! the descriptor's size for a blob, [`TOKEN_CAP`]) and every request has a
//! deadline ([`DOCUMENT_DEADLINE`], and for a blob [`blob_deadline`]). Each
//! cap is named in its error. Requests carry the credentials as
//! oci-client's do: basic as given, or a bearer token from the registry's
//! challenge, asked for the scope the request needs.

use std::time::Duration;

use http::{HeaderValue, StatusCode};
use oci_client::secrets::RegistryAuth;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use super::registry::Registry;
use crate::digest::Digest;
use crate::errors::{Error, Result, StoreErrorKind};

/// The largest manifest, index or referrers list read (the distribution
/// spec asks registries to accept manifests of at least 4 MiB).
pub const MANIFEST_CAP: u64 = 4 << 20;
/// The largest token-server answer read.
pub const TOKEN_CAP: u64 = 64 << 10;
/// The most tag-list pages read (of up to 1,000 tags each).
pub const TAG_PAGES: usize = 10;
pub use crate::bounds::{blob_deadline, DOCUMENT_DEADLINE};

/// What a request needs of the token server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Reading.
    Pull,
    /// Deleting and putting placeholders.
    Delete,
}

impl Scope {
    fn actions(self) -> &'static str {
        match self {
            Scope::Pull => "pull",
            Scope::Delete => "pull,push,delete",
        }
    }
}

impl Registry {
    fn url(&self, path: &str) -> String {
        let scheme = if self.repo.plain_http {
            "http"
        } else {
            "https"
        };
        format!(
            "{scheme}://{}/v2/{}/{path}",
            self.repo.host, self.repo.repository
        )
    }

    fn http(&self) -> Result<reqwest::Client> {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| self.raw_error("connect to", "/v2/", &e.to_string()))
    }

    /// One request with the credentials: basic as given, or a bearer token
    /// from the registry's challenge.
    pub(crate) async fn request(
        &self,
        method: http::Method,
        path: &str,
        body: Option<(Vec<u8>, &str)>,
        accept: &[&str],
        scope: Scope,
    ) -> Result<reqwest::Response> {
        let http = self.http()?;
        let url = self.url(path);
        let build = |auth: Option<HeaderValue>| {
            let mut r = http.request(method.clone(), &url);
            if let Some(a) = auth {
                r = r.header(http::header::AUTHORIZATION, a);
            }
            if !accept.is_empty() {
                r = r.header(http::header::ACCEPT, accept.join(", "));
            }
            if let Some((b, ctype)) = &body {
                r = r.header(http::header::CONTENT_TYPE, *ctype).body(b.clone());
            }
            r
        };
        let op = op_name(&method);
        let failed = |e: reqwest::Error| self.raw_error(op, path, &e.to_string());
        let first = build(basic(&self.creds.auth))
            .send()
            .await
            .map_err(failed)?;
        if first.status() != StatusCode::UNAUTHORIZED {
            return Ok(first);
        }
        let challenge = first
            .headers()
            .get(http::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let token = self.token(&http, &challenge, scope).await?;
        let bearer = HeaderValue::from_str(&format!("Bearer {token}")).ok();
        build(bearer).send().await.map_err(failed)
    }

    /// The bearer-token exchange for `scope` on the repository.
    async fn token(&self, http: &reqwest::Client, challenge: &str, scope: Scope) -> Result<String> {
        let param = |name: &str| -> Option<String> {
            let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
            let end = challenge[start..].find('"')? + start;
            Some(challenge[start..end].to_string())
        };
        let Some(realm) = param("realm") else {
            return Err(self.auth_refused("the registry asked for credentials it did not accept"));
        };
        let scope = format!("repository:{}:{}", self.repo.repository, scope.actions());
        let mut request = http.get(&realm).query(&[("scope", scope.as_str())]);
        if let Some(service) = param("service") {
            request = request.query(&[("service", service.as_str())]);
        }
        if let RegistryAuth::Basic(user, pass) = &self.creds.auth {
            request = request.basic_auth(user, Some(pass));
        }
        let what = "the token server's answer";
        let response = request
            .send()
            .await
            .map_err(|e| self.raw_error("GET token", &realm, &e.to_string()))?;
        if !response.status().is_success() {
            return Err(
                self.auth_refused(&format!("the token server answered {}", response.status()))
            );
        }
        let bytes = self.read_capped(response, TOKEN_CAP, what).await?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| self.raw_error("GET token", &realm, &e.to_string()))?;
        v.get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .ok_or_else(|| self.auth_refused("the token server sent no token"))
    }

    /// The body of `response`, refused past `cap` bytes.
    async fn read_capped(
        &self,
        mut response: reqwest::Response,
        cap: u64,
        what: &str,
    ) -> Result<Vec<u8>> {
        let path = response.url().path().to_string();
        if response.content_length().is_some_and(|n| n > cap) {
            return Err(self.too_large(&path, what, cap));
        }
        let mut out = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.raw_error("GET", &path, &e.to_string()))?
        {
            if out.len() as u64 + chunk.len() as u64 > cap {
                return Err(self.too_large(&path, what, cap));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    fn too_large(&self, path: &str, what: &str, cap: u64) -> Error {
        Error::Untrusted {
            source_name: self.describe(),
            what: path.to_string(),
            message: format!(
                "{what} is larger than its cap of {}",
                crate::bounds::human(cap)
            ),
        }
    }

    /// A document (manifest, index, referrers list) at `path`, at most
    /// [`MANIFEST_CAP`] bytes; `None` on 404.
    pub(crate) async fn get_document(
        &self,
        path: &str,
        accept: &[&str],
    ) -> Result<Option<Vec<u8>>> {
        let work = async {
            let response = self
                .request(http::Method::GET, path, None, accept, Scope::Pull)
                .await?;
            match response.status() {
                StatusCode::NOT_FOUND => Ok(None),
                s if s.is_success() => Ok(Some(
                    self.read_capped(response, MANIFEST_CAP, "the document")
                        .await?,
                )),
                s => Err(self.raw_error("GET", path, &format!("HTTP {s}"))),
            }
        };
        self.deadline(DOCUMENT_DEADLINE, path, work).await
    }

    /// Streams blob `digest` of `size` bytes into the file `to`, hashing it
    /// as it comes: more bytes than `size`, or other bytes than `digest`,
    /// are refused. False when the registry does not have it.
    pub(crate) async fn pull_blob_checked(
        &self,
        digest: &Digest,
        size: u64,
        to: &std::path::Path,
    ) -> Result<bool> {
        let path = format!("blobs/{digest}");
        let work = async {
            let mut response = self
                .request(http::Method::GET, &path, None, &[], Scope::Pull)
                .await?;
            match response.status() {
                StatusCode::NOT_FOUND => return Ok(false),
                s if !s.is_success() => {
                    return Err(self.raw_error("GET", &path, &format!("HTTP {s}")))
                }
                _ => {}
            }
            let mut file = tokio::fs::File::create(to)
                .await
                .map_err(Error::io("cannot create", to))?;
            let mut hasher = Sha256::new();
            let mut got = 0u64;
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| self.raw_error("GET", &path, &e.to_string()))?
            {
                got += chunk.len() as u64;
                if got > size {
                    return Err(self.untrusted(
                        &path,
                        format!("the registry sent more than the {size} bytes its descriptor says"),
                    ));
                }
                hasher.update(&chunk);
                file.write_all(&chunk)
                    .await
                    .map_err(Error::io("cannot write", to))?;
            }
            file.flush().await.map_err(Error::io("cannot write", to))?;
            let actual = Digest::from_hasher(hasher);
            if got != size || actual != *digest {
                return Err(self.untrusted(
                    &path,
                    format!("the registry sent {got} bytes hashing to {actual}, not {size} bytes of {digest}"),
                ));
            }
            Ok(true)
        };
        self.deadline(blob_deadline(size), &path, work).await
    }

    /// Every tag of the repository, page by page, at most [`TAG_PAGES`]
    /// pages.
    pub(crate) async fn list_tags_capped(&self) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut tags = Vec::new();
        let mut next = Some("tags/list?n=1000".to_string());
        let mut pages = 0;
        while let Some(path) = next.take() {
            pages += 1;
            if pages > TAG_PAGES {
                return Err(self.untrusted(
                    "tags/list",
                    format!(
                        "the repository has more than {} tags ({TAG_PAGES} pages): remove old tags, or use a repository per release line",
                        TAG_PAGES * 1000
                    ),
                ));
            }
            let work = async {
                let response = self
                    .request(http::Method::GET, &path, None, &[], Scope::Pull)
                    .await?;
                let link = response
                    .headers()
                    .get(http::header::LINK)
                    .and_then(|v| v.to_str().ok())
                    .and_then(next_page);
                match response.status() {
                    StatusCode::NOT_FOUND => Ok((Vec::new(), None)),
                    s if s.is_success() => {
                        let bytes = self
                            .read_capped(response, MANIFEST_CAP, "the tag list")
                            .await?;
                        let page: Page = serde_json::from_slice(&bytes).map_err(|e| {
                            self.untrusted("tags/list", format!("not a tag list: {e}"))
                        })?;
                        Ok((page.tags.unwrap_or_default(), link))
                    }
                    s => Err(self.raw_error("GET", "tags/list", &format!("HTTP {s}"))),
                }
            };
            let (page, link) = self.deadline(DOCUMENT_DEADLINE, "tags/list", work).await?;
            tags.extend(page);
            next = link;
        }
        Ok(tags)
    }

    async fn deadline<T>(
        &self,
        limit: Duration,
        what: &str,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        crate::bounds::within(limit, work, |message| Error::Registry {
            registry: self.describe(),
            op: "GET",
            what: what.to_string(),
            kind: StoreErrorKind::Unreachable,
            credentials: self.creds.origin,
            message,
        })
        .await
    }

    fn untrusted(&self, what: &str, message: String) -> Error {
        Error::Untrusted {
            source_name: self.describe(),
            what: what.to_string(),
            message,
        }
    }

    pub(crate) fn raw_error(&self, op: &'static str, what: &str, message: &str) -> Error {
        Error::Registry {
            registry: self.describe(),
            op,
            what: what.to_string(),
            kind: StoreErrorKind::Unreachable,
            credentials: self.creds.origin,
            message: super::auth::scrub(message, self.creds.secret.as_deref()),
        }
    }

    pub(crate) fn auth_refused(&self, message: &str) -> Error {
        Error::Registry {
            registry: self.describe(),
            op: "GET",
            what: "/v2/".into(),
            kind: StoreErrorKind::Auth,
            credentials: self.creds.origin,
            message: message.to_string(),
        }
    }
}

fn op_name(method: &http::Method) -> &'static str {
    match *method {
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        _ => "GET",
    }
}

/// The path (relative to the repository) of a `Link: <…>; rel="next"`
/// header's page; `None` for one that leaves the repository's tag list.
fn next_page(link: &str) -> Option<String> {
    let start = link.find('<')? + 1;
    let end = link[start..].find('>')? + start;
    let target = &link[start..end];
    let path_and_query = match target.find("/v2/") {
        Some(i) => &target[i..],
        None => return None,
    };
    let (_, rest) = path_and_query.split_once("/tags/list")?;
    Some(format!("tags/list{rest}"))
}

fn basic(auth: &RegistryAuth) -> Option<HeaderValue> {
    use base64::Engine;
    match auth {
        RegistryAuth::Basic(user, pass) => HeaderValue::from_str(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        ))
        .ok(),
        RegistryAuth::Bearer(token) => HeaderValue::from_str(&format!("Bearer {token}")).ok(),
        RegistryAuth::Anonymous => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_pages_stay_in_the_tag_list() {
        assert_eq!(
            next_page("</v2/team/hello/tags/list?n=1000&last=v9>; rel=\"next\"").as_deref(),
            Some("tags/list?n=1000&last=v9")
        );
        assert_eq!(
            next_page("<https://reg/v2/x/tags/list?last=a>; rel=\"next\"").as_deref(),
            Some("tags/list?last=a")
        );
        assert_eq!(next_page("</elsewhere>; rel=\"next\""), None);
        assert_eq!(next_page("garbage"), None);
    }
}
