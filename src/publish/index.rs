//! The release index, `_releases.json` and `_releases.html`, derived from a
//! listing of the bucket (never from local state). Pure.
//!
//! The JSON keeps the shape of Garage's `nix/build_index.nix` (three
//! categories of builds, sizes as strings), with two fixes: stable releases
//! sort by semver (Garage's puts v0.9 above v0.10), and each release names
//! its SHA256SUMS and provenance.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{json, Value};

use super::layout::{Layout, SHA256SUMS};
use super::notes::esc;
pub use super::notes::{NixNote, Notes, PackagesNote};
use crate::listing::ObjectMeta;
use crate::platform::Platform;
use crate::release::{semver_of, Class};

/// The index objects' keys.
pub const INDEX_JSON: &str = "_releases.json";
/// The page.
pub const INDEX_HTML: &str = "_releases.html";

/// One release found in the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRelease {
    /// Its tag.
    pub tag: String,
    /// Its class.
    pub class: Class,
    /// Its files: platform, key, size, time.
    pub files: Vec<ListedFile>,
    /// The key of its SHA256SUMS, if present.
    pub checksums: Option<String>,
    /// The key of its provenance, if present.
    pub provenance: Option<String>,
    /// Its files of the whole release (the source tarball): key and size.
    pub artifacts: Vec<(String, u64)>,
}

/// One file of a listed release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    /// Its target.
    pub platform: Platform,
    /// Its key.
    pub key: String,
    /// Its size.
    pub size: u64,
    /// When it was written.
    pub modified: Option<SystemTime>,
}

/// The releases of `name` in a listing of [`Layout::name_prefix`]. With
/// df-dist-v1, only releases whose tag document exists count: a release
/// being published appears once it is whole.
pub fn releases(layout: Layout, name: &str, listing: &[ObjectMeta]) -> Vec<ListedRelease> {
    let prefix = layout.name_prefix(name);
    let mut by_tag: BTreeMap<String, ListedRelease> = BTreeMap::new();
    let mut tag_docs = std::collections::HashSet::new();
    for o in listing {
        let Some(rest) = o.key.strip_prefix(&prefix) else {
            continue;
        };
        let Some((tag, path)) = rest.split_once('/') else {
            tag_docs.insert(rest.to_string());
            continue;
        };
        let entry = by_tag
            .entry(tag.to_string())
            .or_insert_with(|| ListedRelease {
                tag: tag.to_string(),
                class: Class::of(tag),
                files: Vec::new(),
                checksums: None,
                provenance: None,
                artifacts: Vec::new(),
            });
        if path == SHA256SUMS {
            entry.checksums = Some(o.key.clone());
        } else if path == crate::provenance::bundle_name(name, tag) {
            entry.provenance = Some(o.key.clone());
        } else if !path.contains('/') && !path.ends_with(".sha256") {
            entry.artifacts.push((o.key.clone(), o.size));
        } else if let Some(platform) = layout.platform_of(path) {
            if !path.ends_with(".sha256") {
                entry.files.push(ListedFile {
                    platform,
                    key: o.key.clone(),
                    size: o.size,
                    modified: o.modified,
                });
            }
        }
    }
    by_tag
        .into_values()
        .filter(|r| !r.files.is_empty())
        .filter(|r| layout == Layout::Garage || tag_docs.contains(&r.tag))
        .collect()
}

/// The operating systems in the order a release lists them, and how
/// people call them.
const SYSTEMS: [(&str, &str); 3] = [
    ("linux", "Linux"),
    ("darwin", "macOS"),
    ("windows", "Windows"),
];

/// `files`, grouped by operating system (Linux, macOS, Windows, then any
/// other), each group in its listing order.
fn by_os(files: &[ListedFile]) -> Vec<&ListedFile> {
    let rank = |f: &&ListedFile| {
        let os = f.platform.os();
        SYSTEMS
            .iter()
            .position(|(o, _)| *o == os)
            .unwrap_or(SYSTEMS.len())
    };
    let mut out: Vec<&ListedFile> = files.iter().collect();
    out.sort_by_key(rank);
    out
}

/// How people call `os`.
fn os_title(os: &str) -> &str {
    SYSTEMS
        .iter()
        .find(|(o, _)| *o == os)
        .map_or(os, |(_, t)| t)
}

fn first_time(r: &ListedRelease) -> Option<SystemTime> {
    r.files.iter().filter_map(|f| f.modified).min()
}

fn date_time(t: Option<SystemTime>) -> (String, String) {
    let text = t.map(crate::clock::rfc3339_of).unwrap_or_default();
    match text.split_once('T') {
        Some((d, t)) => (
            d.to_string(),
            t.trim_end_matches('Z').chars().take(8).collect(),
        ),
        None => (String::new(), String::new()),
    }
}

/// Sorts: stable by semver, newest first; the others newest first by date.
pub fn sorted(mut releases: Vec<ListedRelease>, class: Class) -> Vec<ListedRelease> {
    releases.retain(|r| r.class == class);
    if class == Class::Stable {
        releases.sort_by_key(|r| std::cmp::Reverse(semver_of(&r.tag)));
    } else {
        releases.sort_by_key(|r| std::cmp::Reverse(first_time(r)));
    }
    releases
}

const CATEGORIES: [(Class, &str, &str, &str, bool); 3] = [
    (Class::Stable, "Release", "tag", "Release builds are the official builds, they are tailored for productions and are the most tested.", false),
    (Class::Extra, "Extra", "tag", "Extra builds are built on demand to test a specific feature or a specific need.", true),
    (Class::Development, "Development", "commit", "Development builds are built periodically. Use them if you want to test a specific feature that is not yet released.", true),
];

/// `_releases.json`.
pub fn index_json(layout: Layout, releases: &[ListedRelease]) -> Value {
    let root = match layout {
        Layout::DfDist => super::layout::DF_DIST_ROOT,
        Layout::Garage => super::layout::GARAGE_ROOT,
    };
    let categories: Vec<Value> = CATEGORIES
        .iter()
        .map(|(class, name, kind, description, hide)| {
            let builds: Vec<Value> = sorted(releases.to_vec(), *class)
                .iter()
                .map(|r| {
                    let files: Vec<Value> = by_os(&r.files)
                        .into_iter()
                        .map(|f| {
                            let (date, time) = date_time(f.modified);
                            json!({
                                "binary": f.key.rsplit('/').next().unwrap_or(""),
                                "date": date,
                                "os": f.platform.os(),
                                "path": f.key,
                                "platform": f.platform.to_string(),
                                "root": root,
                                "size": f.size.to_string(),
                                "time": time,
                                "url": format!("/{}", f.key),
                                "version": r.tag,
                            })
                        })
                        .collect();
                    json!({
                        "version": r.tag,
                        "builds": files,
                        "checksums": r.checksums.as_ref().map(|k| format!("/{k}")),
                        "provenance": r.provenance.as_ref().map(|k| format!("/{k}")),
                        "artifacts": r.artifacts.iter().map(|(k, size)| json!({
                            "name": k.rsplit('/').next().unwrap_or(""),
                            "size": size.to_string(),
                            "url": format!("/{k}"),
                        })).collect::<Vec<Value>>(),
                    })
                })
                .collect();
            json!({"name": name, "type": kind, "description": description, "hide": hide, "builds": builds})
        })
        .collect();
    Value::Array(categories)
}

fn human_size(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

/// `_releases.html`: a readable page of the same index, with sections on
/// installing with Nix and with apt or dnf when `notes` has them.
pub fn index_html(title: &str, releases: &[ListedRelease], notes: &Notes) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{t} releases</title>\n<style>\nbody{{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b;line-height:1.45}}\nh1{{font-size:1.8rem}} h2{{margin-top:2rem;border-bottom:1px solid #ddd}} h3{{margin-bottom:.3rem}}\ntable{{border-collapse:collapse;width:100%}} td,th{{text-align:left;padding:.25rem .6rem;border-bottom:1px solid #eee}}\ntd.size{{text-align:right;font-variant-numeric:tabular-nums}} .meta{{color:#555;font-size:.9rem}} a{{color:#0b5cad}}\n</style></head><body>\n<h1>{t} releases</h1>\n",
        t = esc(title)
    ));
    out.push_str(&notes.sections());
    for (class, name, _, description, hide) in CATEGORIES {
        let list = sorted(releases.to_vec(), class);
        out.push_str(&format!(
            "<section>\n<h2>{name} builds</h2>\n<p>{}</p>\n",
            esc(description)
        ));
        if hide && !list.is_empty() {
            out.push_str(&format!(
                "<details><summary>Show {} {} builds</summary>\n",
                list.len(),
                name.to_lowercase()
            ));
        }
        if list.is_empty() {
            out.push_str("<p><em>There is no build for this category</em></p>\n");
        }
        for r in &list {
            let (date, _) = date_time(first_time(r));
            out.push_str(&format!("<h3>{} <span class=\"meta\">({date})</span></h3>\n<table><tr><th>Platform</th><th>File</th><th>Size</th></tr>\n", esc(&r.tag)));
            let mut os = "";
            for f in by_os(&r.files) {
                if f.platform.os() != os {
                    os = f.platform.os();
                    out.push_str(&format!(
                        "<tr><th colspan=\"3\">{}</th></tr>\n",
                        esc(os_title(os))
                    ));
                }
                let file = f.key.rsplit('/').next().unwrap_or("");
                out.push_str(&format!(
                    "<tr><td>{}</td><td><a href=\"/{}\">{}</a> · <a href=\"/{}.sha256\">sha256</a></td><td class=\"size\">{}</td></tr>\n",
                    esc(&f.platform.to_string()),
                    esc(&f.key),
                    esc(file),
                    esc(&f.key),
                    human_size(f.size)
                ));
            }
            out.push_str("</table>\n<p class=\"meta\">");
            if let Some(k) = &r.checksums {
                out.push_str(&format!("<a href=\"/{}\">SHA256SUMS</a> ", esc(k)));
            }
            if let Some(k) = &r.provenance {
                out.push_str(&format!("· <a href=\"/{}\">signed provenance</a>", esc(k)));
            }
            for (k, size) in &r.artifacts {
                let file = k.rsplit('/').next().unwrap_or("");
                out.push_str(&format!(
                    " · <a href=\"/{}\">{}</a> ({})",
                    esc(k),
                    esc(file),
                    human_size(*size)
                ));
            }
            out.push_str("</p>\n");
        }
        if hide && !list.is_empty() {
            out.push_str("</details>\n");
        }
        out.push_str("</section>\n");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(key: &str, size: u64, secs: u64) -> ObjectMeta {
        ObjectMeta {
            key: key.into(),
            size,
            modified: Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs)),
        }
    }

    fn listing() -> Vec<ObjectMeta> {
        let mut l = Vec::new();
        for (tag, t) in [
            ("v0.9.0", 100),
            ("v0.10.0", 200),
            ("nightly", 300),
            ("v1.0.0-rc1", 400),
            ("half", 500),
        ] {
            l.push(obj(
                &format!("df-dist-v1/hello/{tag}/linux/amd64/hello"),
                10,
                t,
            ));
            l.push(obj(
                &format!("df-dist-v1/hello/{tag}/linux/amd64/hello.sha256"),
                1,
                t,
            ));
            l.push(obj(&format!("df-dist-v1/hello/{tag}/SHA256SUMS"), 1, t));
            if tag != "half" {
                l.push(obj(&format!("df-dist-v1/hello/{tag}"), 1, t)); // the tag document
            }
        }
        l.push(obj("df-dist-v1/hello", 1, 1));
        l.push(obj("df-dist-v1/other/v1.0.0/linux/amd64/other", 1, 1));
        l
    }

    #[test]
    fn stable_sorts_by_semver_and_half_published_releases_are_left_out() {
        let all = releases(Layout::DfDist, "hello", &listing());
        let tags: Vec<&str> = all.iter().map(|r| r.tag.as_str()).collect();
        assert!(!tags.contains(&"half"), "{tags:?}");
        let stable: Vec<String> = sorted(all.clone(), Class::Stable)
            .into_iter()
            .map(|r| r.tag)
            .collect();
        assert_eq!(stable, ["v0.10.0", "v0.9.0"]);
        let extra: Vec<String> = sorted(all.clone(), Class::Extra)
            .into_iter()
            .map(|r| r.tag)
            .collect();
        assert_eq!(extra, ["v1.0.0-rc1", "nightly"], "newest first");

        let json = index_json(Layout::DfDist, &all);
        assert_eq!(json[0]["name"], "Release");
        assert_eq!(json[0]["builds"][0]["version"], "v0.10.0");
        let b = &json[0]["builds"][0]["builds"][0];
        assert_eq!(b["size"], "10");
        assert_eq!(b["platform"], "linux/amd64");
        assert_eq!(b["url"], "/df-dist-v1/hello/v0.10.0/linux/amd64/hello");
        assert_eq!(b["date"], "1970-01-01");
        assert_eq!(
            json[0]["builds"][0]["checksums"],
            "/df-dist-v1/hello/v0.10.0/SHA256SUMS"
        );
        assert_eq!(json[2]["builds"].as_array().unwrap().len(), 0);

        let html = index_html("hello", &all, &Notes::default());
        assert!(html.contains("<h2>Release builds</h2>"));
        assert!(html.find("v0.10.0").unwrap() < html.find("v0.9.0").unwrap());
        assert!(html.contains("There is no build for this category"));
    }

    #[test]
    fn garage_layout_counts_every_listed_release() {
        let l = vec![
            obj("_releases/v1.2.0/x86_64-unknown-linux-musl/garage", 5, 1),
            obj("_releases/0123456789abcdef0123456789abcdef01234567/aarch64-unknown-linux-musl/garage", 5, 2),
            obj("_releases.json", 1, 1),
        ];
        let all = releases(Layout::Garage, "garage", &l);
        assert_eq!(all.len(), 2);
        assert_eq!(
            sorted(all, Class::Development)[0].files[0]
                .platform
                .to_string(),
            "linux/arm64"
        );
    }
}
