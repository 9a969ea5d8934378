//! A property test over every parser of outside input (docs/threat-model.md):
//! random and mutated inputs from a fixed seed, no panic, and no parse that
//! allocates past [`PEAK_BOUND`] (a counting allocator measures each call).
//!
//! The suite runs [`DEFAULT_ROUNDS`] inputs per parser (well under a minute
//! in a debug build); `scripts/fuzz-parsers.sh` runs the same with
//! `RELEASE_DIST_FUZZ_ROUNDS` set much higher, in a release build.
//!
//! Release and Packages files and repodata are not parsed from a store:
//! the repositories' indices are derived from per-package entries that this
//! tool writes (and copies as bytes), so there is no reader of them to test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Inputs per parser in the suite.
const DEFAULT_ROUNDS: usize = 10_000;
/// No single parse may allocate more than this at its peak.
const PEAK_BOUND: usize = 256 << 20;

/// The system allocator, counting this thread's live and peak bytes.
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call goes to the system allocator unchanged; the counters
// are const-initialised thread-locals (no allocation on first use).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|l| {
            let now = l.get() + layout.size();
            l.set(now);
            let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
        });
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(layout.size())));
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// xorshift64*: a fixed seed gives the same inputs on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Pieces that parsers of this tool care about, spliced into inputs.
const TOKENS: &[&str] = &[
    "\"",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "null",
    "true",
    "-1",
    "1e999",
    "18446744073709551616",
    "sha256:",
    "sha256-",
    "../",
    "/",
    "//",
    "\n",
    "\r\n",
    "  ",
    "\\u0000",
    "\u{0}",
    "é",
    "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
    "\"digest\":",
    "\"manifests\":",
    "\"layers\":",
    "\"size\":",
    "\"mediaType\":",
    "/nix/store/",
    "References: ",
    "URL: ",
    ".narinfo",
    "v1.0.0",
    "linux/arm/v6",
];

/// One mutation of `seed`.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(8) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.insert(at, rng.next() as u8),
            2 if at < out.len() => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                out.drain(at..end);
            }
            3 if at < out.len() => {
                let end = (at + 1 + rng.below(64)).min(out.len());
                let piece = out[at..end].to_vec();
                for _ in 0..rng.below(8) {
                    out.splice(at..at, piece.iter().copied());
                }
            }
            4 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                out.splice(at..at, t.iter().copied());
            }
            5 => out.truncate(at),
            6 => {
                let n = rng.below(64);
                out.splice(at..at, (0..n).map(|_| rng.next() as u8));
            }
            _ => {}
        }
    }
    out
}

/// Runs `parse` over the seeds and their mutations (and pure noise):
/// a panic or a peak past [`PEAK_BOUND`] fails, naming the input.
fn hammer(name: &str, seeds: &[Vec<u8>], parse: impl Fn(&[u8])) {
    let rounds = std::env::var("RELEASE_DIST_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ROUNDS);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
    for round in 0..rounds {
        let input = match (round, seeds.is_empty()) {
            (r, false) if r < seeds.len() => seeds[r].clone(),
            (_, false) if rng.below(10) > 0 => {
                let pick = rng.below(seeds.len());
                mutate(&mut rng, &seeds[pick])
            }
            _ => {
                let n = rng.below(512);
                (0..n).map(|_| rng.next() as u8).collect()
            }
        };
        PEAK.with(|p| p.set(LIVE.with(Cell::get)));
        let start = LIVE.with(Cell::get);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(&input)));
        let peak = PEAK.with(Cell::get).saturating_sub(start);
        assert!(
            caught.is_ok(),
            "{name}: panicked on round {round}, input {:?}",
            String::from_utf8_lossy(&input)
        );
        assert!(
            peak <= PEAK_BOUND,
            "{name}: allocated {peak} bytes on round {round}"
        );
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn seeds(items: &[&[u8]]) -> Vec<Vec<u8>> {
    items.iter().map(|s| s.to_vec()).collect()
}

mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::oci::document::{self, Descriptor};

    fn oci_seeds() -> Vec<Vec<u8>> {
        let cfg = Descriptor::of(document::CONFIG_MEDIA_TYPE, b"{}");
        let layer = Descriptor::of(document::LAYER_TAR_GZIP, b"x");
        let manifest = document::manifest_bytes(&cfg, std::slice::from_ref(&layer));
        let mut entry = Descriptor::of(document::MANIFEST_MEDIA_TYPE, &manifest);
        entry.platform = Some(document::OciPlatform::of(
            crate::platform::Platform::defaults()[0],
        ));
        let index = document::index_bytes(&[entry], &Default::default());
        let att = crate::oci::referrers::attestation(
            &Descriptor::of(document::INDEX_MEDIA_TYPE, &index),
            b"{}",
            "https://slsa.dev/provenance/v1",
            "hello:v1.0.0",
            "2026-01-01T00:00:00Z",
        );
        let referrers = crate::oci::referrers::merged_referrers(None, &att.descriptor);
        let layout = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": document::INDEX_MEDIA_TYPE, "digest": Digest::of(&index), "size": index.len(),
            "annotations": {"org.opencontainers.image.ref.name": "v1.0.0"}}]}))
        .unwrap();
        vec![manifest, index, att.manifest, referrers, layout]
    }

    #[test]
    fn oci_documents() {
        let seeds = oci_seeds();
        hammer("digest", &seeds, |b| {
            let _ = Digest::parse(&text(b));
            let _ = document::is_tag(&text(b));
        });
        hammer("refs_of", &seeds, |b| {
            let _ = crate::oci::reach::refs_of(b);
        });
        hammer("referrers_of", &seeds, |b| {
            let _ = crate::oci::referrers::referrers_of(b);
            let _ = crate::oci::referrers::read_attestation(b);
            let _ = document::media_type_of(b);
        });
        hammer("merged_referrers", &seeds, |b| {
            let ours = Descriptor::of(document::MANIFEST_MEDIA_TYPE, b"x");
            let _ = crate::oci::referrers::merged_referrers(Some(b), &ours);
        });
        hammer("layout_refs", &seeds, |b| {
            let _ = crate::oci::scheme::layout_refs(b);
        });
        hammer("descriptors", &seeds, |b| {
            let _ = serde_json::from_slice::<Descriptor>(b);
            let _ = serde_json::from_slice::<Vec<Descriptor>>(b);
        });
    }

    #[test]
    fn docker_archives_and_image_configs() {
        let tests = crate::docker_archive::tests::layered("amd64", &[b"layer one", b"layer two"]);
        let config = crate::docker_archive::tests::config_for("arm", &[b"x"]);
        let seeds = vec![tests, config];
        hammer("docker archive", &seeds, |b| {
            let _ = crate::docker_archive::scan(b, 1 << 20);
            let _ = crate::docker_archive::config_of(b);
        });
        hammer("image config", &seeds, |b| {
            let _ = crate::docker_archive::parse_config(b);
        });
    }

    #[test]
    fn release_documents() {
        let sums = crate::publish::layout::sha256sums(&[
            ("linux/amd64/hello".into(), "ab".repeat(32)),
            ("hello-v1.tar.gz".into(), "cd".repeat(32)),
        ]);
        let tag_doc = br#"{"flavors":[{"resources":[{"path":"hello"}],"platform":{"architecture":"arm","os":"linux","variant":"v6"}}],"artifacts":[{"path":"hello-v1.tar.gz","kind":"source"}]}"#;
        let name_doc = br#"{"name":"hello","tags":["v1.0.0","v1.1.0"]}"#;
        let seeds = seeds(&[sums.as_bytes(), tag_doc, name_doc]);
        hammer("SHA256SUMS", &seeds, |b| {
            for (path, hex) in crate::publish::layout::parse_sha256sums(&text(b)) {
                let _ = crate::publish::layout::is_safe_path(&path);
                let _ = Digest::from_hex(&hex);
            }
        });
        hammer("tag document", &seeds, |b| {
            let _ = crate::publish::layout::tag_document_paths(b);
        });
        hammer("name document", &seeds, |b| {
            let _ = crate::publish::layout::tags_of_name_document(b);
        });
        hammer("release index listing", &seeds, |b| {
            let listing: Vec<crate::objstore::ObjectMeta> = text(b)
                .lines()
                .map(|k| crate::objstore::ObjectMeta {
                    key: format!("df-dist-v1/hello/{k}"),
                    size: 1,
                    modified: None,
                })
                .collect();
            let _ =
                crate::publish::index::releases(crate::kinds::Layout::DfDist, "hello", &listing);
            let _ = crate::release::semver_of(&text(b));
            let _ = crate::platform::Platform::parse_any(&text(b));
        });
    }

    #[test]
    fn dsse_envelopes_and_statements() {
        let key =
            crate::nixcache::SecretKey::parse(include_str!("../tests/vectors/nix-cache/key.sec"))
                .unwrap();
        let statement = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"hello","digest":{"sha256":"ab"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}"#;
        let envelope =
            crate::provenance::dsse::sign(&key, "application/vnd.in-toto+json", statement);
        let line = serde_json::to_vec(&envelope).unwrap();
        let public = key.public();
        let seeds = seeds(&[&line, statement]);
        hammer("DSSE envelope", &seeds, |b| {
            let _ = crate::provenance::read_statement(b, Some(&public));
            let _ = crate::provenance::read_statement(b, None);
        });
    }

    #[test]
    fn cache_documents() {
        let seeds = seeds(&[
            include_bytes!("../tests/vectors/nix-cache/bc-none/nqhhs5kpnf66v25jh169a5alb38zyb3w.narinfo"),
            b"/nix/store/nqhhs5kpnf66v25jh169a5alb38zyb3w-hello-amd64\n",
            br#"{"schema":"cargo-release-dist/cache-gc/v1","id":"x","host":"h","state":"deleting","started":"2026-12-01T09:59:00Z","aliveUntil":"9999-12-31T23:59:59Z"}"#,
            br#"[{"path":"/nix/store/nqhhs5kpnf66v25jh169a5alb38zyb3w-hello-amd64","narHash":"sha256-AAAA","narSize":560,"references":[]}]"#,
            include_bytes!("../tests/vectors/nix-cache/key.pub"),
        ]);
        hammer("narinfo", &seeds, |b| {
            let _ = crate::nixcache::gc::parse_narinfo_refs(&text(b));
            let _ = crate::nixcache::parse_nar_hash(&text(b));
        });
        hammer("pin", &seeds, |b| {
            for p in crate::nixcache::gc::parse_pin(&text(b)) {
                let _ = crate::nixcache::hash_part(&p);
            }
            let _ = crate::nixcache::gc::validate_pin_name(&text(b));
        });
        hammer("collector record", &seeds, |b| {
            if let Ok(r) = serde_json::from_slice::<crate::nixcache::gc::GcRecord>(b) {
                let now = crate::clock::parse_rfc3339("2026-12-01T10:00:00Z").unwrap();
                let s = std::time::Duration::from_secs;
                let _ = r.holds_pushes(now, s(60), s(15));
            }
        });
        hammer("path-info", &seeds, |b| {
            let _ = crate::nix::parse_path_infos(b);
        });
        hammer("keys", &seeds, |b| {
            let _ = crate::nixcache::PublicKey::parse_any(&text(b));
            let _ = crate::nixcache::SecretKey::parse_any(&text(b));
        });
    }

    #[test]
    fn build_manifests_and_token_claims() {
        let build = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/README.md"
        ))
        .unwrap_or_default();
        let jwt = {
            use base64::Engine;
            let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
            format!(
                "{}.{}.sig",
                b64(r#"{"alg":"RS256"}"#),
                b64(r#"{"access":[{"type":"repository","name":"x","actions":["pull","push"]}]}"#)
            )
        };
        let manifest = br#"{"schemaVersion":1,"name":"hello","version":"0.1.0","artifacts":[{"platform":"linux/amd64","kind":"static","attribute":"a","path":"static/linux/amd64/hello","storePath":"/nix/store/nqhhs5kpnf66v25jh169a5alb38zyb3w-hello","drvPath":"/nix/store/x.drv","narHash":"sha256:x","sha256":"ab","size":1}]}"#;
        let seeds = seeds(&[manifest, jwt.as_bytes(), &build]);
        hammer("build.json", &seeds, |b| {
            let _ = serde_json::from_slice::<crate::build_record::BuildRecord>(b);
        });
        hammer("token claims", &seeds, |b| {
            let _ = crate::oci::token::granted_actions(&text(b), "x");
        });
    }
}
