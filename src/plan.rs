//! A plan: every object a command will write (or skip, or derive), to every
//! destination, known before the first write. `--dry-run` prints it; the
//! executor runs it in phase order. Pure: no I/O, no clock.
//!
//! The JSON document (`--dry-run --message-format json`) is versioned by
//! [`SCHEMA`]; fields are only ever added. It is built from whatever source
//! a command has (build.json for `publish`), so the coming commands that
//! write or delete (`promote`, `rm`, `gc`, package repositories) can reuse
//! the same document.

use serde::Serialize;

/// The schema identifier of every plan document.
pub const SCHEMA: &str = "cargo-release-dist/plan/v1";

/// When an object is written, in the order the phases run. A destination
/// never sees an object of a later phase before every object of the earlier
/// ones that it will get: blobs before the manifests that name them, files
/// before the checksums and provenance over them, those before the tag
/// document that makes the release visible, that before the shared
/// documents that list it, and image tags last of all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Image blobs (layers, configs).
    Blobs,
    /// Image manifests and the index, by digest.
    Manifests,
    /// Release files, each followed by its `.sha256`.
    Files,
    /// `SHA256SUMS`.
    Checksums,
    /// The signed provenance bundle.
    Provenance,
    /// The release's tag document (from here on it is visible).
    TagDocument,
    /// The name document and the release index, derived from a listing.
    SharedDocuments,
    /// Packages in the APT and YUM repositories, then their indices and
    /// signatures, derived from the repositories' bookkeeping.
    Repositories,
    /// Image tags and tag lists.
    Tags,
    /// Binary-cache NAR files.
    Nars,
    /// Binary-cache narinfos (and the per-path objects beside them).
    Narinfos,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 11] = [
        Phase::Nars,
        Phase::Narinfos,
        Phase::Blobs,
        Phase::Manifests,
        Phase::Files,
        Phase::Checksums,
        Phase::Provenance,
        Phase::TagDocument,
        Phase::SharedDocuments,
        Phase::Repositories,
        Phase::Tags,
    ];

    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Blobs => "blobs",
            Phase::Manifests => "manifests",
            Phase::Files => "files",
            Phase::Checksums => "checksums",
            Phase::Provenance => "provenance",
            Phase::TagDocument => "tag-document",
            Phase::SharedDocuments => "shared-documents",
            Phase::Repositories => "repositories",
            Phase::Tags => "tags",
            Phase::Nars => "nars",
            Phase::Narinfos => "narinfos",
        }
    }

    /// When a phase runs in a plan that deletes: what makes a thing visible
    /// goes first (image tags, the tag document), then the shared documents
    /// are derived again without it, then what nothing names any more, from
    /// the top down (narinfos before their NARs, manifests before blobs).
    pub fn deletion_rank(self) -> u8 {
        match self {
            Phase::Tags => 0,
            Phase::Repositories => 1,
            Phase::TagDocument => 2,
            Phase::SharedDocuments => 3,
            Phase::Provenance => 4,
            Phase::Checksums => 5,
            Phase::Files => 6,
            Phase::Manifests => 7,
            Phase::Blobs => 8,
            Phase::Narinfos => 9,
            Phase::Nars => 10,
        }
    }

    /// Every phase in deletion order.
    pub fn in_deletion_order() -> Vec<Phase> {
        let mut all = Phase::ALL.to_vec();
        all.sort_by_key(|p| p.deletion_rank());
        all
    }
}

/// What happens to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Written with the bytes described.
    Write,
    /// Already there with the same bytes: not written.
    Skip,
    /// Derived from a listing at write time (shared documents, tag lists),
    /// and written until it agrees with a listing made after the write.
    Converge,
    /// Deleted.
    Delete,
}

/// One object of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedObject {
    /// The destination, as [`Plan::destinations`] names it.
    pub destination: String,
    /// When.
    pub phase: Phase,
    /// What.
    pub action: Action,
    /// The key in a store, or the reference in a registry (`blobs/sha256:…`,
    /// `manifests/<tag>`).
    pub key: String,
    /// Its size, when known before writing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// `sha256:<hex>` of its bytes, when known before writing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Its Content-Type (or media type).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// What applying an object takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Nothing here: a skip, a delete, or a document the destination
    /// derives when it writes (a converge step).
    None,
    /// These bytes.
    Bytes(Vec<u8>),
    /// The bytes of this local file.
    File(std::path::PathBuf),
}

/// One object of a plan and what applying it takes: the executable form of
/// a plan (the executor, `apply`, runs it), of which the printed plan is the
/// objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The object, as the plan document shows it.
    pub object: PlannedObject,
    /// What it writes.
    pub payload: Payload,
    /// Steps of one phase with the same chain are applied in their order (a
    /// file, then its `.sha256`); steps of different chains at once.
    pub chain: Option<usize>,
}

/// What a plan is about: a release, for `publish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// The artifact name.
    pub name: String,
    /// The tag.
    pub tag: String,
    /// `stable`, `extra` or `development`.
    pub class: String,
}

/// Every object a command will touch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// The command: `publish`, `publish static`, `publish images`, `rm`,
    /// `gc`, `cache gc`.
    pub command: String,
    /// The release, for a command about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<Subject>,
    /// Every destination, as the objects name them.
    pub destinations: Vec<String>,
    /// The objects, in the order they will be written.
    pub objects: Vec<PlannedObject>,
}

impl Plan {
    /// A plan of `objects`, put in execution order: by phase, keeping the
    /// given order inside a phase. A plan that deletes anything runs its
    /// phases in [`Phase::deletion_rank`] order.
    pub fn new(
        command: &str,
        release: Option<Subject>,
        destinations: Vec<String>,
        mut objects: Vec<PlannedObject>,
    ) -> Plan {
        if objects.iter().any(|o| o.action == Action::Delete) {
            objects.sort_by_key(|o| o.phase.deletion_rank());
        } else {
            objects.sort_by_key(|o| o.phase);
        }
        Plan {
            schema: SCHEMA,
            command: command.to_string(),
            release,
            destinations,
            objects,
        }
    }

    /// How many objects of each action: (write, skip, converge).
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.count(Action::Write),
            self.count(Action::Skip),
            self.count(Action::Converge),
        )
    }

    /// How many objects `action` applies to.
    pub fn count(&self, action: Action) -> usize {
        self.objects.iter().filter(|o| o.action == action).count()
    }

    /// Whether the plan deletes anything.
    pub fn deletes(&self) -> bool {
        self.count(Action::Delete) > 0
    }

    /// The objects of `destination` in `phase`.
    pub fn of<'a>(
        &'a self,
        destination: &'a str,
        phase: Phase,
    ) -> impl Iterator<Item = &'a PlannedObject> + 'a {
        self.objects
            .iter()
            .filter(move |o| o.destination == destination && o.phase == phase)
    }

    /// The plan for people: one line per destination and phase, then every
    /// object written or deleted.
    pub fn render(&self) -> String {
        let (write, skip, converge) = self.counts();
        let subject = match &self.release {
            Some(r) => format!("{} {} ({})", r.name, r.tag, r.class),
            None => self.command.clone(),
        };
        let mut out = if self.deletes() {
            format!(
                "plan: {subject}: {} objects to delete, {converge} derived again, {write} to write\n",
                self.count(Action::Delete)
            )
        } else {
            format!(
                "plan: {subject}: {write} objects to write, {skip} already there, {converge} derived at write time\n"
            )
        };
        let phases = if self.deletes() {
            Phase::in_deletion_order()
        } else {
            Phase::ALL.to_vec()
        };
        for d in &self.destinations {
            out.push_str(&format!("{d}\n"));
            for phase in &phases {
                let objects: Vec<&PlannedObject> = self.of(d, *phase).collect();
                if !objects.is_empty() {
                    out.push_str(&render_phase(*phase, &objects));
                }
            }
        }
        out
    }
}

fn render_phase(phase: Phase, objects: &[&PlannedObject]) -> String {
    let bytes = |action| -> u64 {
        objects
            .iter()
            .filter(|o| o.action == action)
            .filter_map(|o| o.size)
            .sum()
    };
    let mut out = format!("  {}:\n", phase.as_str());
    for o in objects {
        let what = match o.action {
            Action::Write => "write",
            Action::Skip => "skip (there)",
            Action::Converge => "derive",
            Action::Delete => "delete",
        };
        let size = o.size.map(|s| format!(" {s} B")).unwrap_or_default();
        out.push_str(&format!("    {what:<12} {}{size}\n", o.key));
    }
    if bytes(Action::Write) > 0 {
        out.push_str(&format!("    ({} bytes to write)\n", bytes(Action::Write)));
    }
    if bytes(Action::Delete) > 0 {
        out.push_str(&format!(
            "    ({} bytes to delete)\n",
            bytes(Action::Delete)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(d: &str, phase: Phase, action: Action, key: &str) -> PlannedObject {
        PlannedObject {
            destination: d.into(),
            phase,
            action,
            key: key.into(),
            size: Some(3),
            digest: None,
            content_type: Some("text/plain".into()),
        }
    }

    fn release() -> Subject {
        Subject {
            name: "hello".into(),
            tag: "v1.0.0".into(),
            class: "stable".into(),
        }
    }

    #[test]
    fn objects_are_put_in_phase_order_keeping_their_order_inside_a_phase() {
        let plan = Plan::new(
            "publish",
            Some(release()),
            vec!["s3://a".into()],
            vec![
                object("s3://a", Phase::Tags, Action::Write, "manifests/v1"),
                object("s3://a", Phase::Files, Action::Write, "f2"),
                object("s3://a", Phase::Blobs, Action::Skip, "blobs/sha256:00"),
                object("s3://a", Phase::Files, Action::Write, "f1"),
                object(
                    "s3://a",
                    Phase::SharedDocuments,
                    Action::Converge,
                    "_releases.json",
                ),
            ],
        );
        let keys: Vec<&str> = plan.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "blobs/sha256:00",
                "f2",
                "f1",
                "_releases.json",
                "manifests/v1"
            ]
        );
        assert_eq!(plan.counts(), (3, 1, 1));
    }

    #[test]
    fn a_plan_that_deletes_hides_first_then_derives_then_deletes_top_down() {
        let plan = Plan::new(
            "rm",
            Some(release()),
            vec!["s3://a".into()],
            vec![
                object("s3://a", Phase::Files, Action::Delete, "f1"),
                object("s3://a", Phase::Blobs, Action::Delete, "blobs/sha256:00"),
                object(
                    "s3://a",
                    Phase::Manifests,
                    Action::Delete,
                    "manifests/sha256:11",
                ),
                object(
                    "s3://a",
                    Phase::SharedDocuments,
                    Action::Converge,
                    "_releases.json",
                ),
                object(
                    "s3://a",
                    Phase::TagDocument,
                    Action::Delete,
                    "df-dist-v1/hello/v1",
                ),
                object("s3://a", Phase::Tags, Action::Delete, "manifests/v1"),
                object("s3://a", Phase::Nars, Action::Delete, "nar/x.nar.zst"),
                object("s3://a", Phase::Narinfos, Action::Delete, "x.narinfo"),
            ],
        );
        let keys: Vec<&str> = plan.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "manifests/v1",
                "df-dist-v1/hello/v1",
                "_releases.json",
                "f1",
                "manifests/sha256:11",
                "blobs/sha256:00",
                "x.narinfo",
                "nar/x.nar.zst"
            ]
        );
        let text = plan.render();
        assert!(text.contains("7 objects to delete"), "{text}");
        assert!(text.contains("    delete       f1 3 B"), "{text}");
        assert!(
            text.find("tags:").unwrap() < text.find("files:").unwrap(),
            "{text}"
        );
    }

    #[test]
    fn the_json_document_has_its_schema_and_spellings() {
        let plan = Plan::new(
            "publish",
            Some(release()),
            vec!["out".into()],
            vec![object(
                "out",
                Phase::TagDocument,
                Action::Write,
                "df-dist-v1/hello/v1.0.0",
            )],
        );
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["schema"], "cargo-release-dist/plan/v1");
        assert_eq!(json["objects"][0]["phase"], "tag-document");
        assert_eq!(json["objects"][0]["action"], "write");
        assert_eq!(json["objects"][0]["contentType"], "text/plain");
        assert!(json["objects"][0].get("digest").is_none());
        let text = plan.render();
        assert!(text.contains("1 objects to write"), "{text}");
        assert!(
            text.contains("  tag-document:\n    write        df-dist-v1/hello/v1.0.0 3 B"),
            "{text}"
        );
    }
}
