//! The image repository kind: a registry, an S3 static registry or an OCI
//! layout ([`ImageRepo`]). Publishing pushes the content in
//! [`Stage::Content`] and the tags in [`Stage::Tags`], so that no tag
//! anywhere points at an image before every destination has it, nor before
//! the static release that names it is there.

use std::sync::Mutex;

use super::{Destination, Keys, Outcome, Planned, Promoting, Publishing, Section, Stage, Work};
use crate::errors::Error;
use crate::lifecycle::images::{self as lifecycle_images, ImageRemoval};
use crate::lifecycle::promote::{self, Promoted};
use crate::oci::fetch::fetch_image;
use crate::oci::ContentPlan;
use crate::oci::{ImageSet, PushStats};
use crate::plan::PlannedObject;
use crate::publish::images::{ImageRepo, ImageSummary, Images};

impl Destination for ImageRepo {
    fn describe(&self) -> String {
        ImageRepo::describe(self)
    }

    fn label(&self) -> String {
        self.destination()
    }

    fn list<'a>(&'a self, name: &'a str) -> Work<'a, Section> {
        Box::pin(async move {
            Ok(Section::Images(
                lifecycle_images::tag_rows(self, name).await?,
            ))
        })
    }

    fn plan_publish<'a>(&'a self, work: &'a Publishing<'a>) -> Work<'a, Box<dyn Planned + 'a>> {
        Box::pin(async move {
            let Some(images) = work.images else {
                return Ok(Box::new(Nothing) as Box<dyn Planned>);
            };
            let name = work.release.name;
            let content = self.plan_content(name, &images.set).await?;
            Ok(Box::new(PushPlan {
                to: self,
                name,
                images,
                content,
                quiet: work.quiet,
                pushed: Mutex::new(None),
            }) as Box<dyn Planned>)
        })
    }

    fn plan_promote<'a>(
        &'a self,
        from: &'a dyn Destination,
        work: &'a Promoting<'a>,
    ) -> Work<'a, Box<dyn Planned + 'a>> {
        Box::pin(async move {
            let Some(from) = from.as_any().downcast_ref::<ImageRepo>() else {
                return Err(Error::usage(
                    "promote",
                    "--images-from",
                    format!("{} is not an image repository", from.describe()),
                ));
            };
            let (name, tag) = (work.name, work.tag);
            let tmp = work.tmp;
            let dir = tempfile::tempdir_in(tmp)
                .map_err(Error::io("cannot create a directory in", tmp))?;
            let Some(set) = fetch_image(&from.source(name), tag, dir.path()).await? else {
                return Err(Error::NoSuchRelease {
                    release: format!("{name}:{tag}"),
                    store: from.describe(),
                    tags: Vec::new(),
                });
            };
            promote::check_image_subjects(&set, work.verified, (name, tag), &from.describe())?;
            let content = self.plan_content(name, &set).await?;
            Ok(Box::new(CopyPlan {
                to: self,
                name,
                set,
                _blobs: dir,
                content,
                tags: work.image_tags,
                pushed: Mutex::new(None),
            }) as Box<dyn Planned>)
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn plan_removal<'a>(
        &'a self,
        name: &'a str,
        tags: &'a [String],
    ) -> Work<'a, Box<dyn Planned + 'a>> {
        Box::pin(async move {
            let removal = lifecycle_images::plan_removal(self, name, tags).await?;
            Ok(Box::new(RemovalPlan {
                from: self,
                name,
                removal,
            }) as Box<dyn Planned>)
        })
    }
}

/// A publish without images: nothing to do here.
struct Nothing;

impl Planned for Nothing {
    fn objects(&self) -> Vec<PlannedObject> {
        Vec::new()
    }

    fn apply<'a>(&'a self, _stage: Stage, _keys: &'a Keys) -> Work<'a, Vec<Outcome>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Pushing the release's images to one repository.
struct PushPlan<'a> {
    to: &'a ImageRepo,
    name: &'a str,
    images: &'a Images,
    content: ContentPlan,
    quiet: bool,
    /// What the content stage pushed, completed by the tags stage.
    pushed: Mutex<Option<ImageSummary>>,
}

impl Planned for PushPlan<'_> {
    fn objects(&self) -> Vec<PlannedObject> {
        let (set, tags) = (&self.images.set, &self.images.tags);
        let label = self.to.destination();
        self.to
            .planned_objects(&label, self.name, set, &self.content, tags)
    }

    fn apply<'a>(&'a self, stage: Stage, _keys: &'a Keys) -> Work<'a, Vec<Outcome>> {
        Box::pin(async move {
            let (to, set) = (self.to, &self.images.set);
            match stage {
                Stage::Content => {
                    if !self.quiet {
                        eprintln!(
                            "pushing the {} image ({} platforms, {} MiB of blobs) to {}",
                            self.name,
                            set.manifests.len(),
                            set.blob_bytes() / (1 << 20),
                            to.describe()
                        );
                    }
                    let stats = to.push_content(self.name, set, &self.content).await?;
                    *self.pushed.lock().unwrap_or_else(|e| e.into_inner()) = Some(ImageSummary {
                        destination: to.describe(),
                        index: set.index.descriptor.digest.to_string(),
                        stats,
                        listed_tags: Vec::new(),
                    });
                    Ok(Vec::new())
                }
                Stage::Release => Ok(Vec::new()),
                Stage::Tags => {
                    let tags = &self.images.tags;
                    let listed = to.push_tags(self.name, (set, &self.content), tags).await?;
                    let pushed = self.pushed.lock().unwrap_or_else(|e| e.into_inner()).take();
                    let Some(mut summary) = pushed else {
                        return Err(Error::PlanInvalid(
                            "the image tags were to be pushed before the image".into(),
                        ));
                    };
                    summary.listed_tags = listed;
                    summary.stats.tags = tags.clone();
                    Ok(vec![Outcome::Image(summary)])
                }
            }
        })
    }
}

/// Promoting an image from a repository of staging: its blobs, manifests
/// and index copied by digest (the bytes unchanged, so the digests stay),
/// then its tags.
struct CopyPlan<'a> {
    to: &'a ImageRepo,
    name: &'a str,
    set: ImageSet,
    /// Where the fetched blobs are, while they are pushed.
    _blobs: tempfile::TempDir,
    content: ContentPlan,
    tags: &'a [String],
    /// What the content stage pushed.
    pushed: Mutex<Option<PushStats>>,
}

impl Planned for CopyPlan<'_> {
    fn objects(&self) -> Vec<PlannedObject> {
        let label = self.to.destination();
        let (set, tags) = (&self.set, self.tags);
        self.to
            .planned_objects(&label, self.name, set, &self.content, tags)
    }

    fn apply<'a>(&'a self, stage: Stage, _keys: &'a Keys) -> Work<'a, Vec<Outcome>> {
        Box::pin(async move {
            let (to, set, name) = (self.to, &self.set, self.name);
            match stage {
                Stage::Content => {
                    let stats = to.push_content(name, set, &self.content).await?;
                    *self.pushed.lock().unwrap_or_else(|e| e.into_inner()) = Some(stats);
                    Ok(Vec::new())
                }
                Stage::Release => Ok(Vec::new()),
                Stage::Tags => {
                    let tags = to.push_tags(name, (set, &self.content), self.tags).await?;
                    let pushed = self.pushed.lock().unwrap_or_else(|e| e.into_inner()).take();
                    let Some(stats) = pushed else {
                        return Err(Error::PlanInvalid(
                            "the image tags were to be pushed before the image".into(),
                        ));
                    };
                    Ok(vec![Outcome::Promoted(Promoted {
                        store: to.describe(),
                        copied: stats.blobs_uploaded + stats.manifests,
                        skipped: stats.blobs_skipped,
                        tags,
                    })])
                }
            }
        })
    }
}

/// Removing tags (and what they alone reach) from one repository.
struct RemovalPlan<'a> {
    from: &'a ImageRepo,
    name: &'a str,
    removal: ImageRemoval,
}

impl Planned for RemovalPlan<'_> {
    fn objects(&self) -> Vec<PlannedObject> {
        self.removal.objects.clone()
    }

    fn found(&self) -> Vec<String> {
        let fallback = crate::oci::referrers::is_fallback_tag;
        let tags = self.removal.tags.iter();
        tags.filter(|t| !fallback(t)).cloned().collect()
    }

    fn apply<'a>(&'a self, stage: Stage, _keys: &'a Keys) -> Work<'a, Vec<Outcome>> {
        Box::pin(async move {
            if stage == Stage::Tags {
                lifecycle_images::execute_removal(self.from, self.name, &self.removal).await?;
            }
            Ok(Vec::new())
        })
    }
}
