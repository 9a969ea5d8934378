//! Pins and `cache gc` against Garage, read back with stock nix and curl
//! over the web endpoint; collections raced against pushes and each other,
//! and killed part-way.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::garage::Garage;
use crate::util::{assert_closed, assert_substitutes, keys};
use crate::util::{key_pair, stock, tool, wait_bounded};

/// Three releases that share `shared` and `libc`, a toolchain over `libc`,
/// and a `dead` closure that overlaps release 1 and has paths of its own.
const CLOSURES: &str = r#"
{ salt }:
let mk = name: deps: derivation {
    inherit name salt;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    PATH = "/usr/bin:/bin";
    deps = builtins.concatStringsSep " " (map toString deps);
    args = [ "-c" "mkdir -p $out; echo $deps > $out/refs; echo ${name} > $out/data" ];
  };
  libc = mk "gc-libc" [ ];
  shared = mk "gc-shared" [ libc ];
  only = i: mk "gc-only-${i}" [ libc ];
  rel = i: mk "gc-rel-${i}" [ shared (only i) ];
  deadChain = builtins.genList (i: mk "gc-dead-${toString i}" [ libc ]) 12;
in {
  rel1 = rel "1"; rel2 = rel "2"; rel3 = rel "3";
  toolchain = mk "gc-toolchain" [ libc ];
  dead = mk "gc-dead-root" ([ (rel "1") ] ++ deadChain);
  alive = mk "gc-alive" [ (mk "gc-dead-root" ([ (rel "1") ] ++ deadChain)) ];
}
"#;

/// Builds the closures with a salt of their own; returns attribute → path.
fn closures(dir: &std::path::Path, salt: &str) -> impl Fn(&str) -> String {
    let file = dir.join("closures.nix");
    std::fs::write(&file, CLOSURES).unwrap();
    let file = file.to_str().unwrap().to_string();
    let salt = salt.to_string();
    move |attr: &str| {
        stock(
            "nix-build",
            &[
                "--no-out-link",
                &file,
                "-A",
                attr,
                "--argstr",
                "salt",
                &salt,
                "--option",
                "substituters",
                "",
            ],
        )
        .trim()
        .to_string()
    }
}

struct Cache {
    g: Garage,
    bucket: String,
    url: String,
    pk: String,
    _keys: tempfile::TempDir,
}

fn cache(prefix: &str) -> Cache {
    let g = Garage::from_env();
    let bucket = g.bucket(prefix);
    let keys = tempfile::tempdir().unwrap();
    let (sk, pk) = key_pair(keys.path());
    let url = g.url(&bucket, &format!("&secret-key={sk}"));
    Cache {
        g,
        bucket,
        url,
        pk,
        _keys: keys,
    }
}

/// The tool, with the test lease (3 s) so that a killed collector holds
/// pushes for seconds, not a minute.
fn rd() -> Command {
    let mut c = tool();
    c.arg("release-dist")
        .env("RELEASE_DIST_TEST_GC_LEASE_MS", "3000")
        .current_dir(crate::util::repo_root());
    c
}

fn ok(mut c: Command) -> Value {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed:\n{}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn push(c: &Cache, path: &str, pin: Option<&str>) -> Value {
    let mut cmd = rd();
    cmd.args(["--message-format", "json", "cache", "push", "--to", &c.url]);
    if let Some(p) = pin {
        cmd.args(["--pin", p]);
    }
    cmd.arg(path);
    ok(cmd)
}

fn gc(c: &Cache, extra: &[&str]) -> Command {
    let mut cmd = rd();
    cmd.args(["--message-format", "json"])
        .args(extra)
        .args(["cache", "gc", "--cache", &c.url, "--grace", "0"]);
    cmd
}

/// HTTP status of `key` over the web endpoint.
fn status(c: &Cache, key: &str) -> String {
    stock(
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{}/{key}", c.g.web_url(&c.bucket)),
        ],
    )
}

fn narinfo(path: &str) -> String {
    format!("{}.narinfo", &path["/nix/store/".len()..][..32])
}

fn requisites(path: &str) -> Vec<String> {
    stock("nix-store", &["-qR", path])
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn gc_keeps_every_pinned_closure_and_deletes_only_what_nothing_pins() {
    let c = cache("gc");
    let work = tempfile::tempdir().unwrap();
    let build = closures(work.path(), &format!("keep-{}", std::process::id()));
    let (r1, r2, r3, tc) = (
        build("rel1"),
        build("rel2"),
        build("rel3"),
        build("toolchain"),
    );
    push(&c, &tc, Some("toolchain/t1"));
    for (path, pin) in [
        (&r1, "release/r1"),
        (&r2, "release/r2"),
        (&r3, "release/r3"),
    ] {
        push(&c, path, Some(pin));
    }
    let pins = ok({
        let mut cmd = rd();
        cmd.args([
            "--message-format",
            "json",
            "cache",
            "pin",
            "ls",
            "--cache",
            &c.url,
        ]);
        cmd
    });
    let names: Vec<&str> = pins["pins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["release/r1", "release/r2", "release/r3", "toolchain/t1"]
    );

    // A collection with every release pinned deletes nothing.
    let none = ok(gc(&c, &[]));
    assert_eq!(none["narinfosDeleted"], 0, "{none}");

    ok({
        let mut cmd = rd();
        cmd.args(["cache", "pin", "rm", "--cache", &c.url, "release/r2"]);
        cmd
    });
    // The dry run lists what goes, and deletes nothing.
    let before = c.g.object_count(&c.bucket);
    let plan = ok(gc(&c, &["--dry-run"]));
    let planned: Vec<&str> = plan["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    let only2 = requisites(&r2)
        .into_iter()
        .filter(|p| !requisites(&r1).contains(p) && !requisites(&r3).contains(p))
        .collect::<Vec<_>>();
    assert_eq!(only2.len(), 2, "rel-2 and only-2");
    for p in &only2 {
        assert!(planned.contains(&narinfo(p).as_str()), "{planned:?}");
    }
    assert_eq!(planned.len(), 4, "two narinfos and their NARs: {planned:?}");
    assert_eq!(
        c.g.object_count(&c.bucket),
        before,
        "a dry run deletes nothing"
    );

    let done = ok(gc(&c, &[]));
    assert_eq!(done["narinfosDeleted"], 2, "{done}");
    assert_eq!(done["narsDeleted"], 2, "{done}");
    for p in &only2 {
        assert_eq!(status(&c, &narinfo(p)), "404", "{p} only release 2 had");
    }
    for p in requisites(&r1).iter().chain(&requisites(&r3)) {
        assert_eq!(status(&c, &narinfo(p)), "200", "{p} is still pinned");
    }
    assert_closed(&c.g, &c.bucket);
    for root in [&r1, &r3, &tc] {
        assert_substitutes(&c.g, &c.bucket, root, &c.pk);
    }
}

#[test]
fn gc_of_a_cache_without_pins_is_refused_and_deletes_nothing() {
    let c = cache("gc-nopin");
    let work = tempfile::tempdir().unwrap();
    let build = closures(work.path(), &format!("nopin-{}", std::process::id()));
    push(&c, &build("rel1"), None);
    let before = c.g.object_count(&c.bucket);
    let out = gc(&c, &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has no pins") && err.contains("--pin NAME"),
        "{err}"
    );
    assert_eq!(c.g.object_count(&c.bucket), before);
}

/// Starts `cache gc` slowed down (one key per delete request, `pause_ms`
/// before each) and returns once it has deleted `after` objects.
fn gc_until(c: &Cache, pause_ms: &str, after: usize) -> Child {
    let mut child = gc(c, &[])
        .env("RELEASE_DIST_TEST_GC_BATCH", "1")
        .env("RELEASE_DIST_TEST_DELETE_PAUSE_MS", pause_ms)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut deleted = 0;
    while deleted < after {
        match lines.next() {
            Some(Ok(l)) if l.starts_with(r#"{"event":"deleted""#) => deleted += 1,
            Some(Ok(_)) => {}
            _ => break,
        }
    }
    std::thread::spawn(move || for _ in lines {});
    child
}

/// A cache holding release 1 (pinned) and the dead closure (pushed without
/// a pin), which refers to release 1 and has 13 paths of its own.
fn with_dead_closure(prefix: &str) -> (Cache, tempfile::TempDir, impl Fn(&str) -> String) {
    let c = cache(prefix);
    let work = tempfile::tempdir().unwrap();
    let build = closures(work.path(), &format!("{prefix}-{}", std::process::id()));
    push(&c, &build("rel1"), Some("release/r1"));
    push(&c, &build("dead"), None);
    (c, work, build)
}

#[test]
fn a_push_racing_a_gc_leaves_its_whole_closure() {
    // `alive` refers to the dead closure: the push finds those paths present
    // and skips them, while the collection is deleting them.
    for (i, start_after) in [0usize, 2, 6, 12].iter().enumerate() {
        let (c, _w, build) = with_dead_closure(&format!("race-push{i}"));
        let alive = build("alive");
        let mut collector = gc_until(&c, "150", *start_after);
        push(&c, &alive, Some("release/alive"));
        assert!(wait_bounded(&mut collector, Duration::from_secs(60)).success());
        assert_closed(&c.g, &c.bucket);
        assert_substitutes(&c.g, &c.bucket, &alive, &c.pk);
    }
}

#[test]
fn a_push_between_a_gcs_marking_and_its_deleting_is_seen() {
    // The collector has read the pins and decided; then, before it writes
    // its record (so the push does not wait), the push pins `alive` and
    // skips the dead paths it finds. The collector must read the pins again.
    let (c, _w, build) = with_dead_closure("race-mark");
    let alive = build("alive");
    let mut collector = gc(&c, &[])
        .env("RELEASE_DIST_TEST_GC_MARK_DELAY_MS", "2500")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let pushed = push(&c, &alive, Some("release/alive"));
    assert!(
        pushed["skipped"].as_u64().unwrap() >= 13,
        "the dead paths were there: {pushed}"
    );
    assert!(wait_bounded(&mut collector, Duration::from_secs(60)).success());
    assert_closed(&c.g, &c.bucket);
    assert_substitutes(&c.g, &c.bucket, &alive, &c.pk);
}

#[test]
fn two_collections_at_once_keep_the_pins_and_the_cache_closed() {
    // A slow collector and a fast one delete the same dead closure; a push
    // that starts while both are at work must wait for both, not only for
    // the one whose record it happens to read first.
    for (slow, fast) in [("150", "40"), ("120", "60")] {
        let (c, _w, build) = with_dead_closure(&format!("race-gc{slow}"));
        let alive = build("alive");
        let mut a = gc_until(&c, slow, 2);
        let mut b = gc_until(&c, fast, 1);
        push(&c, &alive, Some("release/alive"));
        assert!(wait_bounded(&mut a, Duration::from_secs(60)).success());
        assert!(wait_bounded(&mut b, Duration::from_secs(60)).success());
        assert_closed(&c.g, &c.bucket);
        assert_substitutes(&c.g, &c.bucket, &build("rel1"), &c.pk);
        assert_substitutes(&c.g, &c.bucket, &alive, &c.pk);
        // Unpinned again, the dead closure goes with one more collection.
        ok({
            let mut cmd = rd();
            cmd.args(["cache", "pin", "rm", "--cache", &c.url, "release/alive"]);
            cmd
        });
        ok(gc(&c, &[]));
        assert_eq!(status(&c, &narinfo(&build("dead"))), "404");
        let left: Vec<String> = keys(&c.g, &c.bucket)
            .into_iter()
            .filter(|k| k.ends_with(".narinfo"))
            .collect();
        assert_eq!(left.len(), requisites(&build("rel1")).len(), "{left:?}");
    }
}

#[test]
fn a_killed_gc_leaves_nothing_dangling_and_a_rerun_completes() {
    for after in [1usize, 5, 14, 20] {
        let (c, _w, build) = with_dead_closure(&format!("kill-gc{after}"));
        let mut collector = gc_until(&c, "100", after);
        let _ = collector.kill();
        let _ = collector.wait();
        assert_closed(&c.g, &c.bucket);
        assert_substitutes(&c.g, &c.bucket, &build("rel1"), &c.pk);
        // A push waits for the dead collector's lease (3 s here), then works.
        push(&c, &build("rel2"), Some("release/r2"));
        let done = ok(gc(&c, &[]));
        assert!(done["narinfosDeleted"].as_u64().is_some(), "{done}");
        assert_eq!(status(&c, &narinfo(&build("dead"))), "404");
        assert_closed(&c.g, &c.bucket);
        assert!(
            !keys(&c.g, &c.bucket).iter().any(|k| k.starts_with("gc/")),
            "the killed run's record is gone once its lease ran out"
        );
    }
}
