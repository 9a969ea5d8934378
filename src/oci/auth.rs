//! Registry credentials: `$DOCKER_AUTH` (a whole docker `config.json`, as
//! Garage's CI passes it), else `~/.docker/config.json` (or
//! `$DOCKER_CONFIG/config.json`) with its credential helpers, else podman's
//! `auth.json`, else anonymous. Credentials are never printed: only where
//! they came from.

use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;

/// The environment variable holding a whole docker `config.json`.
pub const DOCKER_AUTH_ENV: &str = "DOCKER_AUTH";

/// Credentials for one registry, and where they came from.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// For oci-client (its Debug redacts the secret).
    pub auth: RegistryAuth,
    /// `$DOCKER_AUTH`, `docker config`, `podman auth.json` or `anonymous`.
    pub origin: &'static str,
    /// The secret itself, only so that error messages can be scrubbed of it.
    pub secret: Option<String>,
}

/// Why no credentials could be used.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {reason}")]
pub struct AuthError {
    /// Where we looked.
    pub origin: &'static str,
    /// What is wrong (never the secret).
    pub reason: String,
}

fn describe(e: &CredentialRetrievalError) -> String {
    match e {
        // The helper's own output may hold secrets: name the helper only.
        CredentialRetrievalError::HelperFailure { helper, .. } => {
            format!("the credential helper `docker-credential-{helper}` failed")
        }
        other => other.to_string(),
    }
}

fn to_auth(
    c: Result<DockerCredential, CredentialRetrievalError>,
    origin: &'static str,
) -> Result<Option<Credentials>, AuthError> {
    match c {
        Ok(DockerCredential::UsernamePassword(user, pass)) => Ok(Some(Credentials {
            auth: RegistryAuth::Basic(user, pass.clone()),
            origin,
            secret: Some(pass),
        })),
        Ok(DockerCredential::IdentityToken(_)) => Err(AuthError {
            origin,
            reason: "holds an identity token, which this tool cannot exchange; log in with a username and password or token instead".into(),
        }),
        Err(CredentialRetrievalError::NoCredentialConfigured)
        | Err(CredentialRetrievalError::ConfigNotFound)
        | Err(CredentialRetrievalError::ConfigReadError) => Ok(None),
        Err(e) => Err(AuthError {
            origin,
            reason: describe(&e),
        }),
    }
}

/// Finds the credentials for `host` (`host[:port]`).
pub fn resolve(host: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Credentials, AuthError> {
    // Docker Hub's credentials live under its v1 URL.
    let server = if host == "docker.io" || host == "registry-1.docker.io" {
        "https://index.docker.io/v1/"
    } else {
        host
    };
    if let Some(text) = env(DOCKER_AUTH_ENV).filter(|t| !t.trim().is_empty()) {
        if serde_json::from_str::<serde_json::Value>(&text).is_err() {
            return Err(AuthError {
                origin: "$DOCKER_AUTH",
                reason: "is not a docker config.json (JSON with \"auths\")".into(),
            });
        }
        let c = docker_credential::get_credential_from_reader(text.as_bytes(), server);
        if let Some(found) = to_auth(c, "$DOCKER_AUTH")? {
            return Ok(found);
        }
    }
    if let Some(found) = to_auth(
        docker_credential::get_credential(server),
        "docker config.json",
    )? {
        return Ok(found);
    }
    if let Some(found) = to_auth(
        docker_credential::get_podman_credential(server),
        "podman auth.json",
    )? {
        return Ok(found);
    }
    Ok(Credentials {
        auth: RegistryAuth::Anonymous,
        origin: "anonymous",
        secret: None,
    })
}

/// Removes `secret` (and its base64 forms) from a message.
pub fn scrub(message: &str, secret: Option<&str>) -> String {
    let Some(s) = secret.filter(|s| !s.is_empty()) else {
        return message.to_string();
    };
    message.replace(s, "[redacted]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn env_with(auth: &str) -> impl Fn(&str) -> Option<String> + '_ {
        move |k| (k == DOCKER_AUTH_ENV).then(|| auth.to_string())
    }

    #[test]
    fn docker_auth_env_gives_basic_credentials_for_the_host() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("ci:s3cr3t");
        let cfg = format!("{{\"auths\":{{\"reg.example:5000\":{{\"auth\":\"{b64}\"}}}}}}");
        let c = resolve("reg.example:5000", &env_with(&cfg)).unwrap();
        assert_eq!(c.origin, "$DOCKER_AUTH");
        assert!(matches!(&c.auth, RegistryAuth::Basic(u, p) if u == "ci" && p == "s3cr3t"));
        assert!(!format!("{:?}", c.auth).contains("s3cr3t"));
        assert_eq!(
            scrub("bad s3cr3t here", c.secret.as_deref()),
            "bad [redacted] here"
        );
    }

    #[test]
    fn docker_hubs_v1_key_applies_to_docker_io_and_registry_1() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("hubuser:hubtoken");
        let cfg =
            format!("{{\"auths\":{{\"https://index.docker.io/v1/\":{{\"auth\":\"{b64}\"}}}}}}");
        for host in ["docker.io", "registry-1.docker.io"] {
            let c = resolve(host, &env_with(&cfg)).unwrap();
            assert!(
                matches!(&c.auth, RegistryAuth::Basic(u, p) if u == "hubuser" && p == "hubtoken"),
                "{host}"
            );
        }
        // Another registry does not get Docker Hub's credentials.
        let other = resolve("ghcr.io", &env_with(&cfg)).unwrap();
        assert_ne!(other.origin, "$DOCKER_AUTH");
    }

    #[test]
    fn malformed_docker_auth_is_an_error_without_the_text() {
        let e = resolve("x", &env_with("not json s3cr3t"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("$DOCKER_AUTH"), "{e}");
        assert!(!e.contains("s3cr3t"));
    }

    #[test]
    fn another_hosts_credentials_are_not_used() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("ci:pw");
        let cfg = format!("{{\"auths\":{{\"other.example\":{{\"auth\":\"{b64}\"}}}}}}");
        // HOME points nowhere, so the fallbacks find nothing.
        let c = resolve("reg.example", &env_with(&cfg)).unwrap();
        assert!(matches!(
            c.auth,
            RegistryAuth::Anonymous | RegistryAuth::Basic(..)
        ));
        if let RegistryAuth::Basic(u, _) = &c.auth {
            assert_ne!(c.origin, "$DOCKER_AUTH", "{u}");
        }
    }
}
