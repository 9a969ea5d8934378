//! The destination seam: one factory ([`open`]) turns a URL and a role into
//! a [`Destination`], and every command that writes to or reads from where
//! releases go (`publish`, `ls`, `rm`, `gc`) is a loop over them.
//!
//! A destination is asked to observe and decide: [`Destination::plan_publish`]
//! and [`Destination::plan_removal`] read what it holds (GETs, HEADs,
//! listings) and return a [`Planned`] that says every object it will write
//! or delete, and nothing is written. The command gathers every
//! destination's objects into one [`crate::plan::Plan`] (what `--dry-run`
//! prints), then [`apply_all`] runs the destinations' plans stage by stage
//! ([`Stage`]): what nothing points at yet everywhere, then the releases,
//! then what makes images visible. Inside a destination, its plan is run by
//! the one executor ([`crate::apply`]).
//!
//! The kinds: [`releases`] (a static release store, S3 or a directory, with
//! its package repositories) and [`images`] (a registry, an S3 static
//! registry or an OCI layout). `docs/adding-a-destination.md` says how to
//! add one; [`journal`], compiled only for the tests, is the kind that was
//! added by following it.

pub mod images;
#[cfg(feature = "test-hooks")]
pub mod journal;
pub mod releases;

use std::time::Duration;

use futures::future::LocalBoxFuture;

use crate::errors::{Error, Result};
use crate::kinds::Layout;
use crate::lifecycle::images::TagRow;
use crate::lifecycle::promote::Promoted;
use crate::lifecycle::retention::Dated;
use crate::lifecycle::statics::ReleaseRow;
use crate::nixcache::PublicKey;
use crate::plan::PlannedObject;
use crate::publish::images::{ImageRepo, ImageSummary, Images};
use crate::publish::repos::RepoSummary;
use crate::publish::statics::{StaticRelease, StaticSummary};
use crate::publish::verify::Verified;

/// Work a destination does: reads, or applies a plan.
pub type Work<'a, T> = LocalBoxFuture<'a, Result<T>>;

/// What a destination is for: a URL means a different place in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Where static releases go (`static`, `--static`, `--from`, `--to`).
    Releases,
    /// Where images go (`images`, `--images`).
    Images,
}

/// Whether a destination is opened to read it only (`ls`), or to change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only (a registry is asked for pull rights alone).
    Read,
    /// Reads and writes.
    Write,
}

/// The stages every destination's plan runs in, each over every destination
/// before the next: so that nothing is visible before what it refers to is
/// everywhere, and, when removing, nothing is deleted while it is visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// What nothing refers to yet: image blobs, manifests and indexes.
    Content,
    /// Releases: their files, checksums, provenance, tag documents and
    /// shared documents; package repositories. Removal: the releases.
    Release,
    /// What makes images visible: their tags. Removal: the image tags and
    /// what they alone reach.
    Tags,
}

impl Stage {
    /// Every stage, in the order they run.
    pub const ALL: [Stage; 3] = [Stage::Content, Stage::Release, Stage::Tags];
}

/// What `publish` asks of every destination.
pub struct Publishing<'a> {
    /// The release: files, checksums, provenance, packages.
    pub release: &'a StaticRelease<'a>,
    /// The images, with their provenance attached (image destinations
    /// only).
    pub images: Option<&'a Images>,
    /// Say nothing on stderr.
    pub quiet: bool,
}

/// What `promote` asks of every destination it copies to: the release as
/// the source's verification read it, copied exactly.
pub struct Promoting<'a> {
    /// The name.
    pub name: &'a str,
    /// The tag.
    pub tag: &'a str,
    /// What the source's verification read: every copy is checked
    /// against it.
    pub verified: &'a Verified,
    /// Replace a stable release the destination has with other bytes.
    pub force: bool,
    /// The image tags to set: the release's, then the extra ones.
    pub image_tags: &'a [String],
    /// Production's package repositories, when the release has packages:
    /// their public URL and the suite of releases that are not stable.
    pub packages: Option<(&'a str, &'a str)>,
    /// Where copies stream through.
    pub tmp: &'a std::path::Path,
}

/// What `verify` found at one destination.
pub struct Checked {
    /// Each problem, one sentence each.
    pub problems: Vec<String>,
    /// How many objects were checked.
    pub objects: usize,
    /// What was verified (meaningful when there is no problem).
    pub release: Verified,
}

/// What `ls` found at one destination.
#[derive(Debug, Clone)]
pub enum Section {
    /// Releases, one row each.
    Releases(Vec<ReleaseRow>),
    /// Image tags, one row each.
    Images(Vec<TagRow>),
}

/// What `gc`'s retention policy needs from a destination.
#[derive(Debug, Clone, Default)]
pub struct Aging {
    /// The releases it holds, dated.
    pub dated: Vec<Dated>,
    /// Tags a stopped publish or removal left, older than the grace.
    pub leftovers: Vec<String>,
}

/// Whether a destination keeps this release's provenance already (so that a
/// re-run attaches the attestation it attached before).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// It is not a kind that keeps provenance.
    NotItsKind,
    /// It does not have it (or has other bytes).
    Missing,
    /// It has it: these bytes.
    There(Vec<u8>),
}

/// What applying one destination's plan did, for the summary.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A release was published to a release store.
    Release(StaticSummary),
    /// The package repositories beside it were published.
    Repositories(RepoSummary),
    /// An image was pushed.
    Image(ImageSummary),
    /// A release (or its image) was promoted here.
    Promoted(Promoted),
}

/// Keys that applying a plan may need, read before anything changes.
#[derive(Default)]
pub struct Keys {
    /// The packages' OpenPGP key: the repositories' indexes are signed
    /// again when packages are removed.
    pub packages: Option<crate::openpgp::SigningKey>,
}

/// One place releases or images go. Each kind is one module.
pub trait Destination {
    /// Where it is, for messages and plans.
    fn describe(&self) -> String;

    /// Its name in a plan and in the events of what was written (by
    /// default what [`Destination::describe`] says).
    fn label(&self) -> String {
        self.describe()
    }

    /// `ls`: what it holds of `name`.
    fn list<'a>(&'a self, name: &'a str) -> Work<'a, Section>;

    /// `gc`: its releases of `name`, dated, and leftovers older than
    /// `grace`. A kind that holds no releases has none.
    fn aging<'a>(&'a self, _name: &'a str, _grace: Duration) -> Work<'a, Aging> {
        Box::pin(async { Ok(Aging::default()) })
    }

    /// `verify`: checks what it holds of `name:tag` against the release's
    /// signed provenance (its signature when `key` is given, every
    /// subject's digest, the checksums). A kind that cannot be read back
    /// refuses.
    fn verify<'a>(
        &'a self,
        _name: &'a str,
        _tag: &'a str,
        _key: Option<&'a PublicKey>,
    ) -> Work<'a, Checked> {
        Box::pin(async move {
            Err(Error::usage(
                "verify",
                "--from",
                format!("{} cannot be read back to verify", self.describe()),
            ))
        })
    }

    /// `promote`: reads what it holds and decides what copying the verified
    /// release from `from` (a destination of its own kind) will write. A
    /// kind that takes no promoted release refuses.
    fn plan_promote<'a>(
        &'a self,
        _from: &'a dyn Destination,
        _work: &'a Promoting<'a>,
    ) -> Work<'a, Box<dyn Planned + 'a>> {
        Box::pin(async move {
            Err(Error::usage(
                "promote",
                "--to",
                format!("a release cannot be promoted to {}", self.describe()),
            ))
        })
    }

    /// Itself, so that a kind can take a source of its own kind
    /// (`promote`).
    fn as_any(&self) -> &dyn std::any::Any;

    /// `publish`: reads what it holds of the release and decides what it
    /// will write. Writes nothing.
    fn plan_publish<'a>(&'a self, work: &'a Publishing<'a>) -> Work<'a, Box<dyn Planned + 'a>>;

    /// `rm`, `gc`: reads what it holds of `tags` of `name` and decides what
    /// it will delete. Deletes nothing.
    fn plan_removal<'a>(
        &'a self,
        name: &'a str,
        tags: &'a [String],
    ) -> Work<'a, Box<dyn Planned + 'a>>;
}

/// What one destination will do, decided: the plan's objects, and applying
/// them.
pub trait Planned {
    /// The objects it writes, keeps or deletes, in the order it does.
    fn objects(&self) -> Vec<PlannedObject>;

    /// Removal: the asked-for tags it has.
    fn found(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether applying needs the packages' key ([`Keys::packages`]).
    fn needs_packages_key(&self) -> bool {
        false
    }

    /// Publish: whether it keeps this release's provenance already.
    fn kept_provenance(&self) -> Work<'_, Kept> {
        Box::pin(async { Ok(Kept::NotItsKind) })
    }

    /// Applies its part of `stage` (nothing when it has none).
    fn apply<'a>(&'a self, stage: Stage, keys: &'a Keys) -> Work<'a, Vec<Outcome>>;
}

/// Opens the destination `url` means in `role`: the one factory. A URL no
/// kind takes is refused with the kinds it could be.
pub async fn open(
    url: &str,
    role: Role,
    access: Access,
    layout: Layout,
) -> Result<Box<dyn Destination>> {
    Ok(match role {
        #[cfg(feature = "test-hooks")]
        Role::Releases if journal::takes(url) => Box::new(journal::Journal::open(url)?),
        Role::Releases => Box::new(releases::ReleaseStore::open(url, layout).await?),
        Role::Images => Box::new(match access {
            Access::Read => ImageRepo::open_to_read(url).await?,
            Access::Write => ImageRepo::open(url).await?,
        }),
    })
}

/// Opens every URL of `urls` in `role`, in order.
pub async fn open_all(
    urls: &[String],
    role: Role,
    access: Access,
    layout: Layout,
) -> Result<Vec<Box<dyn Destination>>> {
    let mut out = Vec::new();
    for u in urls {
        out.push(open(u, role, access, layout).await?);
    }
    Ok(out)
}

/// Applies every destination's plan, stage by stage ([`Stage::ALL`]), and
/// returns what each did.
pub async fn apply_all(planned: &[Box<dyn Planned + '_>], keys: &Keys) -> Result<Vec<Outcome>> {
    let mut out = Vec::new();
    for stage in Stage::ALL {
        for p in planned {
            out.extend(p.apply(stage, keys).await?);
        }
    }
    Ok(out)
}

/// Every object of `planned`, in order: the plan document's objects.
pub fn objects(planned: &[Box<dyn Planned + '_>]) -> Vec<PlannedObject> {
    planned.iter().flat_map(|p| p.objects()).collect()
}
