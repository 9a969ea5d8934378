//! Store URLs, with the parameter names of `nix copy --to s3://…` so a user
//! can paste the URL they already have.
//!
//! `s3://bucket?endpoint=host:port&region=…&scheme=http&profile=…&compression=zstd&secret-key=PATH`,
//! `file:///path?…` or a plain directory path. Unknown parameters are errors.

use std::path::PathBuf;

use crate::nixcache::Compression;

/// Where objects go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An S3 bucket.
    S3(S3Location),
    /// A local directory, with the same layout as a bucket.
    Local(PathBuf),
}

/// An S3 bucket and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// Bucket name.
    pub bucket: String,
    /// `host[:port]`, or a full URL; `None` means AWS.
    pub endpoint: Option<String>,
    /// SigV4 region (`garage` for Garage).
    pub region: String,
    /// `http` or `https` for a bare endpoint host.
    pub scheme: String,
    /// AWS shared-config profile.
    pub profile: Option<String>,
    /// Send request checksums only when an operation requires them. The
    /// default: Garage 2.5 refuses the SDK's default checksum trailer on
    /// streamed uploads ("Invalid payload signature", measured), and older
    /// Garage versions refuse default checksums altogether.
    /// `checksum=when-supported` turns the SDK's default back on.
    pub checksums_when_required: bool,
    /// Use multipart uploads for large objects.
    pub multipart: bool,
}

impl S3Location {
    /// The endpoint URL the SDK talks to, if not AWS.
    pub fn endpoint_url(&self) -> Option<String> {
        self.endpoint.as_ref().map(|e| {
            if e.contains("://") {
                e.clone()
            } else {
                format!("{}://{e}", self.scheme)
            }
        })
    }
}

/// Binary-cache parameters carried by the same URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheParams {
    /// NAR compression (default zstd).
    pub compression: Compression,
    /// Compression level; `None` is the library default.
    pub compression_level: Option<i32>,
    /// Use several threads to compress one large NAR.
    pub parallel_compression: bool,
    /// Signing key file.
    pub secret_key: Option<PathBuf>,
}

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreUrl {
    /// The objects' home.
    pub location: Location,
    /// Cache parameters.
    pub cache: CacheParams,
}

pub use crate::errors::UrlError;

/// Nix parameters this tool knows of but does not write.
const UNSUPPORTED: &[&str] = &[
    "write-nar-listing",
    "index-debug-info",
    "narinfo-compression",
    "ls-compression",
    "log-compression",
    "secret-keys",
    "storage-class",
    "addressing-style",
];

/// Parameters that only a binary cache uses.
const CACHE_ONLY: &[&str] = &[
    "compression",
    "compression-level",
    "parallel-compression",
    "secret-key",
];

impl StoreUrl {
    /// Parses the URL of a release or image destination: a store URL
    /// without the binary-cache parameters, which would otherwise be
    /// ignored there (a `secret-key=` that signs nothing, say).
    pub fn parse_location(text: &str) -> Result<Location, UrlError> {
        if let Ok(url) = url::Url::parse(text) {
            if let Some((k, _)) = url
                .query_pairs()
                .find(|(k, _)| CACHE_ONLY.contains(&k.as_ref()))
            {
                return Err(UrlError {
                    kind: crate::errors::UrlKind::Store,
                    url: text.to_string(),
                    reason: format!(
                        "`{k}` is a binary-cache parameter, and this is a release destination: \
                         drop it (the provenance key is --signing-key; compression is the cache's)"
                    ),
                });
            }
        }
        StoreUrl::parse(text).map(|u| u.location)
    }

    /// Parses a store URL or a directory path.
    pub fn parse(text: &str) -> Result<StoreUrl, UrlError> {
        let err = |reason: String| UrlError {
            kind: crate::errors::UrlKind::Store,
            url: text.to_string(),
            reason,
        };
        let mut cache = CacheParams {
            compression: Compression::Zstd,
            compression_level: None,
            parallel_compression: true,
            secret_key: None,
        };
        if !text.contains("://") {
            if text.is_empty() {
                return Err(err("empty".into()));
            }
            return Ok(StoreUrl {
                location: Location::Local(PathBuf::from(text)),
                cache,
            });
        }
        let url = url::Url::parse(text).map_err(|e| err(e.to_string()))?;
        refuse_credentials(&url).map_err(err)?;
        let mut s3 = S3Location {
            bucket: String::new(),
            endpoint: None,
            region: "us-east-1".into(),
            scheme: "https".into(),
            profile: None,
            checksums_when_required: true,
            multipart: true,
        };
        let is_s3 = match url.scheme() {
            "s3" => true,
            "file" => false,
            other => {
                return Err(err(format!(
                    "unknown scheme `{other}`; use s3://BUCKET?… or file:///DIR"
                )))
            }
        };
        let bool_param = |k: &str, v: &str| match v {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(err(format!("`{k}` must be true or false, not `{v}`"))),
        };
        for (k, v) in url.query_pairs() {
            let (k, v) = (k.as_ref(), v.as_ref());
            match k {
                "compression" => {
                    cache.compression = Compression::parse(v)
                        .ok_or_else(|| err(format!("compression `{v}` is not supported; use zstd, xz or none")))?
                }
                "compression-level" => {
                    let level: i32 = v.parse().map_err(|_| err(format!("compression-level `{v}` is not a number")))?;
                    cache.compression_level = (level >= 0).then_some(level);
                }
                "parallel-compression" => cache.parallel_compression = bool_param(k, v)?,
                "secret-key" => cache.secret_key = Some(PathBuf::from(v)),
                "endpoint" if is_s3 => s3.endpoint = Some(v.to_string()),
                "region" | "aws-region" if is_s3 => s3.region = v.to_string(),
                "scheme" if is_s3 => match v {
                    "http" | "https" => s3.scheme = v.to_string(),
                    _ => return Err(err(format!("scheme must be http or https, not `{v}`"))),
                },
                "profile" if is_s3 => s3.profile = Some(v.to_string()),
                "multipart-upload" if is_s3 => s3.multipart = bool_param(k, v)?,
                "checksum" if is_s3 => match v {
                    "when-required" => s3.checksums_when_required = true,
                    "when-supported" => s3.checksums_when_required = false,
                    _ => return Err(err(format!("checksum must be when-required or when-supported, not `{v}`"))),
                },
                k if UNSUPPORTED.contains(&k) => {
                    return Err(err(format!("parameter `{k}` is a nix copy option that this tool does not support")))
                }
                k => {
                    return Err(err(format!(
                        "unknown parameter `{k}`; known: compression, compression-level, parallel-compression, secret-key{}",
                        if is_s3 { ", endpoint, region, scheme, profile, multipart-upload, checksum" } else { "" }
                    )))
                }
            }
        }
        let location = if is_s3 {
            s3.bucket = url.host_str().unwrap_or("").to_string();
            if s3.bucket.is_empty() {
                return Err(err("no bucket name after s3://".into()));
            }
            if !url.path().is_empty() && url.path() != "/" {
                return Err(err(
                    "a key prefix after the bucket is not supported; use a bucket of its own"
                        .into(),
                ));
            }
            Location::S3(s3)
        } else {
            let path = url
                .to_file_path()
                .map_err(|_| err("not an absolute file path".into()))?;
            Location::Local(path)
        };
        Ok(StoreUrl { location, cache })
    }
}

/// Credentials in a store URL (its userinfo, or an `endpoint=` with one)
/// are refused, not ignored: they would be printed and stored.
fn refuse_credentials(url: &url::Url) -> Result<(), String> {
    let in_endpoint = url
        .query_pairs()
        .any(|(k, v)| k == "endpoint" && v.contains('@'));
    if url.username().is_empty() && url.password().is_none() && !in_endpoint {
        return Ok(());
    }
    Err(
        "credentials do not go in the URL (they would be printed and stored): set \
         AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or profile=NAME"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_url_are_refused_not_ignored() {
        for url in [
            "s3://KEY:SECRET@bucket",
            "s3://KEY@bucket",
            "s3://bucket?endpoint=http://KEY:SECRET@127.0.0.1:3900",
        ] {
            let e = StoreUrl::parse(url).unwrap_err();
            assert!(e.reason.contains("credentials do not go in"), "{url}: {e}");
            assert!(!e.to_string().contains("KEY:SECRET"), "{e}");
        }
    }

    #[test]
    fn a_release_destination_refuses_cache_parameters() {
        let ok = StoreUrl::parse_location("s3://b?endpoint=h:1&region=garage&scheme=http").unwrap();
        assert!(matches!(ok, Location::S3(_)));
        for p in [
            "compression=zstd",
            "secret-key=/k",
            "compression-level=3",
            "parallel-compression=false",
        ] {
            let e = StoreUrl::parse_location(&format!("s3://b?endpoint=h:1&{p}")).unwrap_err();
            let k = p.split('=').next().unwrap();
            assert!(
                e.reason
                    .contains(&format!("`{k}` is a binary-cache parameter")),
                "{e}"
            );
        }
        assert!(StoreUrl::parse_location("file:///srv/x?secret-key=/k").is_err());
        assert_eq!(
            StoreUrl::parse_location("out/static").unwrap(),
            Location::Local("out/static".into())
        );
    }

    #[test]
    fn reads_nix_copy_parameters() {
        let u = StoreUrl::parse(
            "s3://cache?endpoint=127.0.0.1:3900&region=garage&scheme=http&profile=ci&compression=xz&compression-level=6&secret-key=/run/key&parallel-compression=true&multipart-upload=false",
        )
        .unwrap();
        let Location::S3(s3) = &u.location else {
            panic!()
        };
        assert_eq!(s3.bucket, "cache");
        assert_eq!(s3.endpoint_url().as_deref(), Some("http://127.0.0.1:3900"));
        assert_eq!(s3.region, "garage");
        assert_eq!(s3.profile.as_deref(), Some("ci"));
        assert!(!s3.multipart);
        assert_eq!(u.cache.compression, Compression::Xz);
        assert_eq!(u.cache.compression_level, Some(6));
        assert_eq!(u.cache.secret_key, Some(PathBuf::from("/run/key")));
    }

    #[test]
    fn defaults_are_zstd_and_aws() {
        let u = StoreUrl::parse("s3://b").unwrap();
        assert_eq!(u.cache.compression, Compression::Zstd);
        let Location::S3(s3) = u.location else {
            panic!()
        };
        assert_eq!((s3.region.as_str(), s3.endpoint_url()), ("us-east-1", None));
        assert_eq!(
            StoreUrl::parse("file:///tmp/cache?compression=none")
                .unwrap()
                .location,
            Location::Local("/tmp/cache".into())
        );
        assert_eq!(
            StoreUrl::parse("out/dir").unwrap().location,
            Location::Local("out/dir".into())
        );
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        for (url, needle) in [
            ("s3://b?endpiont=x", "unknown parameter `endpiont`"),
            ("s3://b?compression=br", "compression `br`"),
            ("s3://b?write-nar-listing=true", "does not support"),
            ("s3://b/prefix", "key prefix"),
            ("s3://?region=x", "no bucket"),
            ("gs://b", "unknown scheme"),
            ("s3://b?scheme=ftp", "scheme must be"),
            ("file:///x?endpoint=y", "unknown parameter `endpoint`"),
        ] {
            let e = StoreUrl::parse(url).unwrap_err();
            assert!(e.to_string().contains(needle), "{url}: {e}");
        }
    }
}
