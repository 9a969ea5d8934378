//! Pushing an [`ImageSet`] to an OCI registry through oci-client.
//!
//! Blobs are checked with HEAD and only the missing ones are uploaded, in
//! parallel, each as one monolithic PUT streamed from the blob cache. Then
//! the per-platform manifests and the index go up by digest, as raw bytes;
//! tags come last, in a separate phase, so no tag ever points at an image
//! whose parts are not all there.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use http::HeaderValue;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::{Client, Reference, RegistryOperation};

use super::auth::{scrub, Credentials};
use super::dest::RegistryRepo;
use super::{Blob, ContentPlan, ImageSet};
use crate::errors::{Error, Result, StoreErrorKind};

/// Blobs uploaded at once.
const PARALLEL_BLOBS: usize = 8;
/// Attempts for a request that failed in a way that may pass.
const ATTEMPTS: usize = 4;

/// A connection to one repository.
pub struct Registry {
    pub(super) client: Client,
    pub(super) repo: RegistryRepo,
    pub(super) creds: Credentials,
}

impl Registry {
    /// Connects and authenticates for push (the token exchange, if any).
    pub async fn connect(repo: &RegistryRepo, creds: Credentials) -> Result<Registry> {
        Registry::connect_for(repo, creds, RegistryOperation::Push).await
    }

    /// Connects and authenticates for `operation`.
    pub async fn connect_for(
        repo: &RegistryRepo,
        creds: Credentials,
        operation: RegistryOperation,
    ) -> Result<Registry> {
        let config = ClientConfig {
            protocol: if repo.plain_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            use_monolithic_push: true,
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(120)),
            user_agent: concat!("cargo-release-dist/", env!("CARGO_PKG_VERSION")),
            platform_resolver: None,
            ..Default::default()
        };
        let r = Registry {
            client: Client::new(config),
            repo: repo.clone(),
            creds,
        };
        let reference = r.reference_tag("latest");
        let token = retry(|| r.client.auth(&reference, &r.creds.auth, operation))
            .await
            .map_err(|e| r.error("authenticate with", "/v2/", e))?;
        if operation == RegistryOperation::Push {
            r.refuse_a_token_that_cannot_push(token.as_deref())?;
        }
        Ok(r)
    }

    /// A token server grants what the credentials allow, which may be less
    /// than push: such a token is refused here, before anything is pushed.
    fn refuse_a_token_that_cannot_push(&self, token: Option<&str>) -> Result<()> {
        let Some(granted) =
            token.and_then(|t| super::token::granted_actions(t, &self.repo.repository))
        else {
            return Ok(());
        };
        if super::token::allows(&granted, "push") {
            return Ok(());
        }
        Err(Error::RegistryScope {
            registry: self.describe(),
            repository: self.repo.repository.clone(),
            granted: match granted.is_empty() {
                true => "nothing".into(),
                false => granted.join(","),
            },
            credentials: self.creds.origin,
        })
    }

    /// `host/repo`.
    pub fn describe(&self) -> String {
        format!("docker://{}", self.repo.display())
    }

    pub(super) fn reference_tag(&self, tag: &str) -> Reference {
        Reference::with_tag(
            self.repo.host.clone(),
            self.repo.repository.clone(),
            tag.into(),
        )
    }

    pub(super) fn reference_digest(&self, digest: &str) -> Reference {
        Reference::with_digest(
            self.repo.host.clone(),
            self.repo.repository.clone(),
            digest.into(),
        )
    }

    pub(super) fn error(&self, op: &'static str, what: &str, e: OciDistributionError) -> Error {
        let kind = classify(&e);
        let mut message = scrub(&e.to_string(), self.creds.secret.as_deref());
        if let OciDistributionError::RequestError(re) = &e {
            let mut src = std::error::Error::source(re);
            while let Some(s) = src {
                message.push_str(&format!(": {s}"));
                src = s.source();
            }
            message = scrub(&message, self.creds.secret.as_deref());
        }
        Error::Registry {
            registry: self.describe(),
            op,
            what: what.to_string(),
            kind,
            credentials: self.creds.origin,
            message,
        }
    }

    /// Which blobs of `set` the registry has (a HEAD each). Manifests are
    /// always put: a PUT costs what the check would.
    pub async fn plan_content(&self, set: &ImageSet) -> Result<ContentPlan> {
        let blob_there = futures::stream::iter(set.blobs.iter())
            .map(|b| self.blob_there(b))
            .buffered(PARALLEL_BLOBS)
            .try_collect()
            .await?;
        let old = match set.referrers.is_empty() {
            true => None,
            false => {
                let tag = super::referrers::fallback_tag(&set.index.descriptor.digest);
                self.raw_document(&tag).await?
            }
        };
        Ok(ContentPlan {
            blob_there,
            manifest_there: vec![false; set.documents().count()],
            fallback: set.fallback(old.as_deref()),
        })
    }

    /// The descriptors of what refers to `subject`: the referrers API, or
    /// on a registry without it (404) the referrers tag. Both capped.
    pub(crate) async fn referrers(
        &self,
        subject: &crate::digest::Digest,
    ) -> Result<Vec<super::document::Descriptor>> {
        let accept = [super::document::INDEX_MEDIA_TYPE];
        let listed = match self
            .get_document(&format!("referrers/{subject}"), &accept)
            .await?
        {
            Some(bytes) => bytes,
            None => self
                .raw_document(&super::referrers::fallback_tag(subject))
                .await?
                .unwrap_or_default(),
        };
        Ok(super::referrers::referrers_of(&listed))
    }

    /// Whether the registry has blob `b`. One it cannot answer for is taken
    /// as missing: a registry killed part-way through a blob can answer
    /// 500 for it from then on (seen once with docker-registry 2.8 in the
    /// reliability test), and uploading it again rewrites it; if the
    /// registry is broken, the upload fails with its own error.
    async fn blob_there(&self, b: &Blob) -> Result<bool> {
        let d = &b.descriptor;
        let reference = self.reference_digest(&d.digest);
        let head = || self.client.blob_exists(&reference, &d.digest);
        match retry(head).await {
            Ok(there) => Ok(there),
            Err(e) if classify(&e) == StoreErrorKind::Unavailable => {
                tracing::warn!("HEAD {} failed ({e}); uploading it again", d.digest);
                Ok(false)
            }
            Err(e) => Err(self.error("HEAD", &d.digest, e)),
        }
    }

    /// Uploads the blob `digest` of `size` bytes from `path`.
    pub(crate) async fn push_blob_file(
        &self,
        digest: &str,
        size: u64,
        path: &std::path::Path,
    ) -> Result<()> {
        let reference = self.reference_digest(digest);
        test_blob_delay().await;
        retry(|| async {
            let stream = file_stream(path.to_path_buf()).await?;
            self.client
                .push_blob_stream(&reference, stream, digest, Some(size))
                .await
        })
        .await
        .map_err(|e| self.error("upload", digest, e))?;
        tracing::debug!("pushed blob {digest}");
        crate::events::written(|| self.describe(), &format!("blobs/{digest}"));
        Ok(())
    }

    /// Puts `bytes` as the manifest at `reference`: a tag, or a digest
    /// (which `crate::digest::Digest` parses).
    pub(crate) async fn put_manifest_at(
        &self,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<()> {
        let r = match crate::digest::Digest::parse(reference) {
            Ok(d) => self.reference_digest(&d),
            Err(_) => self.reference_tag(reference),
        };
        self.put_manifest_bytes(&r, reference, bytes, media_type)
            .await
    }

    async fn put_manifest_bytes(
        &self,
        reference: &Reference,
        what: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<()> {
        let ctype = HeaderValue::from_str(media_type)
            .unwrap_or(HeaderValue::from_static("application/json"));
        retry(|| {
            self.client
                .push_manifest_raw(reference, bytes.to_vec(), ctype.clone())
        })
        .await
        .map_err(|e| self.error("PUT manifest", what, e))?;
        crate::events::written(|| self.describe(), &format!("manifests/{what}"));
        Ok(())
    }
}

/// A test build may wait before each blob upload ([`crate::test_hooks`]),
/// so that a test's push outlives a short-lived token.
async fn test_blob_delay() {
    crate::test_hooks::pause(crate::test_hooks::hooks().blob_delay).await;
}

/// A blob file as a stream of 1 MiB chunks.
async fn file_stream(
    path: std::path::PathBuf,
) -> oci_client::errors::Result<impl futures::Stream<Item = oci_client::errors::Result<bytes::Bytes>>>
{
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::open(&path).await?;
    Ok(futures::stream::try_unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 1 << 20];
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((bytes::Bytes::from(buf), f)))
    }))
}

fn classify(e: &OciDistributionError) -> StoreErrorKind {
    match e {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => StoreErrorKind::Auth,
        OciDistributionError::ServerError { code, .. } if *code == 401 || *code == 403 => {
            StoreErrorKind::Auth
        }
        OciDistributionError::ServerError { code, .. } if *code >= 500 => {
            StoreErrorKind::Unavailable
        }
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes = format!("{envelope:?}");
            if codes.contains("UNAUTHORIZED") || codes.contains("DENIED") {
                StoreErrorKind::Auth
            } else {
                StoreErrorKind::Other
            }
        }
        OciDistributionError::RequestError(re) if re.is_connect() || re.is_timeout() => {
            StoreErrorKind::Unreachable
        }
        OciDistributionError::RequestError(re)
            if re
                .status()
                .is_some_and(|s| s.as_u16() == 401 || s.as_u16() == 403) =>
        {
            StoreErrorKind::Auth
        }
        OciDistributionError::RequestError(re)
            if re.status().is_some_and(|s| s.is_server_error()) =>
        {
            StoreErrorKind::Unavailable
        }
        OciDistributionError::RequestError(re) if re.status().is_none() => {
            StoreErrorKind::Unreachable
        }
        _ => StoreErrorKind::Other,
    }
}

fn transient(e: &OciDistributionError) -> bool {
    matches!(
        classify(e),
        StoreErrorKind::Unreachable | StoreErrorKind::Unavailable
    ) || matches!(e, OciDistributionError::IoError(_))
}

/// Runs `f` until it succeeds, fails for good, or [`ATTEMPTS`] are spent,
/// backing off 0.5, 1, 2 s.
async fn retry<T, F, Fut>(mut f: F) -> oci_client::errors::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = oci_client::errors::Result<T>>,
{
    let mut delay = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < ATTEMPTS && transient(&e) => {
                tracing::debug!("attempt {attempt} failed ({e}); retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}
