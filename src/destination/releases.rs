//! The release store kind: static releases in an object store (S3 or a
//! directory), in a layout, with the package repositories beside them.
//! Publishing plans with [`statics::observe_static`] and the pure
//! [`statics::decide_static`] (then the repositories' observe and decide);
//! removal with [`lifecycle_statics::plan_removal`] and the repositories'.

use std::time::Duration;

use super::{
    Aging, Checked, Destination, Kept, Keys, Outcome, Planned, Promoting, Publishing, Section,
    Stage, Work,
};
use crate::errors::{Error, Result};
use crate::kinds::Layout;
use crate::lifecycle::promote::{self, DestinationPlan};
use crate::lifecycle::retention::Dated;
use crate::lifecycle::statics as lifecycle_statics;
use crate::nixcache::PublicKey;
use crate::objstore::{ObjectStore, StoreUrl};
use crate::plan::{PlannedObject, Step};
use crate::publish::repos::{self, RepoRemoval};
use crate::publish::statics::{self, StaticPlan};
use crate::publish::verify::verify_release;

/// A release store.
pub struct ReleaseStore {
    store: ObjectStore,
    layout: Layout,
}

impl ReleaseStore {
    /// Opens the store `url` names (`s3://…`, a directory).
    pub async fn open(url: &str, layout: Layout) -> Result<ReleaseStore> {
        let location = StoreUrl::parse_location(url).map_err(Error::StoreUrl)?;
        Ok(ReleaseStore {
            store: ObjectStore::open(&location).await?,
            layout,
        })
    }
}

impl Destination for ReleaseStore {
    fn describe(&self) -> String {
        self.store.describe()
    }

    fn list<'a>(&'a self, name: &'a str) -> Work<'a, Section> {
        Box::pin(async move {
            let listed = lifecycle_statics::listed(&self.store, self.layout, name).await?;
            let mut rows = lifecycle_statics::rows(&listed);
            lifecycle_statics::read_reproduced(
                &self.store,
                (self.layout, name),
                &listed,
                &mut rows,
            )
            .await?;
            Ok(Section::Releases(rows))
        })
    }

    fn aging<'a>(&'a self, name: &'a str, grace: Duration) -> Work<'a, Aging> {
        Box::pin(async move {
            let listed = lifecycle_statics::listed(&self.store, self.layout, name).await?;
            let dated = listed
                .iter()
                .map(|r| Dated {
                    published: lifecycle_statics::published(r),
                    tag: r.tag.clone(),
                    class: r.class,
                })
                .collect();
            let leftovers =
                lifecycle_statics::leftovers(&self.store, self.layout, name, grace).await?;
            Ok(Aging { dated, leftovers })
        })
    }

    fn verify<'a>(
        &'a self,
        name: &'a str,
        tag: &'a str,
        key: Option<&'a PublicKey>,
    ) -> Work<'a, Checked> {
        Box::pin(async move {
            let (store, layout) = (&self.store, self.layout);
            let (problems, objects, release) =
                verify_release(store, layout, name, tag, key).await?;
            Ok(Checked {
                problems,
                objects,
                release,
            })
        })
    }

    fn plan_promote<'a>(
        &'a self,
        from: &'a dyn Destination,
        work: &'a Promoting<'a>,
    ) -> Work<'a, Box<dyn Planned + 'a>> {
        Box::pin(async move {
            let Some(from) = from.as_any().downcast_ref::<ReleaseStore>() else {
                return Err(Error::usage(
                    "promote",
                    "--from",
                    format!("{} is not a release store", from.describe()),
                ));
            };
            let (name, tag, layout) = (work.name, work.tag, self.layout);
            let order = promote::copy_order(work.verified, layout, (name, tag));
            let sums = &work.verified.sums;
            let plan = promote::plan_destination(
                &self.store,
                (work.force, layout),
                (name, tag),
                &order,
                sums,
            )
            .await?;
            Ok(Box::new(PromotePlan {
                to: self,
                from,
                work,
                plan,
            }) as Box<dyn Planned>)
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn plan_publish<'a>(&'a self, work: &'a Publishing<'a>) -> Work<'a, Box<dyn Planned + 'a>> {
        Box::pin(async move {
            let rel = work.release;
            let d = self.store.describe();
            let plan = statics::plan_static(&self.store, &d, rel).await?;
            let repo_steps = match rel.packages {
                Some(set) => {
                    let seen = repos::observe_repositories(&self.store, set).await?;
                    repos::decide_repositories(&d, set, &seen)
                }
                None => Vec::new(),
            };
            Ok(Box::new(PublishPlan {
                to: self,
                work,
                plan,
                repo_steps,
            }) as Box<dyn Planned>)
        })
    }

    fn plan_removal<'a>(
        &'a self,
        name: &'a str,
        tags: &'a [String],
    ) -> Work<'a, Box<dyn Planned + 'a>> {
        Box::pin(async move {
            let (store, layout) = (&self.store, self.layout);
            let d = store.describe();
            let removal = lifecycle_statics::plan_removal(store, &d, layout, name, tags).await?;
            let packages =
                packages_only_these_have(store, layout, name, tags, &removal.content).await?;
            let repos = repos::plan_repo_removal(store, &packages).await?;
            Ok(Box::new(RemovalPlan {
                from: self,
                name,
                tags,
                removal,
                repos,
            }) as Box<dyn Planned>)
        })
    }
}

/// Publishing one release to one store: its steps and its repositories'.
struct PublishPlan<'a> {
    to: &'a ReleaseStore,
    work: &'a Publishing<'a>,
    plan: StaticPlan,
    repo_steps: Vec<Step>,
}

impl Planned for PublishPlan<'_> {
    fn objects(&self) -> Vec<PlannedObject> {
        let repos = self.repo_steps.iter().map(|s| s.object.clone());
        self.plan.objects().cloned().chain(repos).collect()
    }

    fn kept_provenance(&self) -> Work<'_, Kept> {
        Box::pin(async move {
            if !self.plan.provenance_there {
                return Ok(Kept::Missing);
            }
            let rel = self.work.release;
            let prefix = rel.layout.release_prefix(rel.name, &rel.release.tag);
            let key = format!("{prefix}{}", rel.provenance.0);
            Ok(match self.to.store.get(&key).await? {
                Some(bytes) => Kept::There(bytes),
                None => Kept::Missing,
            })
        })
    }

    fn apply<'a>(&'a self, stage: Stage, _keys: &'a Keys) -> Work<'a, Vec<Outcome>> {
        Box::pin(async move {
            if stage != Stage::Release {
                return Ok(Vec::new());
            }
            let (rel, store) = (self.work.release, &self.to.store);
            if !self.work.quiet {
                let (tag, class) = (&rel.release.tag, rel.release.class.as_str());
                eprintln!(
                    "publishing {} {tag} ({class}) to {}",
                    rel.name,
                    store.describe()
                );
            }
            let mut out = vec![Outcome::Release(
                statics::execute_static(store, rel, &self.plan).await?,
            )];
            if let Some(set) = rel.packages {
                if !self.work.quiet {
                    eprintln!(
                        "publishing the {} packages to the repositories (suite {}) at {}",
                        set.packages.len(),
                        set.suite,
                        store.describe()
                    );
                }
                out.push(Outcome::Repositories(
                    repos::publish_repositories(store, set, &self.repo_steps).await?,
                ));
            }
            Ok(out)
        })
    }
}

/// Promoting a verified release from one store to another: the copies in
/// publish order, then production's repositories.
struct PromotePlan<'a> {
    to: &'a ReleaseStore,
    from: &'a ReleaseStore,
    work: &'a Promoting<'a>,
    plan: DestinationPlan,
}

impl Planned for PromotePlan<'_> {
    fn objects(&self) -> Vec<PlannedObject> {
        promote::planned_objects(&self.to.describe(), &self.plan)
    }

    fn needs_packages_key(&self) -> bool {
        self.work.packages.is_some()
    }

    fn apply<'a>(&'a self, stage: Stage, keys: &'a Keys) -> Work<'a, Vec<Outcome>> {
        Box::pin(async move {
            if stage != Stage::Release {
                return Ok(Vec::new());
            }
            let (dest, src) = (&self.to.store, &self.from.store);
            let (work, layout) = (self.work, self.to.layout);
            let mut done =
                promote::copy_to(dest, src, &self.plan, (layout, work.name, work.tmp)).await?;
            if let (Some((url, other_suite)), Some(key)) = (work.packages, &keys.packages) {
                let front = repos::Front {
                    name: work.name,
                    url,
                    key,
                    suite: "",
                    other_suite,
                    formats: Default::default(),
                    page: (layout, work.name),
                };
                let packages = promote::packages_of(work.verified);
                done.copied +=
                    repos::promote_repositories(src, dest, &packages, &front, work.tmp).await?;
            }
            Ok(vec![Outcome::Promoted(done)])
        })
    }
}

/// Removing releases from one store, and their packages from its
/// repositories.
struct RemovalPlan<'a> {
    from: &'a ReleaseStore,
    name: &'a str,
    tags: &'a [String],
    removal: lifecycle_statics::StaticRemoval,
    repos: RepoRemoval,
}

impl Planned for RemovalPlan<'_> {
    fn objects(&self) -> Vec<PlannedObject> {
        let mut out = self.repos.objects(&self.from.store.describe());
        out.extend(self.removal.objects.iter().cloned());
        out
    }

    fn found(&self) -> Vec<String> {
        let layout = self.from.layout;
        self.tags
            .iter()
            .filter(|t| {
                let prefix = layout.release_prefix(self.name, t);
                self.removal
                    .objects
                    .iter()
                    .any(|o| o.key.starts_with(&prefix) || o.key == prefix.trim_end_matches('/'))
            })
            .cloned()
            .collect()
    }

    fn needs_packages_key(&self) -> bool {
        !self.repos.is_empty()
    }

    fn apply<'a>(&'a self, stage: Stage, keys: &'a Keys) -> Work<'a, Vec<Outcome>> {
        Box::pin(async move {
            if stage != Stage::Release {
                return Ok(Vec::new());
            }
            let store = &self.from.store;
            if let Some(key) = &keys.packages {
                repos::execute_repo_removal(store, &self.repos, key).await?;
            }
            let (layout, name) = (self.from.layout, self.name);
            lifecycle_statics::execute_removal(store, layout, name, self.tags, &self.removal)
                .await?;
            Ok(Vec::new())
        })
    }
}

/// The package files (`.deb`, `.rpm`) of the releases being removed that no
/// other release of `name` has: two releases of one commit (two extra tags)
/// share a package version, and the one left keeps it in the repositories.
async fn packages_only_these_have(
    store: &ObjectStore,
    layout: Layout,
    name: &str,
    tags: &[String],
    content: &[String],
) -> Result<Vec<String>> {
    let file_of = |k: &str| k.rsplit('/').next().unwrap_or("").to_string();
    let is_package = |k: &str| crate::linuxpkg::Format::of_file(k).is_some();
    let removed: Vec<String> = tags
        .iter()
        .map(|t| layout.release_prefix(name, t))
        .collect();
    let kept: std::collections::HashSet<String> = store
        .list(&layout.name_prefix(name))
        .await?
        .into_iter()
        .filter(|o| is_package(&o.key) && !removed.iter().any(|p| o.key.starts_with(p.as_str())))
        .map(|o| file_of(&o.key))
        .collect();
    let mut out: Vec<String> = content
        .iter()
        .filter(|k| is_package(k))
        .map(|k| file_of(k))
        .filter(|f| !kept.contains(f))
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}
