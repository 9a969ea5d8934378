//! `init`: the files a cargo package needs to be released with this tool:
//! the metadata table (every key, commented at its default), the Nix
//! templates, a flake (or the lines to add to one), and a CI pipeline.
//! Nothing that exists is overwritten without `--force`.

pub mod binstall;

use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::errors::{Error, Result};

/// The CI systems `init` writes a pipeline for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ci {
    /// `.drone.yml`.
    Drone,
    /// `.woodpecker/release.yaml`.
    Woodpecker,
    /// `.github/workflows/release.yml`.
    Github,
    /// `.gitlab-ci.yml`.
    Gitlab,
}

impl Ci {
    /// The pipeline's path and its template.
    fn file(self) -> (&'static str, &'static str) {
        match self {
            Ci::Drone => (
                ".drone.yml",
                include_str!("../../examples/drone/.drone.yml"),
            ),
            Ci::Woodpecker => (
                ".woodpecker/release.yaml",
                include_str!("../../examples/woodpecker/release.yaml"),
            ),
            Ci::Github => (".github/workflows/release.yml", include_str!("github.yml")),
            Ci::Gitlab => (".gitlab-ci.yml", include_str!("gitlab.yml")),
        }
    }
}

/// The metadata table, every key commented at its default.
pub const METADATA: &str = include_str!("metadata.toml");
const FLAKE: &str = include_str!("flake.nix");
const CROSS: &str = include_str!("../../nix/cross.nix");
const TOOLCHAIN: &str = include_str!("../../nix/toolchain.nix");

/// Options of `init`.
#[derive(Debug, Clone, Default)]
pub struct InitOpts {
    /// The pipeline to write.
    pub ci: Option<Ci>,
    /// Overwrite files that exist.
    pub force: bool,
    /// Add `[package.metadata.binstall]`.
    pub binstall: bool,
    /// The minisign public key file for binstall's `signing` table.
    pub minisign_pub: Option<std::path::PathBuf>,
}

/// One file `init` writes.
struct Planned {
    path: PathBuf,
    text: String,
}

/// Fills the templates' placeholders; the examples' `hello` is the name.
fn fill(template: &str, name: &str, version: &str) -> String {
    template
        .replace("@NAME@", name)
        .replace("@VERSION@", version)
        .replace("hello", name)
}

/// Runs `init`.
pub fn run_init(ctx: &Context, opts: &InitOpts) -> Result<()> {
    let dir = &ctx.project.dir;
    let name = &ctx.project.config.name;
    let version = &ctx.project.config.cargo.version;
    let mut files = vec![
        Planned {
            path: dir.join("nix/cross.nix"),
            text: CROSS.to_string(),
        },
        Planned {
            path: dir.join("nix/toolchain.nix"),
            text: TOOLCHAIN.to_string(),
        },
    ];
    let flake = dir.join("flake.nix");
    let flake_exists = flake.exists();
    if !flake_exists || opts.force {
        files.push(Planned {
            path: flake,
            text: fill(FLAKE, name, version),
        });
    }
    if let Some(ci) = opts.ci {
        let (path, template) = ci.file();
        files.push(Planned {
            path: dir.join(path),
            text: fill(template, name, version),
        });
    }
    let manifest = dir.join("Cargo.toml");
    let cargo_toml =
        std::fs::read_to_string(&manifest).map_err(Error::io("cannot read", &manifest))?;
    let has_table = cargo_toml.contains("[package.metadata.release-dist]");
    // `init --binstall` in a package whose release is set up already adds
    // the binstall table alone: its templates are left as they are.
    if opts.binstall && has_table && !opts.force {
        files.clear();
    }
    if !opts.force {
        let existing: Vec<String> = files
            .iter()
            .filter(|f| f.path.exists())
            .map(|f| f.path.display().to_string())
            .collect();
        if !existing.is_empty() {
            return Err(Error::usage(
                "init",
                "--force",
                format!(
                    "{} already exist(s); nothing was written (pass --force to overwrite)",
                    existing.join(", ")
                ),
            ));
        }
    }
    for f in &files {
        write(&f.path, &f.text)?;
    }
    let binstall = binstall_table(ctx, opts, &cargo_toml)?;
    if !has_table || binstall.is_some() {
        let mut text = cargo_toml.clone();
        if !has_table {
            text.push_str(&METADATA.replace("@NAME@", name));
        }
        if let Some(table) = &binstall {
            text.push_str(table);
        }
        write(&manifest, &text)?;
    }
    let mut human = String::new();
    for f in &files {
        human.push_str(&format!("wrote {}\n", relative(dir, &f.path)));
    }
    human.push_str(&match has_table {
        true => "Cargo.toml already has [package.metadata.release-dist]: left as it is\n".to_string(),
        false => "added [package.metadata.release-dist] to Cargo.toml (every key, commented at its default)\n".to_string(),
    });
    if flake_exists && !opts.force {
        human.push_str(&format!(
            "flake.nix exists: add the inputs nixpkgs (github:NixOS/nixpkgs/nixos-25.11) and rust-overlay (github:oxalica/rust-overlay, following nixpkgs), and these outputs:\n  packages = (import ./nix/cross.nix {{ inherit nixpkgs rust-overlay; }}).release {{ name = \"{name}\"; version = \"{version}\"; src = self; }};\n  toolchain = (import ./nix/cross.nix {{ inherit nixpkgs rust-overlay; }}).toolchain;\n"
        ));
    }
    human.push_str(&next_steps(opts.ci));
    ctx.print_result(&human, &serde_json::json!({"written": files.iter().map(|f| relative(dir, &f.path)).collect::<Vec<_>>(), "metadataAdded": !has_table}));
    Ok(())
}

/// `[package.metadata.binstall]` to add (`init --binstall`): `None` when
/// not asked for or there already; refused without a `public-url`.
fn binstall_table(ctx: &Context, opts: &InitOpts, cargo_toml: &str) -> Result<Option<String>> {
    if !opts.binstall || cargo_toml.contains("[package.metadata.binstall]") {
        return Ok(None);
    }
    let config = &ctx.project.config;
    let Some(url) = &config.public_url else {
        return Err(Error::Keys(vec![crate::problems::KeyProblem::missing(
            "package.metadata.release-dist.public-url",
            "is needed for `init --binstall`: the URL the releases are served from, which cargo-binstall downloads from",
        )]));
    };
    let pubkey = match &opts.minisign_pub {
        Some(p) => {
            let text = crate::keys::read_key_file(p)?;
            let key = text
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with("RW"))
                .ok_or_else(|| Error::SignatureKey {
                    kind: "public",
                    path: p.clone(),
                    reason: "no minisign public key (a line starting RW) in it".into(),
                })?;
            Some(key.to_string())
        }
        None => None,
    };
    let at = (url.as_str(), config.static_layout);
    Ok(Some(binstall::metadata(
        &config.name,
        at,
        pubkey.as_deref(),
    )))
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(Error::io("cannot create", parent))?;
    }
    std::fs::write(path, text).map_err(Error::io("cannot write", path))
}

fn relative(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir).unwrap_or(path).display().to_string()
}

/// What to do next: the keys to make and the secrets the pipeline reads.
fn next_steps(ci: Option<Ci>) -> String {
    let mut out = String::from(
        "next:\n  1. make the keys (keep the .sec files secret; commit the .pub ones):\n     nix-store --generate-binary-cache-key release-1 release.sec release.pub   # signs the provenance\n     nix-store --generate-binary-cache-key cache-1 cache.sec cache.pub         # signs the binary cache\n     gpg --quick-gen-key 'NAME <EMAIL>' ed25519 sign never                     # only for packages\n  2. `cargo release-dist build`, then `cargo release-dist publish --signing-key release.sec` to try it locally\n",
    );
    let secrets = match ci {
        None => return out,
        Some(Ci::Drone) => "drone secret add --repository OWNER/REPO --name NAME --data @FILE, for s3_access_key_id, s3_secret_access_key, release_signing_key (release.sec's text), cache_signing_key (cache.sec's text), docker_auth (a docker config.json)",
        Some(Ci::Woodpecker) => "woodpecker-cli secret add, for s3_access_key_id, s3_secret_access_key, release_signing_key, cache_signing_key, docker_auth",
        Some(Ci::Github) => "repository secrets S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, RELEASE_SIGNING_KEY, CACHE_SIGNING_KEY, DOCKER_AUTH",
        Some(Ci::Gitlab) => "protected, masked CI/CD variables S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, RELEASE_SIGNING_KEY, CACHE_SIGNING_KEY, DOCKER_AUTH",
    };
    out.push_str(&format!("  3. the pipeline's secrets: {secrets}\n  4. replace the example endpoints (garage.example.org, registry.example.org, docker.io/example) with yours\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metadata_template_names_every_configuration_key() {
        for key in crate::config::KEYS {
            assert!(
                METADATA.contains(&format!("# {key} = ")),
                "the init template lacks `{key}`"
            );
        }
    }
}
