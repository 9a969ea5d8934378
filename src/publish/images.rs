//! The image half of `publish`: convert the build's docker archives into one
//! multi-arch image, then push it to every `--images` destination in two
//! phases (content, then tags) around the static release.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::build_record::{BuildRecord, Kind};
use crate::context::{Context, Verbosity};
use crate::errors::{Error, Result};
use crate::objstore::{Location, ObjectStore};
use crate::oci::auth;
use crate::oci::bucket;
use crate::oci::convert::{self, BlobCache, ConvertStats, LayerCompression};
use crate::oci::dest::{self, ImageDestination};
use crate::oci::document::Descriptor;
use crate::oci::document::IndexAnnotations;
use crate::oci::registry::Registry;
use crate::oci::scheme::{self, Shape};
use crate::oci::{image_tags, ContentPlan, Document, ImageSet, PushStats};
use crate::plan::{Action, Payload, Phase, PlannedObject, Step};
use crate::platform::Platform;
use crate::provenance::Subject;
use crate::release::Release;

/// The release's images, converted and ready to push.
#[derive(Debug)]
pub struct Images {
    /// The blobs, manifests and index.
    pub set: ImageSet,
    /// The tags to point at the index.
    pub tags: Vec<String>,
    /// Extra tags not applied (the release is not stable).
    pub ignored_tags: Vec<String>,
    /// What converting cost, per platform.
    pub converted: Vec<(Platform, ConvertStats)>,
    /// The index's `created` annotation, which the attestation carries too.
    pub created: String,
    /// The blob cache the set's blobs are in.
    pub cache: BlobCache,
}

impl Images {
    /// Attaches a signed statement of the release (`bundle`: one DSSE
    /// envelope and a newline; the provenance, or the reproducibility
    /// statement as a second referrer) to the index as an OCI artifact whose
    /// subject is the index.
    pub fn attach_statement(
        &mut self,
        release: &str,
        bundle: &[u8],
        predicate_type: &str,
    ) -> Result<()> {
        let envelope = bundle.strip_suffix(b"\n").unwrap_or(bundle);
        let attestation = crate::oci::referrers::attestation(
            &self.set.index.descriptor,
            envelope,
            predicate_type,
            release,
            &self.created,
        );
        self.set
            .attach(&self.cache, &attestation, envelope)
            .map_err(|c| Error::Io {
                action: c.what,
                path: c.path,
                source: c.source,
            })
    }

    /// Provenance subjects: the index, and each platform's manifest.
    pub fn subjects(&self, name: &str, tag: &str) -> Vec<Subject> {
        let hex = |d: &str| d.strip_prefix("sha256:").unwrap_or(d).to_string();
        let mut out = vec![Subject {
            name: format!("image/{name}:{tag}"),
            sha256: hex(&self.set.index.descriptor.digest),
        }];
        for (p, m) in &self.set.manifests {
            out.push(Subject {
                name: format!("image/{name}:{tag}/{}", p.tree_dir()),
                sha256: hex(&m.descriptor.digest),
            });
        }
        out
    }
}

/// What one image destination got.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSummary {
    /// The destination.
    pub destination: String,
    /// The index digest.
    pub index: String,
    /// Counts.
    #[serde(flatten)]
    pub stats: PushStats,
    /// Every tag the destination lists after the push.
    pub listed_tags: Vec<String>,
}

/// `created`: `$SOURCE_DATE_EPOCH`, else the commit's time, else now. Not
/// the publish time, so that publishing the same commit again gives the
/// same index digest.
fn created(project_dir: &Path, commit: &str) -> String {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .or_else(|| crate::git::commit_time(project_dir, commit))
        .map(crate::clock::rfc3339)
        .unwrap_or_else(crate::clock::now)
}

/// Refuses an image whose config names another platform than its target
/// (a variant it lacks is added by the conversion).
fn refuse_another_platform(
    platform: Platform,
    path: std::path::PathBuf,
    c: &convert::Converted,
) -> Result<()> {
    if c.os == platform.os()
        && c.architecture == platform.arch()
        && (c.variant.is_none() || c.variant.as_deref() == platform.variant())
    {
        return Ok(());
    }
    Err(Error::ImageArch {
        platform,
        path,
        found: format!(
            "{}/{}{}",
            c.os,
            c.architecture,
            c.variant
                .as_ref()
                .map(|v| format!("/{v}"))
                .unwrap_or_default()
        ),
    })
}

/// Converts every docker archive of the build (in parallel) and assembles
/// the index. `None` when the build made no images.
pub fn prepare(
    ctx: &Context,
    manifest: &BuildRecord,
    release: &Release,
    compression: LayerCompression,
    extra_tags: &[String],
) -> Result<Option<Images>> {
    let dist = ctx.dist_dir();
    let mut archives = Vec::new();
    for a in manifest.artifacts.iter().filter(|a| a.kind == Kind::Docker) {
        archives.push((a.platform, super::checked_link(&dist, a)?, a.size));
    }
    if archives.is_empty() {
        return Ok(None);
    }
    let cache = BlobCache::new(ctx.output_dir().join("oci"));
    let quiet = ctx.verbosity == Verbosity::Quiet;
    let results = convert_all(&cache, &archives, compression, quiet);
    let (images, converted) = checked(results)?;
    let created = created(&ctx.project.dir, &release.commit);
    let annotations = IndexAnnotations {
        source: release.builder.repository.clone(),
        revision: release.commit.clone(),
        version: release.tag.clone(),
        created: created.clone(),
    };
    let set = ImageSet::assemble(&cache, &images, &annotations);
    let (tags, ignored_tags) = image_tags(&release.tag, extra_tags);
    Ok(Some(Images {
        set,
        tags,
        ignored_tags,
        converted,
        created,
        cache,
    }))
}

/// One conversion's outcome: the target, its archive, and the converted
/// image or why not.
type Converted = (
    Platform,
    PathBuf,
    std::result::Result<(convert::Converted, convert::ConvertStats), convert::ConvertError>,
);

/// Converts every archive into the blob cache, one thread each, saying what
/// each did unless `quiet`.
fn convert_all(
    cache: &BlobCache,
    archives: &[(Platform, PathBuf, u64)],
    compression: LayerCompression,
    quiet: bool,
) -> Vec<Converted> {
    std::thread::scope(|s| {
        let handles: Vec<_> = archives
            .iter()
            .map(|(platform, path, size)| {
                s.spawn(move || {
                    let key = path
                        .starts_with("/nix/store/")
                        .then(|| path.file_name().map(|n| n.to_string_lossy().into_owned()))
                        .flatten();
                    let variant = platform.variant();
                    let r = convert::convert(cache, path, key.as_deref(), compression, variant);
                    if let (false, Ok((_, st))) = (quiet, &r) {
                        if !st.reused {
                            eprintln!(
                                "image {platform}: {} MiB archive read, {} layers {}, {} known",
                                size / (1 << 20),
                                st.layers_written,
                                if compression == LayerCompression::Gzip {
                                    "compressed"
                                } else {
                                    "copied"
                                },
                                st.layers_cached
                            );
                        }
                    }
                    (*platform, path.clone(), r)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a conversion thread panicked"))
            .collect()
    })
}

/// The converted images, each of its target's platform: the first failure
/// as the crate's error.
#[allow(clippy::type_complexity)]
fn checked(
    results: Vec<Converted>,
) -> Result<(
    Vec<(Platform, convert::Converted)>,
    Vec<(Platform, convert::ConvertStats)>,
)> {
    let mut images = Vec::new();
    let mut converted = Vec::new();
    for (platform, path, r) in results {
        let (c, stats) = r.map_err(|e| match e {
            convert::ConvertError::Archive(source) => Error::Image {
                platform,
                path: path.clone(),
                source,
            },
            convert::ConvertError::Cache(c) => Error::Io {
                action: c.what,
                path: c.path,
                source: c.source,
            },
        })?;
        refuse_another_platform(platform, path, &c)?;
        converted.push((platform, stats));
        images.push((platform, c));
    }
    Ok((images, converted))
}

/// One opened image destination or source: a registry, or a bucket (static
/// registry) or directory (OCI layout).
pub enum ImageRepo {
    /// A registry, authenticated.
    Registry(Box<Registry>),
    /// A bucket or directory.
    Store(Arc<ObjectStore>, Shape),
}

impl ImageRepo {
    /// Opens `url`: registries authenticate now, before anything is pushed.
    pub async fn open(url: &str) -> Result<ImageRepo> {
        ImageRepo::open_for(url, oci_client::RegistryOperation::Push).await
    }

    /// Opens `url` to read it only (a registry asks for pull access).
    pub async fn open_to_read(url: &str) -> Result<ImageRepo> {
        ImageRepo::open_for(url, oci_client::RegistryOperation::Pull).await
    }

    async fn open_for(url: &str, operation: oci_client::RegistryOperation) -> Result<ImageRepo> {
        Ok(match dest::parse(url).map_err(Error::StoreUrl)? {
            ImageDestination::Registry(repo) => {
                let creds = auth::resolve(&repo.host, &|k| std::env::var(k).ok()).map_err(|e| {
                    Error::RegistryAuth {
                        host: repo.host.clone(),
                        origin: e.origin,
                        reason: e.reason,
                    }
                })?;
                ImageRepo::Registry(Box::new(
                    Registry::connect_for(&repo, creds, operation).await?,
                ))
            }
            ImageDestination::Store(location) => {
                let shape = match location {
                    Location::S3(_) => Shape::StaticRegistry,
                    Location::Local(_) => Shape::Layout,
                };
                ImageRepo::Store(Arc::new(ObjectStore::open(&location).await?), shape)
            }
        })
    }

    /// A reader of image `name` in it (a registry's repository is its own).
    pub fn source<'a>(&'a self, name: &'a str) -> crate::oci::fetch::Source<'a> {
        match self {
            ImageRepo::Registry(r) => crate::oci::fetch::Source::Registry(r),
            ImageRepo::Store(s, shape) => crate::oci::fetch::Source::Store(s, *shape, name),
        }
    }

    /// Its name in a plan and in the events of what was written: the
    /// registry, or the store (as [`ObjectStore::describe`] says).
    pub fn destination(&self) -> String {
        match self {
            ImageRepo::Registry(r) => r.describe(),
            ImageRepo::Store(s, _) => s.describe(),
        }
    }

    /// For messages.
    pub fn describe(&self) -> String {
        match self {
            ImageRepo::Registry(r) => r.describe(),
            ImageRepo::Store(s, Shape::StaticRegistry) => {
                format!("{} (static registry)", s.describe())
            }
            ImageRepo::Store(s, Shape::Layout) => format!("{} (OCI layout)", s.describe()),
        }
    }

    /// What the destination has of `set`: nothing is written.
    pub async fn plan_content(&self, name: &str, set: &ImageSet) -> Result<ContentPlan> {
        match self {
            ImageRepo::Registry(r) => r.plan_content(set).await,
            ImageRepo::Store(s, shape) => bucket::plan_content(s, *shape, name, set).await,
        }
    }

    /// The objects pushing `set` (as `plan` found it) and `tags` will
    /// write, for the plan document; `destination` names this target there.
    pub fn planned_objects(
        &self,
        destination: &str,
        name: &str,
        set: &ImageSet,
        plan: &ContentPlan,
        tags: &[String],
    ) -> Vec<PlannedObject> {
        self.steps(destination, name, (set, plan), tags)
            .into_iter()
            .map(|s| s.object)
            .collect()
    }

    /// The steps of pushing `set` (as `plan` found it) and `tags` here: the
    /// marker (a bucket or layout), blobs, manifests and the index by digest,
    /// the referrers fallback tag, the tags, then the tag list or
    /// `index.json`, which the destination derives.
    pub fn steps(
        &self,
        destination: &str,
        name: &str,
        (set, plan): (&ImageSet, &ContentPlan),
        tags: &[String],
    ) -> Vec<Step> {
        let step =
            |(phase, there): (Phase, bool), key: String, payload, d: &Descriptor, ctype: &str| {
                Step {
                    object: PlannedObject {
                        destination: destination.to_string(),
                        phase,
                        action: if there { Action::Skip } else { Action::Write },
                        key,
                        size: Some(d.size),
                        digest: Some(d.digest.to_string()),
                        content_type: Some(ctype.to_string()),
                    },
                    payload,
                    chain: None,
                }
            };
        // Documents go one after another, in the set's order: each manifest
        // before the index that names it (a registry checks), and a tag's
        // document by digest before the tag (what a tag reaches must be
        // readable once the tag is).
        let doc_step = |at, key, doc: &Document| Step {
            chain: Some(0),
            ..step(
                at,
                key,
                Payload::Bytes(doc.bytes.clone()),
                &doc.descriptor,
                &doc.descriptor.media_type,
            )
        };
        let (blob_keys, doc_keys, tag_keys) = self.keys(name, set, tags);
        let mut steps = Vec::new();
        if let ImageRepo::Store(_, shape) = self {
            let (key, bytes, ctype) = shape.marker();
            let d = Descriptor::of(ctype, bytes);
            steps.push(step(
                (Phase::Blobs, false),
                key.into(),
                Payload::Bytes(bytes.to_vec()),
                &d,
                ctype,
            ));
        }
        for ((b, key), there) in set.blobs.iter().zip(blob_keys).zip(&plan.blob_there) {
            let d = &b.descriptor;
            let ctype = match self {
                ImageRepo::Registry(_) => d.media_type.as_str(),
                ImageRepo::Store(..) => bucket::OCTET,
            };
            steps.push(step(
                (Phase::Blobs, *there),
                key,
                Payload::File(b.path.clone()),
                d,
                ctype,
            ));
        }
        for ((doc, key), there) in set.documents().zip(doc_keys).zip(&plan.manifest_there) {
            steps.push(doc_step((Phase::Manifests, *there), key, doc));
        }
        // The referrers fallback tag (what it listed, and the set's
        // referrers), before any release tag.
        if let Some(fallback) = &plan.fallback {
            let keys = match self {
                ImageRepo::Registry(_) => vec![format!("manifests/{}", fallback.0)],
                ImageRepo::Store(_, shape) => bucket::fallback_keys(*shape, name, fallback),
            };
            for key in keys {
                steps.push(doc_step((Phase::Tags, false), key, &fallback.1));
            }
        }
        for key in tag_keys {
            steps.push(doc_step((Phase::Tags, false), key, &set.index));
        }
        if let Some(key) = self.tag_list_key(name) {
            steps.push(Step {
                object: PlannedObject {
                    destination: destination.to_string(),
                    phase: Phase::Tags,
                    action: Action::Converge,
                    key,
                    size: None,
                    digest: None,
                    content_type: None,
                },
                payload: Payload::None,
                chain: None,
            });
        }
        steps
    }

    /// The keys (or registry references) of `set`'s blobs, of its manifests
    /// and index, and of `tags`, at this destination.
    fn keys(
        &self,
        name: &str,
        set: &ImageSet,
        tags: &[String],
    ) -> (Vec<String>, Vec<String>, Vec<String>) {
        let docs = set.documents();
        match self {
            ImageRepo::Registry(_) => (
                set.blobs
                    .iter()
                    .map(|b| format!("blobs/{}", b.descriptor.digest))
                    .collect(),
                docs.map(|d| format!("manifests/{}", d.descriptor.digest))
                    .collect(),
                tags.iter().map(|t| format!("manifests/{t}")).collect(),
            ),
            ImageRepo::Store(_, shape) => (
                set.blobs
                    .iter()
                    .map(|b| bucket::blob_key(*shape, name, b))
                    .collect(),
                bucket::manifest_keys(*shape, name, set),
                match shape {
                    Shape::StaticRegistry => {
                        tags.iter().map(|t| scheme::tag_key(name, t)).collect()
                    }
                    Shape::Layout => Vec::new(),
                },
            ),
        }
    }

    /// The document that lists the tags, derived at write time: `tags/list`
    /// (static registry) or `index.json` (layout); a registry keeps its own.
    fn tag_list_key(&self, name: &str) -> Option<String> {
        match self {
            ImageRepo::Store(_, Shape::StaticRegistry) => Some(scheme::tags_list_key(name)),
            ImageRepo::Store(_, Shape::Layout) => Some("index.json".to_string()),
            ImageRepo::Registry(_) => None,
        }
    }

    /// Phase one: blobs, manifests, the index, as `plan` found them; no tag.
    pub async fn push_content(
        &self,
        name: &str,
        set: &ImageSet,
        plan: &ContentPlan,
    ) -> Result<PushStats> {
        let steps: Vec<Step> = self
            .steps(&self.destination(), name, (set, plan), &[])
            .into_iter()
            .filter(|s| s.object.phase < Phase::Tags)
            .collect();
        let sink = ImageSink::new(self, name, (set, plan), &[]);
        crate::apply::apply(&sink, &steps, bucket::PARALLEL_BLOBS).await?;
        let blobs = |action| {
            steps
                .iter()
                .filter(move |s| s.object.phase == Phase::Blobs && s.object.action == action)
                .filter(|s| matches!(s.payload, Payload::File(_)))
        };
        Ok(PushStats {
            blobs_uploaded: blobs(Action::Write).count(),
            blobs_skipped: blobs(Action::Skip).count(),
            bytes_uploaded: blobs(Action::Write).filter_map(|s| s.object.size).sum(),
            manifests: steps
                .iter()
                .filter(|s| s.object.phase == Phase::Manifests)
                .count(),
            tags: Vec::new(),
        })
    }

    /// Phase two: the referrers fallback tag `plan` merged, then the tags.
    /// Returns every release tag listed afterwards (for a registry, the
    /// ones pushed).
    pub async fn push_tags(
        &self,
        name: &str,
        (set, plan): (&ImageSet, &ContentPlan),
        tags: &[String],
    ) -> Result<Vec<String>> {
        let steps: Vec<Step> = self
            .steps(&self.destination(), name, (set, plan), tags)
            .into_iter()
            .filter(|s| s.object.phase == Phase::Tags)
            .collect();
        let sink = ImageSink::new(self, name, (set, plan), tags);
        crate::apply::apply(&sink, &steps, bucket::PARALLEL_BLOBS).await?;
        Ok(match self {
            ImageRepo::Registry(_) => tags.to_vec(),
            ImageRepo::Store(..) => sink.listed.into_inner().unwrap_or_else(|e| e.into_inner()),
        })
    }
}

/// An image destination, as the executor writes to it.
struct ImageSink<'a> {
    repo: &'a ImageRepo,
    name: &'a str,
    set: (&'a ImageSet, &'a ContentPlan),
    tags: &'a [String],
    /// The release tags the destination lists once its tag list converged.
    listed: std::sync::Mutex<Vec<String>>,
}

impl<'a> ImageSink<'a> {
    fn new(
        repo: &'a ImageRepo,
        name: &'a str,
        set: (&'a ImageSet, &'a ContentPlan),
        tags: &'a [String],
    ) -> ImageSink<'a> {
        ImageSink {
            repo,
            name,
            set,
            tags,
            listed: std::sync::Mutex::new(Vec::new()),
        }
    }
}

impl crate::apply::Sink for ImageSink<'_> {
    async fn write(&self, step: &Step) -> Result<()> {
        let o = &step.object;
        match (self.repo, &step.payload) {
            (ImageRepo::Store(s, _), _) => super::statics::put_step(s, step).await,
            (ImageRepo::Registry(r), Payload::File(path)) => {
                let digest = o.digest.as_deref().unwrap_or_default();
                r.push_blob_file(digest, o.size.unwrap_or(0), path).await
            }
            (ImageRepo::Registry(r), Payload::Bytes(bytes)) => {
                let reference = o.key.strip_prefix("manifests/").unwrap_or(&o.key);
                let media_type = o.content_type.as_deref().unwrap_or("application/json");
                r.put_manifest_at(reference, bytes, media_type).await
            }
            (ImageRepo::Registry(_), Payload::None) => Ok(()),
        }
    }

    /// A bucket's `tags/list` or a layout's `index.json` (a registry keeps
    /// its own tag list).
    async fn converge(&self, _phase: Phase, _steps: &[&Step]) -> Result<()> {
        if let ImageRepo::Store(s, shape) = self.repo {
            let listed = bucket::converge_tags(s, *shape, self.name, self.set, self.tags).await?;
            *self.listed.lock().unwrap_or_else(|e| e.into_inner()) = listed;
        }
        Ok(())
    }
}
