//! `--images` destinations: `docker://host[:port]/repo` for a registry,
//! an S3 URL for a bucket laid out as a static registry, or a directory for
//! an OCI image layout.

use crate::objstore::{Location, StoreUrl, UrlError};

/// Where images go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageDestination {
    /// An OCI registry.
    Registry(RegistryRepo),
    /// A bucket (static registry) or a directory (OCI layout).
    Store(Location),
}

/// A repository in a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRepo {
    /// `host[:port]`.
    pub host: String,
    /// `path/name`.
    pub repository: String,
    /// Plain HTTP: `?tls=false`, or a loopback host.
    pub plain_http: bool,
}

impl RegistryRepo {
    /// `host/repo`, for messages and provenance.
    pub fn display(&self) -> String {
        format!("{}/{}", self.host, self.repository)
    }
}

/// Parses one `--images` value.
pub fn parse(text: &str) -> Result<ImageDestination, UrlError> {
    let err = |reason: String| UrlError {
        kind: crate::errors::UrlKind::Registry,
        url: text.to_string(),
        reason,
    };
    let Some(rest) = text.strip_prefix("docker://") else {
        return StoreUrl::parse_location(text).map(ImageDestination::Store);
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (host, repository) = rest
        .split_once('/')
        .ok_or_else(|| err("give a repository: docker://HOST[:PORT]/NAME".into()))?;
    if host.is_empty() || repository.is_empty() {
        return Err(err("give a repository: docker://HOST[:PORT]/NAME".into()));
    }
    if host.contains('@') {
        return Err(err(
            "credentials do not go in the URL (they would be printed): use $DOCKER_AUTH, or \
             `docker login HOST` for ~/.docker/config.json"
                .into(),
        ));
    }
    if repository.contains('@')
        || repository
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
    {
        return Err(err(
            "leave the tag out: tags come from the release (and --image-tag)".into(),
        ));
    }
    let valid = repository.split('/').all(|c| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    });
    if !valid {
        return Err(err(format!(
            "`{repository}` is not a repository name: lowercase letters, digits, `.`, `_`, `-` and `/`"
        )));
    }
    let bare = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    let mut plain_http = bare == "localhost" || bare.starts_with("127.") || bare == "[::1]";
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("tls", "false")) => plain_http = true,
            Some(("tls", "true")) => plain_http = false,
            _ => {
                return Err(err(format!(
                    "unknown parameter `{pair}`; only tls=true|false"
                )))
            }
        }
    }
    Ok(ImageDestination::Registry(RegistryRepo {
        host: host.to_string(),
        repository: repository.to_string(),
        plain_http,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_registry_url_are_refused() {
        let e = parse("docker://u:p@reg:5000/x").err().unwrap();
        assert!(e.reason.contains("credentials do not go in"), "{e}");
        assert!(!e.to_string().contains("u:p"), "{e}");
    }

    #[test]
    fn registry_urls() {
        let ImageDestination::Registry(r) = parse("docker://127.0.0.1:5000/team/hello").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (r.host.as_str(), r.repository.as_str(), r.plain_http),
            ("127.0.0.1:5000", "team/hello", true)
        );
        let ImageDestination::Registry(r) = parse("docker://ghcr.io/org/x").unwrap() else {
            panic!()
        };
        assert!(!r.plain_http);
        let ImageDestination::Registry(r) = parse("docker://reg.lan:5000/x?tls=false").unwrap()
        else {
            panic!()
        };
        assert!(r.plain_http);
        for bad in [
            "docker://host",
            "docker://host/",
            "docker://host/x:v1",
            "docker://host/x@sha256:00",
            "docker://host/Upper",
            "docker://host/x?insecure=1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stores_and_directories() {
        assert!(matches!(
            parse("s3://b?endpoint=http://x").unwrap(),
            ImageDestination::Store(Location::S3(_))
        ));
        assert!(matches!(
            parse("/tmp/layout").unwrap(),
            ImageDestination::Store(Location::Local(_))
        ));
        assert!(parse("ftp://x").is_err());
    }
}
