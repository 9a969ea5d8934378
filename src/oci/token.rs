//! What a registry's bearer token grants, read from its JWT claims.
//!
//! Pure. Docker Hub, docker-registry's token servers and Forgejo answer the
//! token request with a JWT whose `access` claim lists what it grants
//! (distribution's "Token Authentication Implementation"). A token server
//! grants what the credentials allow, which may be less than was asked:
//! reading that claim lets a push that could not succeed be refused before
//! anything is pushed. The signature is the registry's to check; an opaque
//! token (GHCR's) says nothing here, and the registry decides.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

#[derive(Deserialize)]
struct Claims {
    access: Option<Vec<Access>>,
}

#[derive(Deserialize)]
struct Access {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    #[serde(default)]
    actions: Vec<String>,
}

/// The actions `token` grants on `repository`, or `None` when the token is
/// not a JWT with an `access` claim.
pub fn granted_actions(token: &str, repository: &str) -> Option<Vec<String>> {
    let mut parts = token.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    let mut actions: Vec<String> = claims
        .access?
        .into_iter()
        .filter(|a| a.kind == "repository" && a.name == repository)
        .flat_map(|a| a.actions)
        .collect();
    actions.sort();
    actions.dedup();
    Some(actions)
}

/// Whether `actions` include `wanted` (or `*`).
pub fn allows(actions: &[String], wanted: &str) -> bool {
    actions.iter().any(|a| a == wanted || a == "*")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The claim set of distribution's docs/spec/auth/jwt.md example.
    const CLAIMS: &str = r#"{"iss":"auth.docker.com","sub":"jlhawn","aud":"registry.docker.com","exp":1415387315,"nbf":1415387015,"iat":1415387015,"jti":"tYJCO1c6cnyy7kAn0c7rKPgbV1H1bFws","access":[{"type":"repository","name":"samalba/my-app","actions":["pull","push"]}]}"#;

    fn jwt(claims: &str) -> String {
        let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"ES256","kid":"PYYO:TEWU"}"#);
        format!("{header}.{}.c2ln", URL_SAFE_NO_PAD.encode(claims))
    }

    #[test]
    fn reads_the_access_claim_for_the_repository() {
        let t = jwt(CLAIMS);
        assert_eq!(
            granted_actions(&t, "samalba/my-app").unwrap(),
            ["pull", "push"]
        );
        assert!(allows(
            &granted_actions(&t, "samalba/my-app").unwrap(),
            "push"
        ));
        assert_eq!(
            granted_actions(&t, "other/app").unwrap(),
            Vec::<String>::new()
        );
        let pull_only = jwt(&CLAIMS.replace(r#"["pull","push"]"#, r#"["pull"]"#));
        assert!(!allows(
            &granted_actions(&pull_only, "samalba/my-app").unwrap(),
            "push"
        ));
        let all = jwt(&CLAIMS.replace(r#"["pull","push"]"#, r#"["*"]"#));
        assert!(allows(
            &granted_actions(&all, "samalba/my-app").unwrap(),
            "push"
        ));
    }

    #[test]
    fn an_opaque_token_says_nothing() {
        assert_eq!(granted_actions("djE6Z2hjcl90b2tlbg==", "x"), None);
        assert_eq!(granted_actions(&jwt(r#"{"sub":"x"}"#), "x"), None);
        assert_eq!(granted_actions("a.!!!.c", "x"), None);
    }
}
