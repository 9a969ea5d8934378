//! `verify --image`: finds the release's attestation among what refers to
//! the image index (the referrers API, else the referrers fallback tag) and
//! checks it: the manifest and envelope bytes against their digests, the
//! subject, the signature, and that the index and every platform manifest
//! are subjects of the signed statement.

use std::collections::BTreeSet;

use super::images::ImageRepo;
use crate::digest::Digest;
use crate::errors::{Error, Result};
use crate::nixcache::PublicKey;
use crate::oci::document::digest_of;
use crate::oci::fetch::Source;
use crate::oci::reach::refs_of;
use crate::oci::referrers::{predicate_of, read_attestation, DSSE_ARTIFACT_TYPE};

/// One image destination to check: its URL (without a tag), the image's
/// name there (for a bucket or layout) and the tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageToVerify {
    /// As `publish --images` takes it.
    pub url: String,
    /// The image's name in a bucket or layout.
    pub name: String,
    /// The tag.
    pub tag: String,
}

impl ImageToVerify {
    /// Reads `--image`: `docker://HOST/REPO[:TAG][?tls=…]`, or a bucket or
    /// directory; `release` (`NAME:TAG`) gives what the URL does not.
    pub fn parse(image: &str, release: Option<(&str, &str)>) -> Result<ImageToVerify> {
        let missing = |what: &str| Error::usage("verify", "--image", format!("{image}: {what}"));
        let Some(rest) = image.strip_prefix("docker://") else {
            let (name, tag) = release.ok_or_else(|| {
                missing("a bucket or directory needs --release NAME:TAG to name the image")
            })?;
            return Ok(ImageToVerify {
                url: image.to_string(),
                name: name.into(),
                tag: tag.into(),
            });
        };
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, format!("?{q}")),
            None => (rest, String::new()),
        };
        let (repo, tag) = match path.rsplit_once('/') {
            Some((head, last)) if last.contains(':') => {
                let (n, t) = last.split_once(':').unwrap_or((last, ""));
                (format!("{head}/{n}"), Some(t.to_string()))
            }
            _ => (path.to_string(), None),
        };
        let tag = match (tag, release) {
            (Some(t), _) => t,
            (None, Some((_, t))) => t.to_string(),
            (None, None) => return Err(missing("give the tag: docker://HOST/REPO:TAG")),
        };
        crate::release::validate_tag(&tag)?;
        let name = repo.rsplit('/').next().unwrap_or(&repo).to_string();
        Ok(ImageToVerify {
            url: format!("docker://{repo}{query}"),
            name,
            tag,
        })
    }

    /// `URL:TAG`, for messages.
    pub fn describe(&self) -> String {
        match self.url.split_once('?') {
            Some((u, q)) if self.url.starts_with("docker://") => format!("{u}:{}?{q}", self.tag),
            _ if self.url.starts_with("docker://") => format!("{}:{}", self.url, self.tag),
            _ => format!("{} ({}:{})", self.url, self.name, self.tag),
        }
    }
}

/// What was checked at one image destination.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageVerified {
    /// The destination and tag.
    pub image: String,
    /// The index the tag points at.
    pub index: String,
    /// The platform manifests it lists.
    pub manifests: usize,
    /// The attestations checked.
    pub attestations: Vec<String>,
    /// What its reproducibility statement (a second referrer) says, when
    /// it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reproduced: Option<String>,
}

/// Checks one image: the problems found (each names the object), and what
/// was checked.
pub async fn verify_image(
    image: &ImageToVerify,
    (key, reproduced_key): (Option<&PublicKey>, Option<&PublicKey>),
) -> Result<(Vec<String>, ImageVerified)> {
    let target = ImageRepo::open_to_read(&image.url).await?;
    let source = target.source(&image.name);
    let Some(index) = source.document(&image.tag).await? else {
        let tags = match &target {
            ImageRepo::Registry(r) => r.tags().await?,
            ImageRepo::Store(s, shape) => crate::oci::remove::store_tags(s, *shape, &image.name)
                .await?
                .into_iter()
                .map(|(t, _)| t)
                .collect(),
        };
        return Err(Error::NoSuchRelease {
            release: format!("{}:{}", image.name, image.tag),
            store: target.describe(),
            tags: crate::oci::scheme::release_tags(tags),
        });
    };
    let digest = digest_of(&index);
    let manifests = refs_of(&index).manifests;
    let mut done = ImageVerified {
        image: image.describe(),
        index: digest.to_string(),
        manifests: manifests.len(),
        attestations: Vec::new(),
        reproduced: None,
    };
    let mut problems = Vec::new();
    let (reproduced, listed): (Vec<_>, Vec<_>) = source
        .referrers(&digest)
        .await?
        .into_iter()
        .filter(|d| d.artifact_type.as_deref() == Some(DSSE_ARTIFACT_TYPE))
        .partition(|d| predicate_of(d) == crate::provenance::reproduced::REPRODUCED_V1);
    if listed.is_empty() {
        problems.push(format!(
            "{}: no attestation refers to the index {digest} (the referrers API and the tag {} list none)",
            image.describe(),
            crate::oci::referrers::fallback_tag(&digest)
        ));
    }
    let tmp = tempfile::tempdir().map_err(Error::io("cannot create", std::env::temp_dir()))?;
    for d in reproduced {
        let checked = match envelope_of(&source, &d.digest, &digest, tmp.path()).await? {
            Ok(envelope) => crate::provenance::reproduced::read(&envelope, reproduced_key.or(key)),
            Err(why) => Err(why),
        };
        match checked {
            Ok(st) => done.reproduced = Some(crate::provenance::reproduced::summary(&st)),
            Err(why) => problems.push(format!(
                "{}: reproducibility statement {}: {why}",
                image.describe(),
                d.digest
            )),
        }
    }
    for d in listed {
        let wanted = Wanted {
            index: &digest,
            manifests: &manifests,
        };
        match check_attestation(&source, &d.digest, &wanted, key, tmp.path()).await? {
            Ok(()) => done.attestations.push(d.digest.to_string()),
            Err(why) => problems.push(format!(
                "{}: attestation {}: {why}",
                image.describe(),
                d.digest
            )),
        }
    }
    Ok((problems, done))
}

/// The digests an attestation must name.
struct Wanted<'a> {
    index: &'a Digest,
    manifests: &'a [Digest],
}

/// One attestation: `Err` says what is wrong with it.
async fn check_attestation(
    source: &Source<'_>,
    digest: &Digest,
    wanted: &Wanted<'_>,
    key: Option<&PublicKey>,
    tmp: &std::path::Path,
) -> Result<std::result::Result<(), String>> {
    let envelope = match envelope_of(source, digest, wanted.index, tmp).await? {
        Ok(e) => e,
        Err(why) => return Ok(Err(why)),
    };
    let statement = match crate::provenance::read_statement(&envelope, key) {
        Ok(s) => s,
        Err(e) => return Ok(Err(format!("its envelope: {e}"))),
    };
    let named: BTreeSet<String> = statement
        .subject
        .iter()
        .map(|s| format!("sha256:{}", s.digest.sha256))
        .collect();
    for (what, d) in std::iter::once(("the index", wanted.index)).chain(
        wanted
            .manifests
            .iter()
            .map(|m| ("the platform manifest", m)),
    ) {
        if !named.contains(d.as_str()) {
            return Ok(Err(format!(
                "the signed statement does not name {what} {d} as a subject"
            )));
        }
    }
    Ok(Ok(()))
}

/// An attestation's envelope: its manifest read, its subject the index,
/// its envelope layer within the cap and its digest. `Err` says what is
/// wrong with it.
async fn envelope_of(
    source: &Source<'_>,
    digest: &Digest,
    index: &Digest,
    tmp: &std::path::Path,
) -> Result<std::result::Result<Vec<u8>, String>> {
    let bytes = match source.document(digest).await {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(Err("listed, but its manifest is missing".into())),
        Err(Error::Untrusted { message, .. }) => {
            return Ok(Err(format!("altered: its manifest: {message}")))
        }
        Err(e) => return Err(e),
    };
    let read = match read_attestation(&bytes) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    if read.subject != *index {
        return Ok(Err(format!(
            "its subject is {}, not the index",
            read.subject
        )));
    }
    let path = tmp.join(read.layer.hex());
    if read.layer.size > crate::bounds::DOCUMENT_CAP {
        return Ok(Err(format!(
            "its envelope is {} bytes, over the cap of {}",
            read.layer.size,
            crate::bounds::human(crate::bounds::DOCUMENT_CAP)
        )));
    }
    // The blob is checked against its digest and size as it streams.
    if let Err(e) = source.blob(&read.layer, &path).await {
        return match e {
            Error::Untrusted { message, .. } => {
                Ok(Err(format!("altered: its envelope: {message}")))
            }
            e => Err(e),
        };
    }
    let envelope = std::fs::read(&path).map_err(Error::io("cannot read", &path))?;
    Ok(Ok(envelope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        let i = ImageToVerify::parse("docker://127.0.0.1:5000/team/hello:v1.0.0", None).unwrap();
        assert_eq!(
            (i.url.as_str(), i.name.as_str(), i.tag.as_str()),
            ("docker://127.0.0.1:5000/team/hello", "hello", "v1.0.0")
        );
        assert_eq!(i.describe(), "docker://127.0.0.1:5000/team/hello:v1.0.0");
        let i = ImageToVerify::parse("docker://reg:5000/hello?tls=false", Some(("hello", "v2")))
            .unwrap();
        assert_eq!(
            (i.url.as_str(), i.tag.as_str()),
            ("docker://reg:5000/hello?tls=false", "v2")
        );
        let i = ImageToVerify::parse("/srv/layout", Some(("hello", "v2"))).unwrap();
        assert_eq!((i.url.as_str(), i.name.as_str()), ("/srv/layout", "hello"));
        assert!(ImageToVerify::parse("/srv/layout", None).is_err());
        assert!(ImageToVerify::parse("docker://reg:5000/hello", None).is_err());
    }
}
