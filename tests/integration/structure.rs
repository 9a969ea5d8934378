//! The shape of the code, checked: no function in `src/` longer than about
//! a hundred lines ([`MAX_FN_LINES`], as rustfmt lays them out), and no import circle between the top-level modules
//! (`crate::a` using `crate::b` while `crate::b` uses `crate::a`, directly or
//! around a longer loop).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::util::repo_root;

/// The longest a function may be, its signature and closing brace included:
/// "about a hundred", with rustfmt's one-argument-a-line layouts counted.
const MAX_FN_LINES: usize = 110;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// (name, first line, length) of every function in `text`: from its `fn`
/// line to the first line after it that closes at the same indentation.
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let rest = ["pub(crate) ", "pub(super) ", "pub "]
            .iter()
            .find_map(|p| trimmed.strip_prefix(p))
            .unwrap_or(trimmed);
        let rest = rest.strip_prefix("async ").unwrap_or(rest);
        let Some(sig) = rest.strip_prefix("fn ") else {
            continue;
        };
        let name: String = sig
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let close = format!("{}}}", " ".repeat(indent));
        if let Some(end) = lines[i..].iter().position(|l| *l == close) {
            found.push((name, i + 1, end + 1));
        }
    }
    found
}

#[test]
fn no_function_is_longer_than_a_screenful_or_two() {
    let mut files = Vec::new();
    rust_files(&repo_root().join("src"), &mut files);
    let mut long = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (name, line, len) in functions(&text) {
            if len > MAX_FN_LINES {
                let rel = f.strip_prefix(repo_root()).unwrap().display().to_string();
                long.push(format!("{rel}:{line} {name}: {len} lines"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines:\n{}",
        long.join("\n")
    );
}

/// The top-level module a file of `src/` belongs to (`lib` for lib.rs and main.rs).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Top-level module → the top-level modules it names as `crate::x`.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = repo_root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let module = module_of(&src, f);
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        // Test modules may reach anywhere; only the code itself counts.
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
        let uses = graph.entry(module.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                uses.insert(name);
            }
        }
    }
    graph
}

/// Every circle of the graph, as a path that comes back to its start.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn reaches(
        graph: &BTreeMap<String, BTreeSet<String>>,
        from: &str,
        to: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(from).into_iter().flatten() {
            if next == to {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if reaches(graph, next, to, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut found = Vec::new();
    for start in graph.keys() {
        let mut path = vec![start.clone()];
        if reaches(graph, start, start, &mut path, &mut BTreeSet::new()) {
            found.push(path);
        }
    }
    found
}

#[test]
fn no_import_circle_between_top_level_modules() {
    let graph = module_graph();
    assert!(graph.len() > 10, "the scan found the modules: {graph:?}");
    assert_no_circles(&graph, "import circles");
}

/// Fails naming every circle of `graph`.
fn assert_no_circles(graph: &BTreeMap<String, BTreeSet<String>>, what: &str) {
    let found = circles(graph);
    assert!(
        found.is_empty(),
        "{what}:\n{}",
        found
            .iter()
            .map(|c| c.join(" -> "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_checks_catch_what_they_look_for() {
    let long = format!("fn big() {{\n{}}}\n", "    x();\n".repeat(MAX_FN_LINES));
    assert_eq!(functions(&long)[0].2, MAX_FN_LINES + 2);
    let mut g = BTreeMap::new();
    g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    g.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    g.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(circles(&g)[0], ["a", "b", "c", "a"]);
}

/// `a.b[.c]` as numbers, for comparing rust-versions.
fn version(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

#[test]
fn the_rust_version_is_at_least_every_locked_dependencys() {
    let args = ["metadata", "--format-version", "1", "--locked", "--offline"];
    let m: serde_json::Value =
        serde_json::from_slice(&crate::util::stock_bytes(env!("CARGO"), &args)).unwrap();
    let packages = m["packages"].as_array().unwrap();
    let ours = packages
        .iter()
        .find(|p| p["name"] == "cargo-release-dist")
        .unwrap();
    let claimed = ours["rust_version"]
        .as_str()
        .expect("Cargo.toml states a rust-version");
    let highest = packages
        .iter()
        .filter(|p| p["name"] != "cargo-release-dist")
        .filter_map(|p| Some((p["rust_version"].as_str()?, p["name"].as_str()?)))
        .max_by_key(|(v, _)| version(v))
        .unwrap();
    assert!(
        version(claimed) >= version(highest.0),
        "Cargo.toml says rust-version = {claimed}, but {} needs {}",
        highest.1,
        highest.0
    );
}

/// The anchors of a Markdown file's headings, as GitHub makes them.
fn anchors(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_'))
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}

#[test]
fn every_link_of_the_readme_and_the_docs_resolves() {
    let root = repo_root();
    let mut files = vec![root.join("README.md")];
    for e in std::fs::read_dir(root.join("docs")).unwrap() {
        files.push(e.unwrap().path());
    }
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let link = &rest[..end];
            if link.starts_with("http") || link.contains(' ') {
                continue;
            }
            let (path, anchor) = link.split_once('#').unwrap_or((link, ""));
            let target = match path {
                "" => file.clone(),
                p => file.parent().unwrap().join(p),
            };
            let ok = target.exists()
                && (anchor.is_empty()
                    || anchors(&std::fs::read_to_string(&target).unwrap_or_default())
                        .contains(anchor));
            if !ok {
                broken.push(format!("{}: ({link})", file.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn every_test_hook_is_read_in_the_one_module_behind_the_feature() {
    let src = repo_root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut elsewhere = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        if f.ends_with("test_hooks.rs") {
            // Read only inside the function the feature compiles.
            let read = text.find("pub fn read(").expect("Hooks::read");
            let cfg = text[..read].rfind("#[cfg(feature = \"test-hooks\")]");
            assert!(
                cfg.is_some_and(|at| read - at < 80),
                "Hooks::read is not behind the test-hooks feature"
            );
            continue;
        }
        for (i, line) in text.lines().enumerate() {
            if line.contains("RELEASE_DIST_TEST_") {
                elsewhere.push(format!("{}:{}", f.display(), i + 1));
            }
        }
    }
    assert!(
        elsewhere.is_empty(),
        "test hooks read outside src/test_hooks.rs: {elsewhere:?}"
    );
}

/// The module path of a file of `src/` (`oci::bucket` for src/oci/bucket.rs,
/// `oci` for src/oci/mod.rs, `` for lib.rs and main.rs).
fn file_module(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// Every path a text names from `crate::` or `super::`, braces expanded
/// (`crate::oci::{bucket, fetch::Source}` gives `oci::bucket` and
/// `oci::fetch::Source`), made absolute from `module`.
fn named_paths(code: &str, module: &str) -> Vec<String> {
    fn ident(s: &str) -> (&str, &str) {
        let end = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        (&s[..end], &s[end..])
    }
    // Reads `a::b::{c, d::e}` from the start of `s` after `base`.
    fn read(s: &str, base: &[String], out: &mut Vec<Vec<String>>) {
        let mut path = base.to_vec();
        let mut rest = s;
        loop {
            if let Some(inner) = rest.strip_prefix('{') {
                let mut depth = 1;
                let mut start = 0;
                for (i, c) in inner.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' | ',' if depth == 1 => {
                            read(inner[start..i].trim_start(), &path, out);
                            start = i + 1;
                            if c == '}' {
                                return;
                            }
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                return;
            }
            let (name, after) = ident(rest);
            if name.is_empty() {
                break;
            }
            path.push(name.to_string());
            match after.strip_prefix("::") {
                Some(more) => rest = more,
                None => break,
            }
        }
        out.push(path);
    }
    let mut out = Vec::new();
    let here: Vec<String> = module
        .split("::")
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    for (i, _) in code.match_indices("crate::") {
        if code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        read(&code[i + 7..], &[], &mut out);
    }
    for (i, _) in code.match_indices("super::") {
        if code[..i].ends_with("::") || code[..i].ends_with(|c: char| c.is_alphanumeric()) {
            continue;
        }
        let parent = &here[..here.len().saturating_sub(1)];
        read(&code[i + 7..], parent, &mut out);
    }
    out.into_iter().map(|p| p.join("::")).collect()
}

/// File module → the file modules it names, but its own ancestors and
/// descendants (a `mod.rs` and its children share items by design).
fn file_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = repo_root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| file_module(&src, f)).collect();
    let related = |a: &str, b: &str| {
        a.is_empty()
            || b.is_empty()
            || a.starts_with(&format!("{b}::"))
            || b.starts_with(&format!("{a}::"))
    };
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let module = file_module(&src, f);
        let text = std::fs::read_to_string(f).unwrap();
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
        let uses = graph.entry(module.clone()).or_default();
        for path in named_paths(code, &module) {
            // The longest prefix of the path that is a file.
            let mut parts: Vec<&str> = path.split("::").collect();
            while !parts.is_empty() && !modules.contains(&parts.join("::")) {
                parts.pop();
            }
            let target = parts.join("::");
            if target != module && !related(&module, &target) {
                uses.insert(target);
            }
        }
    }
    graph
}

#[test]
fn no_import_circle_between_files() {
    let graph = file_graph();
    assert!(
        graph
            .get("oci::bucket")
            .is_some_and(|u| u.contains("objstore")),
        "the scan reads `use crate::…` paths: {graph:?}"
    );
    assert_no_circles(&graph, "import circles between files");
}

#[test]
fn the_path_reader_expands_braces_and_super() {
    let got = named_paths(
        "use crate::oci::{bucket::Shape, fetch};\nuse super::verify_image::x;\nlet y = crate::plan::Plan::new();",
        "publish::verify",
    );
    assert_eq!(
        got,
        [
            "oci::bucket::Shape",
            "oci::fetch",
            "plan::Plan::new",
            "publish::verify_image::x"
        ]
    );
}

#[test]
fn no_feature_test_file_uses_another_ones_helpers() {
    // Shared helpers live in util (util.rs and util/), and the test doubles
    // in garage.rs and proxy.rs; a feature file names only those.
    let dir = repo_root().join("tests/integration");
    let shared = ["util", "garage", "proxy"];
    let mut found = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let Some(stem) = p.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        // structure.rs reads `crate::` paths as text.
        if p.is_dir() || shared.contains(&stem.as_str()) || stem == "main" || stem == "structure" {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !shared.contains(&name.as_str()) {
                found.push(format!("{stem}.rs uses crate::{name}"));
            }
        }
    }
    assert!(found.is_empty(), "{found:?}");
}

/// The modules that are pure: bytes and values in, bytes and values out; no
/// async runtime, file system, process, clock or object store. (`archive`
/// walks the directory it archives and `linuxpkg::rpm` hands the rpm crate
/// file paths: they are not on the list.)
const PURE: [&str; 40] = [
    "src/platform.rs",
    "src/config.rs",
    "src/build_record.rs",
    "src/problems.rs",
    "src/listing.rs",
    "src/digest.rs",
    "src/elfcheck.rs",
    "src/machocheck.rs",
    "src/pecheck.rs",
    "src/plan.rs",
    "src/kinds.rs",
    "src/sbom.rs",
    "src/nix/json.rs",
    "src/nix/log.rs",
    "src/nixcache/mod.rs",
    "src/nixcache/nar.rs",
    "src/nixcache/hash.rs",
    "src/nixcache/narinfo.rs",
    "src/nixcache/signing.rs",
    "src/nixcache/gc.rs",
    "src/provenance/statement.rs",
    "src/provenance/dsse.rs",
    "src/provenance/reproduced.rs",
    "src/rebuild/place.rs",
    "src/rebuild_error.rs",
    "src/linuxpkg/mod.rs",
    "src/linuxpkg/deb.rs",
    "src/linuxpkg/version.rs",
    "src/linuxpkg/apt.rs",
    "src/linuxpkg/yum.rs",
    "src/oci/document.rs",
    "src/oci/reach.rs",
    "src/oci/referrers.rs",
    "src/oci/token.rs",
    "src/oci/scheme.rs",
    "src/publish/layout.rs",
    "src/publish/index.rs",
    "src/publish/notes.rs",
    "src/publish/installer.rs",
    "src/lifecycle/retention.rs",
];

/// What a pure module must not name, outside its tests. (A list, not a
/// proof: it catches the usual ways in.)
const IMPURE: [&str; 9] = [
    "tokio",
    "std::fs",
    "std::process",
    "crate::process",
    "crate::objstore",
    "File::open",
    "SystemTime::now",
    "Instant::now",
    "std::env::var",
];

#[test]
fn the_pure_modules_do_no_io() {
    let mut found = Vec::new();
    for file in PURE {
        let text = std::fs::read_to_string(repo_root().join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let code = text.split("#[cfg(test)]").next().unwrap();
        for (i, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap();
            for word in IMPURE {
                if line.contains(word) {
                    found.push(format!("{file}:{}: {word}", i + 1));
                }
            }
        }
    }
    assert!(found.is_empty(), "I/O in a pure module: {found:#?}");
}
