//! The signed APT and YUM repositories in a static destination, written in
//! an order that never shows a client a document naming a missing file:
//! the packages, then each package's bookkeeping entry, then the indices
//! (by-hash and content-addressed copies first), then `Release`,
//! `Release.gpg` and `InRelease` (apt reads `InRelease` first) and
//! `repomd.xml` with `repomd.xml.asc`.
//!
//! The indices are derived from the bookkeeping entries every publish
//! leaves under `apt/index/` and `rpm/<suite>/index/`, so they list every
//! version in the destination. Garage has no compare-and-swap; as for the
//! name document, each publisher writes its entry before it lists, then
//! writes the indices again until a listing made after its write agrees.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use super::packages::{BuiltPackage, PackageSet};
use crate::errors::{Error, Result};
use crate::linuxpkg::rpm::RpmFacts;
use crate::linuxpkg::{apt, yum, Facts, Format};
use crate::objstore::{Body, ObjectStore};
use crate::plan::{Action, Payload, Phase, PlannedObject, Step};
use sha2::{Digest, Sha256};

/// How many times the indices are derived again before giving up agreeing.
const ROUNDS: usize = 10;
/// Entries read at once.
const READS_IN_FLIGHT: usize = 8;

mod ctype {
    pub const TEXT: &str = "text/plain; charset=utf-8";
    pub const GZIP: &str = "application/gzip";
    pub const XZ: &str = "application/x-xz";
    pub const KEY: &str = "application/pgp-keys";
    pub const SIG: &str = "application/pgp-signature";
    pub const XML: &str = "application/xml";
    pub const JSON: &str = "application/json";
}

/// What the repositories of one destination hold after a publish.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepoSummary {
    /// The store.
    pub store: String,
    /// The suite this release went to.
    pub suite: String,
    /// Packages uploaded (not already there).
    pub uploaded: usize,
    /// Packages in the suite's APT indices, all architectures.
    pub apt_packages: usize,
    /// Packages in the suite's YUM metadata.
    pub rpm_packages: usize,
}

/// What a suite's repositories show besides the packages: the public key,
/// the `.repo` file, the signed indices, and the release page's note.
#[derive(Clone)]
pub struct Front<'a> {
    /// The package name.
    pub name: &'a str,
    /// The destination's public URL.
    pub url: &'a str,
    /// The signing key.
    pub key: &'a crate::openpgp::SigningKey,
    /// The suite.
    pub suite: &'a str,
    /// The suite of releases that are not stable (for the note).
    pub other_suite: &'a str,
    /// The formats of its packages.
    pub formats: BTreeSet<Format>,
    /// The layout and release name whose page lists the repositories.
    pub page: (crate::kinds::Layout, &'a str),
}

impl Front<'_> {
    /// Writes it all after the packages and their entries; returns the
    /// package counts of the APT and YUM indices.
    pub async fn publish(&self, store: &ObjectStore) -> Result<(usize, usize)> {
        let name = self.name;
        let [gpg, asc, rpm_key] = key_files(name);
        let armored = self.key.public_armored().map_err(key_error)?;
        let binary = self.key.public_binary().map_err(key_error)?;
        put_if_changed(store, &gpg, binary, ctype::KEY).await?;
        put_if_changed(store, &asc, armored.clone().into_bytes(), ctype::KEY).await?;
        put_if_changed(store, &rpm_key, armored.into_bytes(), ctype::KEY).await?;
        let suite = Suite {
            name,
            suite: self.suite,
            key: self.key,
        };
        let mut counts = (0, 0);
        if self.formats.contains(&Format::Rpm) {
            let repo = yum::repo_file(
                &format!("{name}-{}", self.suite),
                &format!("{name} ({})", self.suite),
                &format!("{}/{}/{}/", self.url, yum::ROOT, self.suite),
                &format!("{}/{rpm_key}", self.url),
            );
            let key = repo_file_key(name, self.suite);
            put_if_changed(store, &key, repo.into_bytes(), ctype::TEXT).await?;
            counts.1 = converge_yum(store, &suite).await?;
        }
        if self.formats.contains(&Format::Deb) {
            counts.0 = converge_apt(store, &suite).await?;
        }
        self.write_note(store, &gpg).await?;
        Ok(counts)
    }

    /// The note the release page reads (the stable suite once there is
    /// one, else this one), and the page again if it changed.
    async fn write_note(&self, store: &ObjectStore, keyring: &str) -> Result<()> {
        let (name, stable) = (self.name, crate::linuxpkg::STABLE_SUITE);
        let shown = if store
            .exists(&format!("{}/dists/{stable}/InRelease", apt::ROOT))
            .await?
            || store.exists(&repo_file_key(name, stable)).await?
        {
            stable
        } else {
            self.suite
        };
        let note = crate::publish::notes::PackagesNote {
            name: name.to_string(),
            url: self.url.to_string(),
            fingerprint: self.key.fingerprint(),
            sources_line: self.formats.contains(&Format::Deb).then(|| {
                apt::sources_line(
                    self.url,
                    shown,
                    &format!("/usr/share/keyrings/{name}-archive-keyring.gpg"),
                )
            }),
            keyring: keyring.to_string(),
            repo_file: (self.formats.contains(&Format::Rpm)).then(|| repo_file_key(name, shown)),
            other_suite: self.other_suite.to_string(),
        };
        let (layout, release_name) = self.page;
        let note_key = format!(
            "{}{}",
            layout.name_prefix(release_name),
            crate::publish::notes::PACKAGES_NOTE
        );
        if put_if_changed(store, &note_key, note.to_json(), ctype::JSON).await? {
            crate::publish::statics::converge_shared_documents(store, layout, release_name).await?;
        }
        Ok(())
    }
}

/// Copies the repository objects of the packages `files` (a promoted
/// release's, by file name, with their verified digests) from `src` to
/// `dest`: the packages (each checked against its verified digest as it
/// streams; one already at `dest` counts only with those bytes), then their
/// entries; then writes each suite's front at `dest` as `front` says (its
/// URL, its key). Returns how many objects were copied.
pub async fn promote_repositories(
    src: &ObjectStore,
    dest: &ObjectStore,
    files: &[(String, crate::digest::Digest)],
    front: &Front<'_>,
    tmp: &std::path::Path,
) -> Result<usize> {
    let names: Vec<String> = files.iter().map(|(f, _)| f.clone()).collect();
    let found = plan_repo_removal(src, &names).await?;
    let mut copied = 0;
    for k in &found.packages {
        let ct = Format::of_file(k).unwrap_or(Format::Rpm).content_type();
        let file = k.rsplit('/').next().unwrap_or(k);
        let Some((_, want)) = files.iter().find(|(f, _)| f == file) else {
            return Err(Error::Untrusted {
                source_name: src.describe(),
                what: k.clone(),
                message: "the repository holds a package the release's provenance does not sign"
                    .into(),
            });
        };
        if dest.hash(k).await?.is_some_and(|f| f.digest == *want) {
            continue;
        }
        if dest.copy_checked(src, k, (want, None), tmp, ct).await? {
            copied += 1;
        }
    }
    for k in &found.entries {
        if dest.copy_from(src, k, tmp, ctype::TEXT).await? {
            copied += 1;
        }
    }
    let mut suites: Vec<&String> = found.apt.iter().chain(&found.yum).map(|(_, s)| s).collect();
    suites.sort();
    suites.dedup();
    for suite in suites {
        let in_suite = |of: &[(String, String)]| of.iter().any(|(_, s)| s == suite);
        let formats = [(Format::Deb, &found.apt), (Format::Rpm, &found.yum)]
            .into_iter()
            .filter(|(_, of)| in_suite(of))
            .map(|(f, _)| f)
            .collect();
        let name = found
            .apt
            .iter()
            .chain(&found.yum)
            .map(|(n, _)| n.as_str())
            .next()
            .unwrap_or(front.name);
        Front {
            name,
            suite,
            formats,
            ..front.clone()
        }
        .publish(dest)
        .await?;
    }
    Ok(copied)
}

/// One suite of the repositories, and the key that signs its indices.
pub struct Suite<'a> {
    /// The package name (the Release file's Origin and Label).
    pub name: &'a str,
    /// The suite.
    pub suite: &'a str,
    /// The key.
    pub key: &'a crate::openpgp::SigningKey,
}

impl PackageSet {
    /// This release's suite.
    pub fn suite(&self) -> Suite<'_> {
        Suite {
            name: &self.meta.name,
            suite: &self.suite,
            key: &self.key,
        }
    }
}

/// What removing releases' packages from one destination does: their
/// bookkeeping entries go first (so the indices, derived again, no longer
/// name them), then the packages themselves.
#[derive(Debug, Clone, Default)]
pub struct RepoRemoval {
    /// The bookkeeping entries.
    pub entries: Vec<String>,
    /// The packages in the pool and the YUM directories.
    pub packages: Vec<String>,
    /// (package name, suite) of the APT indices to derive again.
    pub apt: Vec<(String, String)>,
    /// (package name, suite) of the YUM metadata to derive again.
    pub yum: Vec<(String, String)>,
}

impl RepoRemoval {
    /// True when the releases have no package in the repositories.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.packages.is_empty()
    }

    /// The plan's objects: the entries and packages deleted, the indices derived again.
    pub fn objects(&self, destination: &str) -> Vec<PlannedObject> {
        let object = |key: &str, action| PlannedObject {
            destination: destination.to_string(),
            phase: Phase::Repositories,
            action,
            key: key.to_string(),
            size: None,
            digest: None,
            content_type: None,
        };
        let mut out: Vec<PlannedObject> = self
            .entries
            .iter()
            .map(|k| object(k, Action::Delete))
            .collect();
        for (_, suite) in &self.yum {
            out.push(object(
                &format!("{}/{suite}/repodata/repomd.xml", yum::ROOT),
                Action::Converge,
            ));
        }
        for (_, suite) in &self.apt {
            out.push(object(
                &format!("{}/dists/{suite}/InRelease", apt::ROOT),
                Action::Converge,
            ));
        }
        out.extend(self.packages.iter().map(|k| object(k, Action::Delete)));
        out
    }
}

/// Finds the repository objects of the packages `files` (file names of a
/// release: `hello_1.2.3_amd64.deb`, `hello-1.2.3-1.x86_64.rpm`).
pub async fn plan_repo_removal(store: &ObjectStore, files: &[String]) -> Result<RepoRemoval> {
    let mut out = RepoRemoval::default();
    let of = |format| {
        files
            .iter()
            .filter(move |f| Format::of_file(f) == Some(format))
    };
    let debs: Vec<&String> = of(Format::Deb).collect();
    let rpms: Vec<&String> = of(Format::Rpm).collect();
    if !debs.is_empty() {
        let index = format!("{}/index/", apt::ROOT);
        for o in store.list(&index).await? {
            let rest = &o.key[index.len()..];
            let (suite, file) = (
                rest.split('/').next().unwrap_or(""),
                rest.rsplit('/').next().unwrap_or(""),
            );
            if let Some(deb) = debs.iter().find(|d| d.as_str() == file) {
                let name = deb.split('_').next().unwrap_or("").to_string();
                out.entries.push(o.key.clone());
                out.apt.push((name.clone(), suite.to_string()));
                let pool = format!("{}/{}", apt::ROOT, apt::pool_path(&name, deb));
                if !out.packages.contains(&pool) {
                    out.packages.push(pool);
                }
            }
        }
    }
    if !rpms.is_empty() {
        let root = format!("{}/", yum::ROOT);
        for o in store.list(&root).await? {
            let rest = &o.key[root.len()..];
            let parts: Vec<&str> = rest.split('/').collect();
            let [suite, kind, file] = parts[..] else {
                continue;
            };
            let stem = file.strip_suffix(".json").unwrap_or(file);
            let Some(rpm) = rpms.iter().find(|r| r.as_str() == stem) else {
                continue;
            };
            let name = rpm.rsplitn(3, '-').nth(2).unwrap_or("").to_string();
            match kind {
                "index" => {
                    out.entries.push(o.key.clone());
                    out.yum.push((name, suite.to_string()));
                }
                "packages" => out.packages.push(o.key.clone()),
                _ => {}
            }
        }
    }
    for list in [&mut out.apt, &mut out.yum] {
        list.sort();
        list.dedup();
    }
    Ok(out)
}

/// Runs a removal: the entries, then each suite's indices derived again
/// and signed, then the packages nothing lists any more.
pub async fn execute_repo_removal(
    store: &ObjectStore,
    removal: &RepoRemoval,
    key: &crate::openpgp::SigningKey,
) -> Result<()> {
    store.delete_many(&removal.entries).await?;
    for (name, suite) in &removal.yum {
        converge_yum(store, &Suite { name, suite, key }).await?;
    }
    for (name, suite) in &removal.apt {
        converge_apt(store, &Suite { name, suite, key }).await?;
    }
    store.delete_many(&removal.packages).await
}

/// The public key's files: `apt/<name>-archive-keyring.gpg` (binary, for
/// `signed-by`), `.asc`, and `rpm/RPM-GPG-KEY-<name>`.
pub fn key_files(name: &str) -> [String; 3] {
    [
        format!("{}/{name}-archive-keyring.gpg", apt::ROOT),
        format!("{}/{name}-archive-keyring.asc", apt::ROOT),
        format!("{}/RPM-GPG-KEY-{name}", yum::ROOT),
    ]
}

/// The `.repo` file of a suite: `rpm/<name>.repo` (stable) or `rpm/<name>-<suite>.repo`.
pub fn repo_file_key(name: &str, suite: &str) -> String {
    if suite == crate::linuxpkg::STABLE_SUITE {
        format!("{}/{name}.repo", yum::ROOT)
    } else {
        format!("{}/{name}-{suite}.repo", yum::ROOT)
    }
}

/// What one destination's repositories hold of a release's packages: per
/// package, whether it is there (same key, same size) and its bookkeeping
/// entry there. Read by [`observe_repositories`]; nothing written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoObserved {
    /// Per package of the set.
    pub package_there: Vec<bool>,
    /// Per package: its entry's bytes there.
    pub entry: Vec<Option<Vec<u8>>>,
}

/// Reads what `store` holds of `set`'s packages.
pub async fn observe_repositories(store: &ObjectStore, set: &PackageSet) -> Result<RepoObserved> {
    let mut seen = RepoObserved::default();
    for p in &set.packages {
        let (key, entry_key, _, _) = entry_of(set, p);
        let there = store
            .list(&key)
            .await?
            .iter()
            .any(|o| o.key == key && o.size == p.size);
        seen.package_there.push(there);
        seen.entry.push(store.get(&entry_key).await?);
    }
    Ok(seen)
}

/// A package's key, its entry's key, the entry, and the package's
/// Content-Type.
fn entry_of(set: &PackageSet, p: &BuiltPackage) -> (String, String, Vec<u8>, &'static str) {
    match &p.facts {
        Facts::Deb { control } => deb_entry(set, p, control),
        Facts::Rpm(facts) => rpm_entry(set, p, facts),
    }
}

/// The steps of publishing `set` to a destination whose repositories hold
/// `seen` (`destination` names it in the plan). Pure. Each package, then its
/// entry (each only when not there already), one chain per package; then
/// the key files, the `.repo` file, the indices and what signs them, which
/// the repositories derive from their entries when they are written.
pub fn decide_repositories(destination: &str, set: &PackageSet, seen: &RepoObserved) -> Vec<Step> {
    let object = |key: String, action, size, digest: Option<String>, ct: &str| PlannedObject {
        destination: destination.to_string(),
        phase: Phase::Repositories,
        action,
        key,
        size,
        digest,
        content_type: Some(ct.to_string()),
    };
    let skip_or_write = |there: bool| if there { Action::Skip } else { Action::Write };
    let mut out = Vec::new();
    for (i, p) in set.packages.iter().enumerate() {
        let (key, entry_key, entry, ct) = entry_of(set, p);
        let there = seen.package_there.get(i).copied().unwrap_or(false);
        let digest = Some(format!("sha256:{}", p.sha256));
        out.push(Step {
            object: object(key, skip_or_write(there), Some(p.size), digest, ct),
            payload: Payload::File(p.local.clone()),
            chain: Some(i),
        });
        let same = seen.entry.get(i).and_then(|e| e.as_deref()) == Some(entry.as_slice());
        let entry_ct = if p.format() == Format::Rpm {
            ctype::JSON
        } else {
            ctype::TEXT
        };
        let size = Some(entry.len() as u64);
        let digest = Some(format!("sha256:{}", hex::encode(Sha256::digest(&entry))));
        out.push(Step {
            object: object(entry_key, skip_or_write(same), size, digest, entry_ct),
            payload: Payload::Bytes(entry),
            chain: Some(i),
        });
    }
    let converge = |key: String, ct: &str| Step {
        object: object(key, Action::Converge, None, None, ct),
        payload: Payload::None,
        chain: None,
    };
    for k in key_files(&set.meta.name) {
        out.push(converge(k, ctype::KEY));
    }
    let formats: BTreeSet<Format> = set.packages.iter().map(BuiltPackage::format).collect();
    if formats.contains(&Format::Rpm) {
        let dir = format!("{}/{}/repodata", yum::ROOT, set.suite);
        out.push(converge(
            repo_file_key(&set.meta.name, &set.suite),
            ctype::TEXT,
        ));
        out.push(converge(format!("{dir}/repomd.xml"), ctype::XML));
        out.push(converge(format!("{dir}/repomd.xml.asc"), ctype::SIG));
    }
    if formats.contains(&Format::Deb) {
        let dists = format!("{}/dists/{}", apt::ROOT, set.suite);
        for f in ["Release", "Release.gpg", "InRelease"] {
            out.push(converge(format!("{dists}/{f}"), ctype::TEXT));
        }
    }
    out
}

/// Writes `bytes` at `key` unless it holds them already; true when written.
async fn put_if_changed(store: &ObjectStore, key: &str, bytes: Vec<u8>, ct: &str) -> Result<bool> {
    if store.get(key).await?.as_deref() == Some(bytes.as_slice()) {
        return Ok(false);
    }
    store.put(key, Body::Bytes(bytes), ct).await?;
    Ok(true)
}

/// Writes `bytes` at a content-addressed `key` unless it exists.
async fn put_once(store: &ObjectStore, key: &str, bytes: Vec<u8>, ct: &str) -> Result<()> {
    if !store.exists(key).await? {
        store.put(key, Body::Bytes(bytes), ct).await?;
    }
    Ok(())
}

/// Publishes `steps` (from [`decide_repositories`]) for `set` to `store`
/// through the executor: the packages and their entries, then the
/// repositories' front converges both repositories.
pub async fn publish_repositories(
    store: &ObjectStore,
    set: &PackageSet,
    steps: &[Step],
) -> Result<RepoSummary> {
    let sink = RepoSink {
        store,
        set,
        counts: std::sync::Mutex::new((0, 0)),
    };
    crate::apply::apply(&sink, steps, 4).await?;
    let (apt_packages, rpm_packages) = sink.counts.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(RepoSummary {
        store: store.describe(),
        suite: set.suite.clone(),
        uploaded: steps
            .iter()
            .filter(|s| s.object.action == Action::Write && matches!(s.payload, Payload::File(_)))
            .count(),
        apt_packages,
        rpm_packages,
    })
}

/// A destination's repositories, as the executor writes to them.
struct RepoSink<'a> {
    store: &'a ObjectStore,
    set: &'a PackageSet,
    /// Packages in the APT and the YUM indices afterwards.
    counts: std::sync::Mutex<(usize, usize)>,
}

impl crate::apply::Sink for RepoSink<'_> {
    async fn write(&self, step: &Step) -> Result<()> {
        super::statics::put_step(self.store, step).await
    }

    /// The public key, the .repo file, the indices and what signs them,
    /// and the note the release page reads.
    async fn converge(&self, _phase: Phase, _steps: &[&Step]) -> Result<()> {
        let set = self.set;
        let front = Front {
            name: &set.meta.name,
            url: &set.url,
            key: &set.key,
            suite: &set.suite,
            other_suite: &set.other_suite,
            formats: set.packages.iter().map(BuiltPackage::format).collect(),
            page: (set.page.0, &set.page.1),
        };
        let counts = front.publish(self.store).await?;
        *self.counts.lock().unwrap_or_else(|e| e.into_inner()) = counts;
        Ok(())
    }
}

fn key_error(e: String) -> crate::errors::Error {
    crate::errors::Error::PackagesKey {
        path: "the packages key".into(),
        reason: e,
    }
}

/// (pool key, bookkeeping key, entry, content type) of a deb.
fn deb_entry(
    set: &PackageSet,
    p: &BuiltPackage,
    control: &str,
) -> (String, String, Vec<u8>, &'static str) {
    let pool = apt::pool_path(&set.meta.name, &p.file);
    let stanza = apt::stanza(control, &pool, p.size, &p.md5, &p.sha256);
    (
        format!("{}/{pool}", apt::ROOT),
        apt::index_key(&set.suite, &p.arch, &p.file),
        stanza.into_bytes(),
        Format::Deb.content_type(),
    )
}

/// (package key, bookkeeping key, entry, content type) of an rpm.
fn rpm_entry(
    set: &PackageSet,
    p: &BuiltPackage,
    facts: &RpmFacts,
) -> (String, String, Vec<u8>, &'static str) {
    let href = format!("packages/{}", p.file);
    let fragments = yum::fragments(facts, &p.sha256, p.size, &href);
    let dir = format!("{}/{}", yum::ROOT, set.suite);
    (
        format!("{dir}/{href}"),
        format!("{dir}/index/{}.json", p.file),
        serde_json::to_vec(&fragments).unwrap_or_default(),
        Format::Rpm.content_type(),
    )
}

/// Every bookkeeping entry under `prefix`: key → bytes.
async fn entries(store: &ObjectStore, prefix: &str) -> Result<BTreeMap<String, Vec<u8>>> {
    let keys: Vec<String> = store
        .list(prefix)
        .await?
        .into_iter()
        .map(|o| o.key)
        .collect();
    let got: Vec<(String, Option<Vec<u8>>)> =
        futures::stream::iter(keys.into_iter().map(|k| async move {
            let bytes = store.get(&k).await?;
            Ok::<_, crate::errors::Error>((k, bytes))
        }))
        .buffer_unordered(READS_IN_FLIGHT)
        .try_collect()
        .await?;
    Ok(got
        .into_iter()
        .filter_map(|(k, b)| b.map(|b| (k, b)))
        .collect())
}

/// Writes the suite's `Packages` indices and its signed `Release` until a
/// listing after the write names no other entry; returns the package count.
async fn converge_apt(store: &ObjectStore, set: &Suite<'_>) -> Result<usize> {
    let prefix = format!("{}/index/{}/", apt::ROOT, set.suite);
    let dists = format!("{}/dists/{}", apt::ROOT, set.suite);
    let mut count;
    for round in 0..ROUNDS {
        let found = entries(store, &prefix).await?;
        test_delay(round).await;
        let mut by_arch: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, bytes) in &found {
            let arch = k[prefix.len()..]
                .split('/')
                .next()
                .unwrap_or("")
                .to_string();
            by_arch
                .entry(arch)
                .or_default()
                .push(String::from_utf8_lossy(bytes).into_owned());
        }
        count = found.len();
        let mut files = Vec::new();
        for (arch, stanzas) in &by_arch {
            files.extend(apt::index_files(arch, &apt::packages_index(stanzas)));
        }
        for f in &files {
            let ct = index_ctype(&f.path);
            put_once(
                store,
                &format!("{dists}/{}", f.by_hash_path()),
                f.bytes.clone(),
                ct,
            )
            .await?;
        }
        for f in &files {
            put_if_changed(
                store,
                &format!("{dists}/{}", f.path),
                f.bytes.clone(),
                index_ctype(&f.path),
            )
            .await?;
        }
        let info = apt::ReleaseInfo {
            origin: set.name,
            suite: set.suite,
            architectures: by_arch.keys().cloned().collect(),
            date: crate::clock::now_secs(),
        };
        let release = apt::release(&info, &files);
        if !signed_release_is(store, set, &dists, &release).await? {
            let sig = set
                .key
                .detached(release.as_bytes(), info.date)
                .map_err(key_error)?;
            let inrelease = set.key.cleartext(&release, info.date).map_err(key_error)?;
            store
                .put(
                    &format!("{dists}/Release"),
                    Body::Bytes(release.into_bytes()),
                    ctype::TEXT,
                )
                .await?;
            store
                .put(
                    &format!("{dists}/Release.gpg"),
                    Body::Bytes(sig.into_bytes()),
                    ctype::SIG,
                )
                .await?;
            store
                .put(
                    &format!("{dists}/InRelease"),
                    Body::Bytes(inrelease.into_bytes()),
                    ctype::TEXT,
                )
                .await?;
        }
        if listed_again(store, &prefix, &found).await? {
            return Ok(count);
        }
    }
    Err(kept_changing(store, &prefix))
}

/// True when a listing of `prefix` made now names exactly the entries
/// `found` held: nobody added or removed one since.
async fn listed_again(
    store: &ObjectStore,
    prefix: &str,
    found: &BTreeMap<String, Vec<u8>>,
) -> Result<bool> {
    let after = store.list(prefix).await?;
    Ok(after.iter().map(|o| &o.key).eq(found.keys()))
}

/// The error when other publishes kept adding packages for [`ROUNDS`] rounds.
fn kept_changing(store: &ObjectStore, prefix: &str) -> crate::errors::Error {
    crate::errors::Error::Store {
        store: store.describe(),
        op: "update",
        key: prefix.to_string(),
        kind: crate::errors::StoreErrorKind::Unavailable,
        message: format!("the repository's packages kept changing for {ROUNDS} rounds (many publishes at once?); run the publish again"),
    }
}

/// A test build may wait ([`crate::test_hooks`]), in the first round only,
/// between listing the packages and writing the indices, so that a test can
/// publish another version in that gap for certain.
async fn test_delay(round: usize) {
    if round == 0 {
        crate::test_hooks::pause(crate::test_hooks::hooks().repo_delay).await;
    }
}

/// True when the suite's `Release` says what `release` says (but its
/// date), and `Release.gpg` and `InRelease` both sign that `Release`: a
/// publish killed between the three writes leaves them apart, and the
/// next one must write all three again.
async fn signed_release_is(
    store: &ObjectStore,
    set: &Suite<'_>,
    dists: &str,
    release: &str,
) -> Result<bool> {
    let Some(old) = store.get(&format!("{dists}/Release")).await? else {
        return Ok(false);
    };
    let old_text = String::from_utf8_lossy(&old).into_owned();
    if apt::without_date(&old_text) != apt::without_date(release) {
        return Ok(false);
    }
    let gpg = store
        .get(&format!("{dists}/Release.gpg"))
        .await?
        .unwrap_or_default();
    let inrelease = store
        .get(&format!("{dists}/InRelease"))
        .await?
        .unwrap_or_default();
    Ok(set.key.signed_detached(&gpg, &old) && set.key.signed_cleartext(&inrelease, &old_text))
}

fn index_ctype(path: &str) -> &'static str {
    if path.ends_with(".gz") {
        ctype::GZIP
    } else if path.ends_with(".xz") {
        ctype::XZ
    } else {
        ctype::TEXT
    }
}

/// Writes the suite's YUM metadata and its signed `repomd.xml` until a
/// listing after the write names no other entry; returns the package count.
async fn converge_yum(store: &ObjectStore, set: &Suite<'_>) -> Result<usize> {
    let dir = format!("{}/{}", yum::ROOT, set.suite);
    let prefix = format!("{dir}/index/");
    let mut count;
    for round in 0..ROUNDS {
        let found = entries(store, &prefix).await?;
        test_delay(round).await;
        let fragments: Vec<yum::Fragments> = found
            .values()
            .filter_map(|b| {
                serde_json::from_slice::<Option<yum::Fragments>>(b)
                    .ok()
                    .flatten()
            })
            .collect();
        count = fragments.len();
        let files = yum::metadata(&fragments);
        for f in &files {
            put_once(
                store,
                &format!("{dir}/{}", f.href()),
                f.gz.clone(),
                ctype::GZIP,
            )
            .await?;
        }
        let repomd_key = format!("{dir}/repodata/repomd.xml");
        let old = store.get(&repomd_key).await?.unwrap_or_default();
        let asc = store
            .get(&format!("{repomd_key}.asc"))
            .await?
            .unwrap_or_default();
        // The same files, and a signature of that repomd.xml (a publish
        // killed between the two writes leaves them apart).
        let text = String::from_utf8_lossy(&old);
        let unchanged =
            files.iter().all(|f| text.contains(&f.href())) && set.key.signed_detached(&asc, &old);
        if !unchanged {
            let now = crate::clock::now_secs();
            let repomd = yum::repomd(&files, now);
            let sig = set
                .key
                .detached(repomd.as_bytes(), now)
                .map_err(key_error)?;
            store
                .put(&repomd_key, Body::Bytes(repomd.into_bytes()), ctype::XML)
                .await?;
            store
                .put(
                    &format!("{repomd_key}.asc"),
                    Body::Bytes(sig.into_bytes()),
                    ctype::SIG,
                )
                .await?;
        }
        if listed_again(store, &prefix, &found).await? {
            return Ok(count);
        }
    }
    Err(kept_changing(store, &prefix))
}
