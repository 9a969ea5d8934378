//! Remote builders: an sshd on loopback (Debian's openssh-server, a test key,
//! a test port) serving a Nix store of its own, used through nix's own
//! `--builders` and `--max-jobs 0`, passed through `build -- …`.

use std::path::Path;

use crate::util::builder::{nonce, Builder};
use crate::util::{build_json, Fixture};

/// The example with a fresh source, so that nothing of it is in any store yet.
fn fresh_fixture(nonce: &str) -> Fixture {
    let f = Fixture::example("hello");
    f.edit("src/main.rs", |t| format!("{t}// fresh outputs: {nonce}\n"));
    f.commit("fresh outputs");
    f
}

fn in_store(root: &Path, store_path: &str) -> bool {
    root.join(store_path.trim_start_matches('/')).exists()
}

#[test]
fn every_target_builds_on_a_remote_builder_and_a_builder_that_is_down_is_named() {
    let b = Builder::start();
    let f = fresh_fixture(&nonce());
    let builders = b.spec();
    let run = f
        .run_with(
            &["build", "--", "--max-jobs", "0", "--builders", &builders],
            |c| {
                c.env("NIX_SSHOPTS", b.sshopts());
            },
        )
        .ok();
    let err = run.stderr();
    for target in ["linux/amd64", "linux/386", "linux/arm64", "linux/arm/v7"] {
        assert!(
            err.contains(&format!("building {target} static on ssh://root@127.0.0.1")),
            "{target} was not built remotely:\n{err}"
        );
    }
    let built = build_json(&f);
    assert_eq!(built["complete"], true);
    let artifacts = built["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 8, "4 binaries and 4 images");
    for a in artifacts {
        let path = a["storePath"].as_str().unwrap();
        assert!(
            in_store(&b.store(), path),
            "{path} is not in the builder's store"
        );
        assert!(f.dist().join(a["path"].as_str().unwrap()).exists());
    }

    // A builder that is down: the build fails, naming the targets.
    b.stop();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let g = fresh_fixture(&nonce());
    g.run_with(
        &[
            "build",
            "-t",
            "linux/amd64",
            "-t",
            "linux/arm64",
            "--",
            "--max-jobs",
            "0",
            "--builders",
            &builders,
        ],
        |c| {
            c.env("NIX_SSHOPTS", b.sshopts());
        },
    )
    .fails_with(
        1,
        &[
            "linux/amd64 static",
            "linux/arm64 static",
            "did not build",
            "cannot build on 'ssh://root@127.0.0.1",
            "Connection refused",
        ],
    );
}
