//! Pins and garbage collection of a plain binary cache, as data. Pure.
//!
//! - A **pin** is `pins/<name>`: text, one store path per line (the whole
//!   closure a push wrote, so that a collector needs no narinfo to know what
//!   it keeps). Lines that are empty or start with `#` are ignored, so a
//!   pin written by hand with one root works too: its closure is followed
//!   through the narinfos' `References`.
//! - A **collector record** is `gc/<id>.json`: a collector writes it before
//!   it reads the pins for the last time and deletes anything, and renews
//!   its `aliveUntil` while it deletes. A push that finds a live record
//!   waits for it to end before it looks at what the cache has.
//! - [`decide`] turns a listing, the narinfos read and the pins into what
//!   to delete: narinfos in levels (every referrer before what it refers
//!   to), then the NARs no kept narinfo names, then the other per-path files.
//!
//! The argument for why this is safe is in the README ("Cache GC").

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::narinfo::hash_part;

/// Where pins live.
pub const PINS_PREFIX: &str = "pins/";
/// Where collector records live.
pub const GC_PREFIX: &str = "gc/";
/// The schema of a collector record.
pub const GC_SCHEMA: &str = "cargo-release-dist/cache-gc/v1";
/// A pin's Content-Type.
pub const CONTENT_TYPE_PIN: &str = "text/plain; charset=utf-8";
/// Pins under this prefix belong to a push in progress (a push without
/// `--pin`), and are removed when it ends.
pub const TRANSIENT: &str = "transient/";

/// The key of pin `name`.
pub fn pin_key(name: &str) -> String {
    format!("{PINS_PREFIX}{name}")
}

/// Checks a pin name: `[A-Za-z0-9._+-]` in `/`-separated parts, none of
/// them empty, `.` or `..`.
pub fn validate_pin_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 200 {
        return Err("a pin name has 1 to 200 characters".into());
    }
    for part in name.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(format!("`{name}` has an empty, `.` or `..` part"));
        }
        if let Some(c) = part
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "._+-".contains(*c)))
        {
            return Err(format!(
                "`{name}` has `{c}`: use letters, digits, `.`, `_`, `+`, `-` and `/`"
            ));
        }
    }
    Ok(())
}

/// A pin's text: the store paths, sorted, one per line.
pub fn render_pin(paths: &[String]) -> String {
    let sorted: BTreeSet<&String> = paths.iter().collect();
    sorted.into_iter().map(|p| format!("{p}\n")).collect()
}

/// The store paths a pin names.
pub fn parse_pin(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// What a collector is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GcState {
    /// Deleting: pushes wait.
    Deleting,
    /// Finished.
    Done,
}

/// `gc/<id>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GcRecord {
    /// [`GC_SCHEMA`].
    pub schema: String,
    /// The run's id (also in the key).
    pub id: String,
    /// Where it runs, for messages.
    pub host: String,
    /// What it is doing.
    pub state: GcState,
    /// When it began deleting (RFC 3339).
    pub started: String,
    /// It deletes nothing after this (RFC 3339), unless it renews it.
    pub alive_until: String,
    /// When it ended (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
}

impl GcRecord {
    /// The record's key.
    pub fn key(&self) -> String {
        format!("{GC_PREFIX}{}.json", self.id)
    }

    /// Whether a push must wait for it at `now`: it is deleting and its
    /// lease, plus `skew` for clocks that differ, has not run out. A record
    /// whose lease runs further than one `lease` plus `skew` from now was
    /// not written by a collector (one renews by `lease` at most): it holds
    /// nothing, so a forged record cannot block pushes for ever.
    pub fn holds_pushes(&self, now: SystemTime, lease: Duration, skew: Duration) -> bool {
        self.state == GcState::Deleting
            && crate::clock::parse_rfc3339(&self.alive_until).is_some_and(|t| {
                now < t.checked_add(skew).unwrap_or(t)
                    && now
                        .checked_add(lease + skew)
                        .is_some_and(|latest| t <= latest)
            })
    }
}

/// What the collector needs of one narinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NarinfoRefs {
    /// `URL:` (the NAR file's key).
    pub url: String,
    /// The hash parts of `References:` (itself left out).
    pub references: Vec<String>,
}

/// Reads `URL:` and `References:` from a narinfo's text; `None` when it has
/// no `StorePath:` or `URL:` (not a narinfo this collector understands,
/// so it is kept with everything it might need).
pub fn parse_narinfo_refs(text: &str) -> Option<NarinfoRefs> {
    let mut store_path = None;
    let mut url = None;
    let mut references = Vec::new();
    for line in text.lines() {
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match field {
            "StorePath" => store_path = Some(value.to_string()),
            "URL" => url = Some(value.to_string()),
            "References" => references = value.split_whitespace().map(str::to_string).collect(),
            _ => {}
        }
    }
    let own = hash_part(&store_path?).to_string();
    Some(NarinfoRefs {
        url: url?,
        references: references
            .iter()
            .map(|r| hash_part(r).to_string())
            .filter(|h| *h != own)
            .collect(),
    })
}

/// What `cache verify` found wrong with a cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Damage {
    /// Narinfos whose NAR (`URL:`) is not in the cache.
    pub nar_missing: Vec<String>,
    /// Narinfos that reference (directly or not) a path whose narinfo is
    /// missing or damaged: a client that substitutes them fails.
    pub closure_broken: Vec<String>,
    /// What a repair deletes, in order: the paths farthest from the damage
    /// first (referrers before what they reference), so that no narinfo is
    /// ever left referring to one already gone.
    pub repair_order: Vec<String>,
}

/// Finds the damage in a cache: `narinfos` by hash part (`None` for one
/// that cannot be read, which is left alone), and every NAR key present.
pub fn damage(narinfos: &BTreeMap<String, Option<NarinfoRefs>>, nars: &BTreeSet<String>) -> Damage {
    let nar_missing: Vec<String> = narinfos
        .iter()
        .filter(|(_, r)| r.as_ref().is_some_and(|r| !nars.contains(&r.url)))
        .map(|(h, _)| h.clone())
        .collect();
    // The damage itself: no NAR, or a reference with no narinfo; then
    // everything that reaches it.
    let refs_of = |h: &str| -> &[String] {
        narinfos
            .get(h)
            .and_then(|r| r.as_ref())
            .map_or(&[][..], |r| &r.references[..])
    };
    let mut affected: BTreeSet<&str> = narinfos
        .keys()
        .filter(|h| nar_missing.contains(h) || refs_of(h).iter().any(|x| !narinfos.contains_key(x)))
        .map(String::as_str)
        .collect();
    loop {
        let more: Vec<&str> = narinfos
            .keys()
            .map(String::as_str)
            .filter(|h| {
                !affected.contains(h) && refs_of(h).iter().any(|x| affected.contains(x.as_str()))
            })
            .collect();
        if more.is_empty() {
            break;
        }
        affected.extend(more);
    }
    let closure_broken: Vec<String> = affected
        .iter()
        .filter(|h| !nar_missing.iter().any(|m| m == *h))
        .map(|h| h.to_string())
        .collect();
    // Referrers first: each round takes the paths no remaining one refers to.
    let mut remaining = affected;
    let mut repair_order = Vec::new();
    while !remaining.is_empty() {
        let referenced: BTreeSet<&str> = remaining
            .iter()
            .flat_map(|h| refs_of(h).iter().map(String::as_str))
            .collect();
        let mut ready: Vec<&str> = remaining
            .iter()
            .copied()
            .filter(|h| !referenced.contains(h))
            .collect();
        if ready.is_empty() {
            ready = remaining.iter().copied().collect(); // a cycle: Nix makes none
        }
        for h in &ready {
            remaining.remove(h);
            repair_order.push(h.to_string());
        }
    }
    Damage {
        nar_missing,
        closure_broken,
        repair_order,
    }
}

/// One narinfo in the listing, by hash part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedNarinfo {
    /// When it was last written.
    pub modified: Option<SystemTime>,
    /// Its parsed text, when it was read and understood.
    pub refs: Option<NarinfoRefs>,
}

/// Everything [`decide`] looks at.
#[derive(Debug, Clone, Default)]
pub struct CacheView {
    /// Narinfos by hash part.
    pub narinfos: BTreeMap<String, ListedNarinfo>,
    /// NAR files: key and time.
    pub nars: Vec<(String, Option<SystemTime>)>,
    /// Other per-path files (`<hash>.ls`): key, hash part, time.
    pub per_path: Vec<(String, String, Option<SystemTime>)>,
    /// Pins: name, the hash parts they name, when written.
    pub pins: Vec<(String, Vec<String>, Option<SystemTime>)>,
}

/// What to delete, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcDecision {
    /// Narinfos (hash parts) kept: reachable from a pin or too young.
    pub kept: BTreeSet<String>,
    /// Narinfo keys to delete, level by level: nothing in a level refers to
    /// anything in an earlier one, so every narinfo left is closed whenever
    /// a run stops.
    pub narinfo_levels: Vec<Vec<String>>,
    /// NAR keys to delete (after every narinfo).
    pub nars: Vec<String>,
    /// Other per-path keys to delete.
    pub per_path: Vec<String>,
    /// Why no NAR is deleted this time, if so.
    pub nars_deferred: Option<String>,
    /// Transient pins older than [`PUSH_WINDOW`]: a push killed before it
    /// removed its own. They keep nothing, and go.
    pub stale_pins: Vec<String>,
}

impl GcDecision {
    /// How many objects it deletes.
    pub fn count(&self) -> usize {
        self.narinfo_levels.iter().map(Vec::len).sum::<usize>()
            + self.nars.len()
            + self.per_path.len()
    }
}

/// When a pin naming a path the cache lacks is taken as a push still at
/// work (so NARs stay: that push may be about to name one).
pub const PUSH_WINDOW: Duration = Duration::from_secs(24 * 3600);

fn young(t: Option<SystemTime>, now: SystemTime, grace: Duration) -> bool {
    // An object without a time is taken as young: keep what is unknown.
    t.is_none_or(|t| t + grace > now)
}

/// Decides what a collection deletes. Kept: every narinfo a pin names or
/// reaches through `References`, every narinfo younger than `grace` or not
/// understood, and everything those reach. Deleted: the other narinfos,
/// then NARs older than `grace` that no kept narinfo names, then per-path
/// files of paths not kept.
pub fn decide(view: &CacheView, now: SystemTime, grace: Duration) -> GcDecision {
    let stale = |name: &str, t: Option<SystemTime>| {
        name.starts_with(TRANSIENT) && !young(t, now, PUSH_WINDOW)
    };
    let stale_pins: Vec<String> = view
        .pins
        .iter()
        .filter(|(name, _, t)| stale(name, *t))
        .map(|(name, _, _)| name.clone())
        .collect();
    let mut roots: Vec<&str> = view
        .pins
        .iter()
        .filter(|(name, _, t)| !stale(name, *t))
        .flat_map(|(_, hashes, _)| hashes.iter().map(String::as_str))
        .collect();
    for (hash, n) in &view.narinfos {
        if n.refs.is_none() || young(n.modified, now, grace) {
            roots.push(hash);
        }
    }
    let kept = reach(&view.narinfos, roots);
    let dead: BTreeSet<&String> = view
        .narinfos
        .keys()
        .filter(|h| !kept.contains(*h))
        .collect();
    let narinfo_levels = levels(&view.narinfos, &dead);
    let named: HashSet<&str> = kept
        .iter()
        .filter_map(|h| view.narinfos.get(h)?.refs.as_ref())
        .map(|r| r.url.as_str())
        .collect();
    let nars_deferred = in_progress_push(view, now);
    let nars = match nars_deferred {
        Some(_) => Vec::new(),
        None => view
            .nars
            .iter()
            .filter(|(key, t)| !named.contains(key.as_str()) && !young(*t, now, grace))
            .map(|(key, _)| key.clone())
            .collect(),
    };
    let per_path = view
        .per_path
        .iter()
        .filter(|(_, hash, t)| !kept.contains(hash) && !young(*t, now, grace))
        .map(|(key, _, _)| key.clone())
        .collect();
    GcDecision {
        kept,
        narinfo_levels,
        nars,
        per_path,
        nars_deferred,
        stale_pins,
    }
}

/// Every hash part reachable from `roots` through the narinfos' references
/// (a root the cache lacks is kept as a name, with nothing under it).
fn reach<'a>(
    narinfos: &'a BTreeMap<String, ListedNarinfo>,
    roots: Vec<&'a str>,
) -> BTreeSet<String> {
    let mut kept: BTreeSet<String> = BTreeSet::new();
    let mut todo = roots;
    while let Some(h) = todo.pop() {
        if !kept.insert(h.to_string()) {
            continue;
        }
        if let Some(refs) = narinfos.get(h).and_then(|n| n.refs.as_ref()) {
            todo.extend(refs.references.iter().map(String::as_str));
        }
    }
    kept
}

/// `dead` in levels: level 0 holds what no dead narinfo refers to; each
/// later level, what only earlier levels refer to. (Store paths have no
/// reference cycles but self-references, which are left out; a cycle, if
/// any, goes last, in one level.)
fn levels(
    narinfos: &BTreeMap<String, ListedNarinfo>,
    dead: &BTreeSet<&String>,
) -> Vec<Vec<String>> {
    let mut referrers: HashMap<&str, usize> = dead.iter().map(|h| (h.as_str(), 0)).collect();
    for h in dead {
        for r in narinfos[*h].refs.iter().flat_map(|r| &r.references) {
            if let Some(n) = referrers.get_mut(r.as_str()) {
                *n += 1;
            }
        }
    }
    let mut out = Vec::new();
    let mut left: BTreeSet<&str> = dead.iter().map(|h| h.as_str()).collect();
    while !left.is_empty() {
        let level: Vec<&str> = left.iter().copied().filter(|h| referrers[h] == 0).collect();
        let level = if level.is_empty() {
            left.iter().copied().collect()
        } else {
            level
        };
        for h in &level {
            left.remove(h);
            for r in narinfos[*h].refs.iter().flat_map(|r| &r.references) {
                if let Some(n) = referrers.get_mut(r.as_str()) {
                    *n = n.saturating_sub(1);
                }
            }
        }
        out.push(level.iter().map(|h| format!("{h}.narinfo")).collect());
    }
    out
}

/// A pin younger than [`PUSH_WINDOW`] that names a path without a narinfo:
/// its push may still be writing, and may name a NAR that is there already.
fn in_progress_push(view: &CacheView, now: SystemTime) -> Option<String> {
    view.pins
        .iter()
        .filter(|(_, _, t)| young(*t, now, PUSH_WINDOW))
        .find_map(|(name, hashes, t)| {
            let missing = hashes
                .iter()
                .filter(|h| !view.narinfos.contains_key(*h))
                .count();
            (missing > 0 && young(*t, now, PUSH_WINDOW)).then(|| {
                format!(
                "pin `{name}` names {missing} paths the cache lacks: a push to it may be at work"
            )
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = include_str!(
        "../../tests/vectors/nix-cache/bc-zst/nqhhs5kpnf66v25jh169a5alb38zyb3w.narinfo"
    );
    const LIBFOO: &str = include_str!(
        "../../tests/vectors/nix-cache/bc-zst/v22cmy24vqbmvpn2rk6h1g45vdp1q12j.narinfo"
    );

    #[test]
    fn reads_url_and_references_from_narinfos_nix_wrote() {
        let hello = parse_narinfo_refs(HELLO).unwrap();
        assert_eq!(
            hello.url,
            "nar/1pckbv4abyzv5j5qrs0jvjhrv52zaiarnxdcx2518rsj0kmh74xq.nar.zst"
        );
        assert_eq!(hello.references, ["v22cmy24vqbmvpn2rk6h1g45vdp1q12j"]);
        assert!(parse_narinfo_refs(LIBFOO).unwrap().references.is_empty());
        assert_eq!(parse_narinfo_refs("StorePath: /nix/store/x-y\n"), None);
    }

    #[test]
    fn pins_round_trip_and_names_are_checked() {
        let text = render_pin(&["/nix/store/b-x".into(), "/nix/store/a-y".into()]);
        assert_eq!(text, "/nix/store/a-y\n/nix/store/b-x\n");
        assert_eq!(parse_pin(&format!("# note\n\n{text}")).len(), 2);
        for ok in ["toolchain", "release/v1.2.3", "transient/1-2", "a+b_c.d"] {
            assert!(validate_pin_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a//b", "../x", "a b", "x/", "é"] {
            assert!(validate_pin_name(bad).is_err(), "{bad}");
        }
    }

    fn t(secs: u64) -> Option<SystemTime> {
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    }

    fn narinfo(url: &str, refs: &[&str], at: u64) -> ListedNarinfo {
        ListedNarinfo {
            modified: t(at),
            refs: Some(NarinfoRefs {
                url: url.into(),
                references: refs.iter().map(|r| r.to_string()).collect(),
            }),
        }
    }

    /// app → lib → libc; old → lib; tool alone; young (new) → old2.
    fn view() -> CacheView {
        let mut v = CacheView::default();
        for (h, url, refs, at) in [
            ("app", "nar/app", vec!["lib"], 10),
            ("lib", "nar/lib", vec!["libc"], 10),
            ("libc", "nar/libc", vec![], 10),
            ("old", "nar/old", vec!["lib", "oldlib"], 10),
            ("oldlib", "nar/shared", vec![], 10),
            ("tool", "nar/shared", vec![], 10),
            ("new", "nar/new", vec!["old2"], 990),
            ("old2", "nar/old2", vec![], 10),
        ] {
            v.narinfos.insert(h.into(), narinfo(url, &refs, at));
        }
        v.nars = [
            "app", "lib", "libc", "old", "shared", "new", "old2", "orphan", "fresh",
        ]
        .iter()
        .map(|n| (format!("nar/{n}"), t(if *n == "fresh" { 995 } else { 10 })))
        .collect();
        v.per_path = vec![
            ("old.ls".into(), "old".into(), t(10)),
            ("app.ls".into(), "app".into(), t(10)),
        ];
        v.pins = vec![("release/v1".into(), vec!["app".into()], t(10))];
        v
    }

    #[test]
    fn keeps_what_pins_and_young_paths_reach_and_deletes_referrers_first() {
        let d = decide(
            &view(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1000),
            Duration::from_secs(60),
        );
        let kept: Vec<&str> = d.kept.iter().map(String::as_str).collect();
        assert_eq!(kept, ["app", "lib", "libc", "new", "old2"]);
        // old refers to oldlib: old goes a level before it.
        assert_eq!(
            d.narinfo_levels,
            [vec!["old.narinfo", "tool.narinfo"], vec!["oldlib.narinfo"]]
        );
        // nar/shared is named only by deleted narinfos; nar/fresh is young.
        assert_eq!(d.nars, ["nar/old", "nar/shared", "nar/orphan"]);
        assert_eq!(d.per_path, ["old.ls"]);
        assert_eq!(d.count(), 7);
    }

    #[test]
    fn a_pin_naming_a_missing_path_defers_nar_deletion_while_it_is_young() {
        let mut v = view();
        v.pins.push(("push".into(), vec!["coming".into()], t(900)));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let d = decide(&v, now, Duration::from_secs(60));
        assert!(d.nars.is_empty());
        assert!(d.nars_deferred.unwrap().contains("pin `push`"));
        assert_eq!(d.narinfo_levels.len(), 2, "narinfos still go");
        let later = now + PUSH_WINDOW;
        assert_eq!(
            decide(&v, later, Duration::from_secs(60)).nars_deferred,
            None
        );
    }

    #[test]
    fn a_transient_pin_a_day_old_is_stale_and_keeps_nothing() {
        let mut v = view();
        v.pins.push((
            "transient/1-2".into(),
            vec!["old".into(), "oldlib".into()],
            t(10),
        ));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10) + PUSH_WINDOW;
        let d = decide(&v, now, Duration::from_secs(60));
        assert_eq!(d.stale_pins, ["transient/1-2"]);
        assert!(!d.kept.contains("old"), "a stale pin keeps nothing");
        let fresh = decide(
            &v,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1000),
            Duration::from_secs(60),
        );
        assert!(fresh.stale_pins.is_empty() && fresh.kept.contains("old"));
    }

    #[test]
    fn damage_is_a_missing_nar_and_everything_that_reaches_it() {
        let refs = |url: &str, r: &[&str]| {
            Some(NarinfoRefs {
                url: url.into(),
                references: r.iter().map(|s| s.to_string()).collect(),
            })
        };
        // app -> lib -> base; lib's NAR is gone; tool stands alone; x is unreadable.
        let narinfos: BTreeMap<String, Option<NarinfoRefs>> = [
            ("app", refs("nar/app.nar", &["lib"])),
            ("lib", refs("nar/lib.nar", &["base"])),
            ("base", refs("nar/base.nar", &[])),
            ("tool", refs("nar/tool.nar", &["gone"])),
            ("x", None),
        ]
        .into_iter()
        .map(|(h, r)| (h.to_string(), r))
        .collect();
        let nars: BTreeSet<String> = ["nar/app.nar", "nar/base.nar", "nar/tool.nar"]
            .into_iter()
            .map(String::from)
            .collect();
        let d = damage(&narinfos, &nars);
        assert_eq!(d.nar_missing, ["lib"]);
        assert_eq!(
            d.closure_broken,
            ["app", "tool"],
            "tool references a path with no narinfo"
        );
        assert_eq!(d.repair_order, ["app", "tool", "lib"], "referrers first");
        let all: BTreeSet<String> = ["nar/app.nar", "nar/base.nar", "nar/lib.nar", "nar/tool.nar"]
            .into_iter()
            .map(String::from)
            .collect();
        let mut whole = narinfos.clone();
        whole.remove("tool");
        assert_eq!(damage(&whole, &all), Damage::default());
    }

    #[test]
    fn a_record_holds_pushes_only_while_deleting_and_alive() {
        let now = crate::clock::parse_rfc3339("2026-12-01T10:00:00Z").unwrap();
        let mut r = GcRecord {
            schema: GC_SCHEMA.into(),
            id: "x".into(),
            host: "h".into(),
            state: GcState::Deleting,
            started: "2026-12-01T09:59:00Z".into(),
            alive_until: "2026-12-01T09:59:50Z".into(),
            finished: None,
        };
        let (lease, skew) = (Duration::from_secs(60), Duration::from_secs(15));
        assert!(r.holds_pushes(now, lease, skew), "within the skew");
        r.alive_until = "2026-12-01T09:59:40Z".into();
        assert!(
            !r.holds_pushes(now, lease, skew),
            "lease run out: a killed collector"
        );
        r.alive_until = "2026-12-01T10:01:15Z".into();
        assert!(r.holds_pushes(now, lease, skew), "a lease and a skew ahead");
        for forged in ["2026-12-01T10:01:16Z", "9999-12-31T23:59:59Z"] {
            r.alive_until = forged.into();
            assert!(
                !r.holds_pushes(now, lease, skew),
                "{forged}: no collector writes it"
            );
        }
        r.alive_until = "2026-12-01T10:01:00Z".into();
        r.state = GcState::Done;
        assert!(!r.holds_pushes(now, lease, skew));
        assert_eq!(r.key(), "gc/x.json");
    }
}
