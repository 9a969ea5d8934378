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
    /// Image tags and tag lists.
    Tags,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 8] = [
        Phase::Blobs,
        Phase::Manifests,
        Phase::Files,
        Phase::Checksums,
        Phase::Provenance,
        Phase::TagDocument,
        Phase::SharedDocuments,
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
            Phase::Tags => "tags",
        }
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
    /// The command: `publish`, `publish static`, `publish images`.
    pub command: String,
    /// The release.
    pub release: Subject,
    /// Every destination, as the objects name them.
    pub destinations: Vec<String>,
    /// The objects, in the order they will be written.
    pub objects: Vec<PlannedObject>,
}

impl Plan {
    /// A plan of `objects`, put in execution order: by phase, keeping the
    /// given order inside a phase.
    pub fn new(
        command: &str,
        release: Subject,
        destinations: Vec<String>,
        mut objects: Vec<PlannedObject>,
    ) -> Plan {
        objects.sort_by_key(|o| o.phase);
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
        let n = |a| self.objects.iter().filter(|o| o.action == a).count();
        (n(Action::Write), n(Action::Skip), n(Action::Converge))
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
    /// object written.
    pub fn render(&self) -> String {
        let (write, skip, converge) = self.counts();
        let mut out = format!(
            "plan: {} {} ({}): {write} objects to write, {skip} already there, {converge} derived at write time\n",
            self.release.name, self.release.tag, self.release.class
        );
        for d in &self.destinations {
            out.push_str(&format!("{d}\n"));
            for phase in Phase::ALL {
                let objects: Vec<&PlannedObject> = self.of(d, phase).collect();
                if objects.is_empty() {
                    continue;
                }
                let bytes: u64 = objects
                    .iter()
                    .filter(|o| o.action == Action::Write)
                    .filter_map(|o| o.size)
                    .sum();
                out.push_str(&format!("  {}:\n", phase.as_str()));
                for o in objects {
                    let what = match o.action {
                        Action::Write => "write",
                        Action::Skip => "skip (there)",
                        Action::Converge => "derive",
                    };
                    let size = o.size.map(|s| format!(" {s} B")).unwrap_or_default();
                    out.push_str(&format!("    {what:<12} {}{size}\n", o.key));
                }
                if bytes > 0 {
                    out.push_str(&format!("    ({bytes} bytes to write)\n"));
                }
            }
        }
        out
    }
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
            release(),
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
    fn the_json_document_has_its_schema_and_spellings() {
        let plan = Plan::new(
            "publish",
            release(),
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
