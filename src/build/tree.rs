//! The platform tree under `target/release-dist`: where each link goes, and
//! how to print the tree.

use std::path::{Path, PathBuf};

use crate::platform::Platform;

/// `static/<os>/<arch>[/<variant>]`, relative to the release-dist directory.
pub fn static_dir(platform: Platform) -> PathBuf {
    Path::new("static").join(platform.tree_dir())
}

/// `docker/<os>.<arch>.<ext>`, relative to the release-dist directory.
pub fn docker_link(platform: Platform, ext: &str) -> PathBuf {
    Path::new("docker").join(format!("{}.{ext}", platform.docker_stem()))
}

/// Draws relative paths as a tree, each leaf followed by its note.
pub fn render_tree(root: &str, leaves: &[(String, String)]) -> String {
    let mut sorted: Vec<_> = leaves.to_vec();
    sorted.sort();
    let mut out = format!("{root}\n");
    let mut printed: Vec<String> = Vec::new();
    for (i, (path, note)) in sorted.iter().enumerate() {
        let parts: Vec<&str> = path.split('/').collect();
        for depth in 0..parts.len() {
            let prefix = parts[..=depth].join("/");
            if depth + 1 < parts.len() && printed.contains(&prefix) {
                continue;
            }
            printed.push(prefix.clone());
            let later_sibling = |d: usize| {
                sorted[i + 1..].iter().any(|(p, _)| {
                    let q: Vec<&str> = p.split('/').collect();
                    q.len() > d && q[..d] == parts[..d] && q[d] != parts[d]
                })
            };
            let last_here = !later_sibling(depth);
            let mut line = String::new();
            for d in 0..depth {
                line.push_str(if later_sibling(d) { "│   " } else { "    " });
            }
            line.push_str(if last_here {
                "└── "
            } else {
                "├── "
            });
            line.push_str(parts[depth]);
            if depth + 1 == parts.len() && !note.is_empty() {
                line.push_str(&format!(" -> {note}"));
            }
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_each_target() {
        let arm: Platform = "linux/arm/v6".parse().unwrap();
        assert_eq!(static_dir(arm), Path::new("static/linux/arm/v6"));
        assert_eq!(
            docker_link(arm, "tar.gz"),
            Path::new("docker/linux.arm.tar.gz")
        );
    }

    #[test]
    fn draws_a_tree() {
        let leaves = vec![
            (
                "static/linux/amd64/hello".to_string(),
                "/nix/store/a".to_string(),
            ),
            (
                "docker/linux.amd64.tar.gz".to_string(),
                "/nix/store/b".to_string(),
            ),
            (
                "static/linux/arm/v6/hello".to_string(),
                "/nix/store/c".to_string(),
            ),
        ];
        let tree = render_tree("target/release-dist", &leaves);
        assert_eq!(
            tree,
            "target/release-dist\n\
             ├── docker\n\
             │   └── linux.amd64.tar.gz -> /nix/store/b\n\
             └── static\n\
             \u{20}   └── linux\n\
             \u{20}       ├── amd64\n\
             \u{20}       │   └── hello -> /nix/store/a\n\
             \u{20}       └── arm\n\
             \u{20}           └── v6\n\
             \u{20}               └── hello -> /nix/store/c\n"
        );
    }
}
