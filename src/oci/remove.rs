//! Removing image tags, and then what no remaining tag reaches.
//!
//! Order, at every kind of destination: the tag first (so no client finds a
//! half-removed image), then the tag list, then the manifests and blobs that
//! no remaining tag reaches (indexes before their manifests, manifests
//! before their blobs). The remaining tags are read again just before
//! anything but the tag is deleted.
//!
//! - **Registry.** docker-registry 2.8 cannot delete a tag (it answers 400
//!   to a DELETE by tag), and a DELETE by digest removes every tag on that
//!   digest. So a removed tag is first pointed at a placeholder (an empty
//!   index unique to this removal), and the placeholder is deleted by
//!   digest: only that tag goes. Before that, a DELETE of a digest that
//!   does not exist asks whether the registry deletes at all (405: it does
//!   not), so a refusing registry is found before anything changes.
//!   oci-client has no DELETE, so the few requests here are made with
//!   reqwest, with the same credentials (basic, or a bearer token obtained
//!   from the registry's challenge).
//! - **Static registry** (bucket) and **OCI layout** (directory): the same
//!   order over `v2/<name>/…` and `blobs/sha256/…`.

use http::{HeaderValue, StatusCode};
use oci_client::secrets::RegistryAuth;
use oci_client::Reference;

use super::bucket::Shape;
use super::document::INDEX_MEDIA_TYPE;
use super::reach::{refs_of, Reach};
use super::registry::Registry;
use crate::errors::{Error, Result, StoreErrorKind};
use crate::objstore::{Body, ObjectStore};

/// Media types accepted when reading a tag.
const ACCEPTED: &[&str] = &[
    INDEX_MEDIA_TYPE,
    super::document::MANIFEST_MEDIA_TYPE,
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// What one tag reaches, and the digest it points at.
#[derive(Debug, Clone, Default)]
pub struct TagReach {
    /// The index (or manifest) the tag points at.
    pub digest: String,
    /// Everything it reaches.
    pub reach: Reach,
}

impl Registry {
    /// Every tag of the repository.
    pub async fn tags(&self) -> Result<Vec<String>> {
        let reference = self.reference_tag("latest");
        match self
            .client
            .list_tags(&reference, &self.creds.auth, None, None)
            .await
        {
            Ok(t) => Ok(t.tags),
            Err(oci_client::errors::OciDistributionError::RegistryError { envelope, .. })
                if envelope
                    .errors
                    .iter()
                    .any(|e| matches!(e.code, oci_client::errors::OciErrorCode::NameUnknown)) =>
            {
                Ok(Vec::new())
            }
            Err(e) => Err(self.error("list tags of", "tags/list", e)),
        }
    }

    async fn document(&self, reference: &Reference) -> Result<Option<(Vec<u8>, String)>> {
        match self
            .client
            .pull_manifest_raw(reference, &self.creds.auth, ACCEPTED)
            .await
        {
            Ok((bytes, digest)) => Ok(Some((bytes.to_vec(), digest))),
            Err(e) if is_unknown(&e) => Ok(None),
            Err(e) => Err(self.error("GET manifest", &reference.whole(), e)),
        }
    }

    /// The bytes of the document at `reference` (a tag, or a digest).
    pub(crate) async fn raw_document(&self, reference: &str) -> Result<Option<Vec<u8>>> {
        let r = if reference.starts_with("sha256:") {
            self.reference_digest(reference)
        } else {
            self.reference_tag(reference)
        };
        Ok(self.document(&r).await?.map(|(bytes, _)| bytes))
    }

    /// Streams blob `digest` into the file `to`; false when it is missing.
    pub(crate) async fn pull_blob_to(&self, digest: &str, to: &std::path::Path) -> Result<bool> {
        let reference = self.reference_digest(digest);
        let file = tokio::fs::File::create(to)
            .await
            .map_err(Error::io("cannot create", to))?;
        match self.client.pull_blob(&reference, digest, file).await {
            Ok(()) => Ok(true),
            Err(e) if is_unknown(&e) => Ok(false),
            Err(e) => Err(self.error("GET blob", digest, e)),
        }
    }

    /// What `tag` reaches; `None` when the tag is not there.
    pub async fn reach_of(&self, tag: &str) -> Result<Option<TagReach>> {
        let Some((bytes, digest)) = self.document(&self.reference_tag(tag)).await? else {
            return Ok(None);
        };
        let mut out = TagReach {
            digest: digest.clone(),
            reach: Reach::default(),
        };
        let refs = refs_of(&bytes);
        out.reach.add(&digest, &refs);
        for m in &refs.manifests {
            if let Some((bytes, _)) = self.document(&self.reference_digest(m)).await? {
                out.reach.add(m, &refs_of(&bytes));
            }
        }
        Ok(Some(out))
    }

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

    /// One request with the credentials: basic as given, or a bearer token
    /// from the registry's challenge.
    async fn send(
        &self,
        method: http::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<StatusCode> {
        let http = reqwest::Client::new();
        let url = self.url(path);
        let build = |auth: Option<HeaderValue>| {
            let mut r = http.request(method.clone(), &url);
            if let Some(a) = auth {
                r = r.header(http::header::AUTHORIZATION, a);
            }
            if let Some(b) = &body {
                r = r
                    .header(http::header::CONTENT_TYPE, INDEX_MEDIA_TYPE)
                    .body(b.clone());
            }
            r
        };
        // Only DELETE and PUT come here.
        let op = if method == http::Method::PUT {
            "PUT"
        } else {
            "DELETE"
        };
        let failed = |e: reqwest::Error| self.raw_error(op, path, &e.to_string());
        let first = build(basic(&self.creds.auth))
            .send()
            .await
            .map_err(failed)?;
        if first.status() != StatusCode::UNAUTHORIZED {
            return Ok(first.status());
        }
        let challenge = first
            .headers()
            .get(http::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let token = self.token(&http, &challenge).await?;
        let bearer = HeaderValue::from_str(&format!("Bearer {token}")).ok();
        Ok(build(bearer).send().await.map_err(failed)?.status())
    }

    /// The bearer-token exchange for `pull,push,delete` on the repository.
    async fn token(&self, http: &reqwest::Client, challenge: &str) -> Result<String> {
        let param = |name: &str| -> Option<String> {
            let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
            let end = challenge[start..].find('"')? + start;
            Some(challenge[start..end].to_string())
        };
        let Some(realm) = param("realm") else {
            return Err(self.auth_refused("the registry asked for credentials it did not accept"));
        };
        let scope = format!("repository:{}:pull,push,delete", self.repo.repository);
        let mut request = http.get(&realm).query(&[("scope", scope.as_str())]);
        if let Some(service) = param("service") {
            request = request.query(&[("service", service.as_str())]);
        }
        if let RegistryAuth::Basic(user, pass) = &self.creds.auth {
            request = request.basic_auth(user, Some(pass));
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.raw_error("GET token", &realm, &e.to_string()))?;
        if !response.status().is_success() {
            return Err(
                self.auth_refused(&format!("the token server answered {}", response.status()))
            );
        }
        let v: serde_json::Value = response
            .json()
            .await
            .map_err(|e| self.raw_error("GET token", &realm, &e.to_string()))?;
        v.get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .ok_or_else(|| self.auth_refused("the token server sent no token"))
    }

    fn raw_error(&self, op: &'static str, what: &str, message: &str) -> Error {
        Error::Registry {
            registry: self.describe(),
            op,
            what: what.to_string(),
            kind: StoreErrorKind::Unreachable,
            credentials: self.creds.origin,
            message: super::auth::scrub(message, self.creds.secret.as_deref()),
        }
    }

    fn auth_refused(&self, message: &str) -> Error {
        Error::Registry {
            registry: self.describe(),
            op: "DELETE",
            what: "/v2/".into(),
            kind: StoreErrorKind::Auth,
            credentials: self.creds.origin,
            message: message.to_string(),
        }
    }

    /// Asks whether the registry deletes, without changing anything: a
    /// DELETE of a digest no one has.
    pub async fn probe_delete(&self) -> Result<()> {
        let nothing = format!("sha256:{}", "0".repeat(64));
        let status = self
            .send(http::Method::DELETE, &format!("manifests/{nothing}"), None)
            .await?;
        match status {
            StatusCode::NOT_FOUND | StatusCode::ACCEPTED | StatusCode::OK => Ok(()),
            StatusCode::METHOD_NOT_ALLOWED | StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => {
                Err(Error::DeleteRefused {
                    registry: self.describe(),
                    status: format!("HTTP {status} to DELETE"),
                })
            }
            other => Err(self.raw_error("DELETE", &nothing, &format!("HTTP {other}"))),
        }
    }

    /// Removes `tag` alone: points it at a placeholder made for this
    /// removal, then deletes the placeholder by digest.
    pub async fn untag(&self, tag: &str) -> Result<()> {
        let placeholder = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": INDEX_MEDIA_TYPE,
            "manifests": [],
            "annotations": {
                "org.opencontainers.image.description": "removed by cargo release-dist rm",
                "dev.release-dist.removed": format!("{tag} {}", crate::clock::now()),
                "dev.release-dist.nonce": format!("{}", std::process::id()),
            }
        }))
        .unwrap_or_default();
        let digest = super::document::digest_of(&placeholder);
        let put = self
            .send(
                http::Method::PUT,
                &format!("manifests/{tag}"),
                Some(placeholder),
            )
            .await?;
        if !put.is_success() {
            return Err(self.raw_error("PUT placeholder for", tag, &format!("HTTP {put}")));
        }
        self.delete_reference(&format!("manifests/{digest}"))
            .await?;
        crate::events::deleted(|| self.describe(), &format!("manifests/{tag}"));
        Ok(())
    }

    /// Deletes `manifests/<digest>` or `blobs/<digest>`; one that is gone
    /// counts as deleted.
    pub async fn delete_reference(&self, path: &str) -> Result<()> {
        let status = self.send(http::Method::DELETE, path, None).await?;
        match status {
            s if s.is_success() || s == StatusCode::NOT_FOUND => {
                crate::events::deleted(|| self.describe(), path);
                Ok(())
            }
            StatusCode::METHOD_NOT_ALLOWED => Err(Error::DeleteRefused {
                registry: self.describe(),
                status: format!("HTTP {status} to DELETE {path}"),
            }),
            other => Err(self.raw_error("DELETE", path, &format!("HTTP {other}"))),
        }
    }
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

fn is_unknown(e: &oci_client::errors::OciDistributionError) -> bool {
    use oci_client::errors::{OciDistributionError as E, OciErrorCode as C};
    match e {
        E::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| matches!(e.code, C::ManifestUnknown | C::NameUnknown)),
        E::ServerError { code, .. } => *code == 404,
        E::ImageManifestNotFoundError(_) => true,
        _ => false,
    }
}

/// A tag's key in a static registry.
pub fn tag_key(name: &str, tag: &str) -> String {
    format!("v2/{name}/manifests/{tag}")
}

/// The tags a bucket or layout holds: (tag, the digest it points at).
pub async fn store_tags(
    store: &ObjectStore,
    shape: Shape,
    name: &str,
) -> Result<Vec<(String, String)>> {
    match shape {
        Shape::StaticRegistry => {
            let prefix = format!("v2/{name}/manifests/");
            let listing = store.list(&prefix).await?;
            let mut out = Vec::new();
            for tag in super::bucket::tags_of(&prefix, &listing) {
                if let Some(bytes) = store.get(&tag_key(name, &tag)).await? {
                    out.push((tag, super::document::digest_of(&bytes)));
                }
            }
            Ok(out)
        }
        Shape::Layout => {
            let index = store.get("index.json").await?.unwrap_or_default();
            Ok(layout_refs(&index))
        }
    }
}

/// `(tag, digest)` of each `org.opencontainers.image.ref.name` in a layout's index.json.
pub fn layout_refs(index: &[u8]) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(index).unwrap_or_default();
    v.get("manifests")
        .and_then(|m| m.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|e| {
                    let tag = e["annotations"]["org.opencontainers.image.ref.name"].as_str()?;
                    Some((tag.to_string(), e["digest"].as_str()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What the document at `digest` reaches in a bucket or layout.
pub async fn store_reach(
    store: &ObjectStore,
    shape: Shape,
    name: &str,
    digest: &str,
) -> Result<Reach> {
    let key = |d: &str| match shape {
        Shape::StaticRegistry => format!("v2/{name}/manifests/{d}"),
        Shape::Layout => format!("blobs/sha256/{}", d.trim_start_matches("sha256:")),
    };
    let mut reach = Reach::default();
    let bytes = store.get(&key(digest)).await?.unwrap_or_default();
    let refs = refs_of(&bytes);
    reach.add(digest, &refs);
    for m in &refs.manifests {
        let bytes = store.get(&key(m)).await?.unwrap_or_default();
        reach.add(m, &refs_of(&bytes));
    }
    Ok(reach)
}

/// Removes `tags` from a layout's index.json (the other tags stay).
pub async fn layout_untag(store: &ObjectStore, tags: &[String]) -> Result<()> {
    let old = store.get("index.json").await?.unwrap_or_default();
    let mut v: serde_json::Value = serde_json::from_slice(&old).unwrap_or_default();
    if let Some(entries) = v.get_mut("manifests").and_then(|m| m.as_array_mut()) {
        entries.retain(|e| {
            e["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .map_or(true, |t| !tags.iter().any(|r| r == t))
        });
    }
    let bytes = serde_json::to_vec_pretty(&v).unwrap_or_default();
    store
        .put("index.json", Body::Bytes(bytes), INDEX_MEDIA_TYPE)
        .await
}
