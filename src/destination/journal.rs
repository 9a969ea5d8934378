//! The journal kind, a test double written by following
//! `docs/adding-a-destination.md`: releases kept as lines of one JSON file
//! (`journal:PATH`), one line per object of a release (its files, then
//! `SHA256SUMS`, then the provenance). Compiled only with the `test-hooks`
//! feature; the tests use it to show that a kind added through the seam is
//! published to, listed, removed and planned like the others.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Aging, Destination, Keys, Outcome, Planned, Publishing, Section, Stage, Work};
use crate::errors::{Error, Result};
use crate::lifecycle::retention::Dated;
use crate::lifecycle::statics::ReleaseRow;
use crate::plan::{Action, Phase, PlannedObject};
use crate::publish::statics::StaticSummary;
use crate::release::Class;

const SCHEME: &str = "journal:";

/// Whether `url` is a journal's.
pub fn takes(url: &str) -> bool {
    url.starts_with(SCHEME)
}

/// One object of a release, as a line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Line {
    name: String,
    tag: String,
    key: String,
    sha256: String,
    size: u64,
    /// When it was appended: milliseconds since the Unix epoch.
    published_ms: u64,
}

impl Line {
    /// The same object of the same release (whenever it was appended).
    fn same_object(&self, other: &Line) -> bool {
        (&self.name, &self.tag, &self.key, &self.sha256, self.size)
            == (
                &other.name,
                &other.tag,
                &other.key,
                &other.sha256,
                other.size,
            )
    }

    fn published(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(self.published_ms)
    }
}

/// A journal file.
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    /// Opens `journal:PATH` (the file need not exist yet).
    pub fn open(url: &str) -> Result<Journal> {
        let path = PathBuf::from(&url[SCHEME.len()..]);
        if path.as_os_str().is_empty() {
            return Err(Error::StoreUrl(crate::errors::UrlError {
                kind: crate::errors::UrlKind::Store,
                url: url.to_string(),
                reason: "a journal URL is journal:PATH".into(),
            }));
        }
        Ok(Journal { path })
    }

    /// Its lines: observed, capped like every document read.
    fn read(&self) -> Result<Vec<Line>> {
        let bytes = match crate::bounds::read_file_capped(&self.path, crate::bounds::DOCUMENT_CAP) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("cannot read", &self.path)(e)),
        };
        let text = String::from_utf8_lossy(&bytes);
        text.lines()
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str(l).map_err(|e| self.bad(&e.to_string())))
            .collect()
    }

    /// Replaces its lines (a new file renamed over the old).
    fn write(&self, lines: &[Line]) -> Result<()> {
        let mut text = String::new();
        for l in lines {
            text.push_str(&serde_json::to_string(l).map_err(|e| self.bad(&e.to_string()))?);
            text.push('\n');
        }
        let part = self.path.with_extension("part");
        std::fs::write(&part, text).map_err(Error::io("cannot write", &part))?;
        std::fs::rename(&part, &self.path).map_err(Error::io("cannot rename", &part))
    }

    fn bad(&self, why: &str) -> Error {
        Error::Untrusted {
            source_name: self.describe(),
            what: "a line".into(),
            message: why.to_string(),
        }
    }
}

/// The `ls` rows of `lines` for `name`, in the order first seen.
fn rows(lines: &[Line], name: &str) -> Vec<ReleaseRow> {
    let mut out: Vec<ReleaseRow> = Vec::new();
    for l in lines.iter().filter(|l| l.name == name) {
        let at = match out.iter().position(|r| r.tag == l.tag) {
            Some(i) => i,
            None => {
                out.push(ReleaseRow {
                    tag: l.tag.clone(),
                    class: Class::of(&l.tag).as_str(),
                    published: Some(crate::clock::rfc3339_of(l.published())),
                    platforms: Vec::new(),
                    size: 0,
                    checksums: false,
                    provenance: false,
                    reproduced: None,
                });
                out.len() - 1
            }
        };
        let row = &mut out[at];
        row.size += l.size;
        row.checksums |= l.key.ends_with("SHA256SUMS");
        row.provenance |= l.key.ends_with(".intoto.jsonl");
    }
    out
}

impl Destination for Journal {
    fn describe(&self) -> String {
        format!("{SCHEME}{}", self.path.display())
    }

    fn list<'a>(&'a self, name: &'a str) -> Work<'a, Section> {
        Box::pin(async move { Ok(Section::Releases(rows(&self.read()?, name))) })
    }

    fn aging<'a>(&'a self, name: &'a str, _grace: std::time::Duration) -> Work<'a, Aging> {
        Box::pin(async move {
            let lines = self.read()?;
            let dated = rows(&lines, name)
                .into_iter()
                .map(|r| Dated {
                    class: Class::of(&r.tag),
                    published: lines.iter().find(|l| l.tag == r.tag).map(Line::published),
                    tag: r.tag,
                })
                .collect();
            Ok(Aging {
                dated,
                leftovers: Vec::new(),
            })
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn plan_publish<'a>(&'a self, work: &'a Publishing<'a>) -> Work<'a, Box<dyn Planned + 'a>> {
        Box::pin(async move {
            let held = self.read()?;
            let rel = work.release;
            let prefix = rel.layout.release_prefix(rel.name, &rel.release.tag);
            let sums = rel.sha256sums.as_bytes();
            let bundle = &rel.provenance.1;
            let mut wanted: Vec<(Line, Phase)> = rel
                .files
                .iter()
                .map(|f| {
                    (
                        f.path_in(rel.layout),
                        f.sha256.clone(),
                        f.size,
                        Phase::Files,
                    )
                })
                .chain([
                    (
                        "SHA256SUMS".to_string(),
                        sha256(sums),
                        sums.len() as u64,
                        Phase::Checksums,
                    ),
                    (
                        rel.provenance.0.clone(),
                        sha256(bundle),
                        bundle.len() as u64,
                        Phase::Provenance,
                    ),
                ])
                .map(|(path, sha256, size, phase)| {
                    let (name, tag) = (rel.name.to_string(), rel.release.tag.clone());
                    let key = format!("{prefix}{path}");
                    (
                        Line {
                            name,
                            tag,
                            key,
                            sha256,
                            size,
                            published_ms: 0,
                        },
                        phase,
                    )
                })
                .collect();
            wanted.sort_by_key(|(_, phase)| *phase);
            Ok(Box::new(Appending {
                to: self,
                there: wanted
                    .iter()
                    .map(|(l, _)| held.iter().any(|h| h.same_object(l)))
                    .collect(),
                wanted,
            }) as Box<dyn Planned>)
        })
    }

    fn plan_removal<'a>(
        &'a self,
        name: &'a str,
        tags: &'a [String],
    ) -> Work<'a, Box<dyn Planned + 'a>> {
        Box::pin(async move {
            let gone = self
                .read()?
                .into_iter()
                .filter(|l| l.name == name && tags.contains(&l.tag))
                .collect();
            Ok(Box::new(Removing { from: self, gone }) as Box<dyn Planned>)
        })
    }
}

fn sha256(bytes: &[u8]) -> String {
    crate::digest::Digest::of(bytes).hex().to_string()
}

fn object(destination: String, l: &Line, phase: Phase, action: Action) -> PlannedObject {
    PlannedObject {
        destination,
        phase,
        action,
        key: l.key.clone(),
        size: Some(l.size),
        digest: Some(format!("sha256:{}", l.sha256)),
        content_type: None,
    }
}

/// A publish: the lines the journal lacks, appended in the release stage.
struct Appending<'a> {
    to: &'a Journal,
    wanted: Vec<(Line, Phase)>,
    there: Vec<bool>,
}

impl Planned for Appending<'_> {
    fn objects(&self) -> Vec<PlannedObject> {
        let skip_or_write = |there: bool| if there { Action::Skip } else { Action::Write };
        self.wanted
            .iter()
            .zip(&self.there)
            .map(|((l, phase), there)| object(self.to.describe(), l, *phase, skip_or_write(*there)))
            .collect()
    }

    fn apply<'a>(&'a self, stage: Stage, _keys: &'a Keys) -> Work<'a, Vec<Outcome>> {
        Box::pin(async move {
            if stage != Stage::Release {
                return Ok(Vec::new());
            }
            let mut lines = self.to.read()?;
            let now = crate::clock::system_now().duration_since(std::time::UNIX_EPOCH);
            let published_ms = now.map_or(0, |d| d.as_millis() as u64);
            let mut summary = StaticSummary {
                store: self.to.describe(),
                ..StaticSummary::default()
            };
            for ((l, _), there) in self.wanted.iter().zip(&self.there) {
                match there {
                    true => summary.skipped += 1,
                    false => {
                        summary.uploaded += 1;
                        summary.uploaded_bytes += l.size;
                        lines.push(Line {
                            published_ms,
                            ..l.clone()
                        });
                        crate::events::written(|| self.to.describe(), &l.key);
                    }
                }
            }
            summary.already_published = summary.uploaded == 0;
            self.to.write(&lines)?;
            let name = self
                .wanted
                .first()
                .map(|(l, _)| l.name.as_str())
                .unwrap_or("");
            summary.tags = rows(&lines, name).into_iter().map(|r| r.tag).collect();
            Ok(vec![Outcome::Release(summary)])
        })
    }
}

/// A removal: the lines of the removed releases.
struct Removing<'a> {
    from: &'a Journal,
    gone: Vec<Line>,
}

impl Planned for Removing<'_> {
    fn objects(&self) -> Vec<PlannedObject> {
        let d = self.from.describe();
        let delete = |l| object(d.clone(), l, Phase::Files, Action::Delete);
        self.gone.iter().map(delete).collect()
    }

    fn found(&self) -> Vec<String> {
        let mut tags: Vec<String> = self.gone.iter().map(|l| l.tag.clone()).collect();
        tags.dedup();
        tags
    }

    fn apply<'a>(&'a self, stage: Stage, _keys: &'a Keys) -> Work<'a, Vec<Outcome>> {
        Box::pin(async move {
            if stage == Stage::Release {
                let kept: Vec<Line> = self
                    .from
                    .read()?
                    .into_iter()
                    .filter(|l| !self.gone.contains(l))
                    .collect();
                self.from.write(&kept)?;
                for l in &self.gone {
                    crate::events::deleted(|| self.from.describe(), &l.key);
                }
            }
            Ok(Vec::new())
        })
    }
}
