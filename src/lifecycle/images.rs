//! Image tags: what a destination holds, and removing tags from it (see
//! [`crate::oci::remove`] for the order and the registry's quirks).

use serde::Serialize;

use crate::digest::Digest;
use crate::errors::Result;
use crate::objstore::{converge, Derived, ObjectMeta};
use crate::oci::reach::Reach;
use crate::oci::referrers::{fallback_tag, is_fallback_tag};
use crate::oci::remove::{layout_untag, store_reach, store_tags};
use crate::oci::scheme::{self, tag_key, Shape};
use crate::plan::{Action, Phase, PlannedObject};
use crate::publish::images::ImageRepo;

/// One tag, as `ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagRow {
    /// The tag.
    pub tag: String,
    /// The digest it points at (the multi-arch index).
    pub digest: Digest,
    /// Its index has a referrers fallback tag (the attestation publish
    /// attaches).
    pub attested: bool,
}

/// The tags `target` holds for image `name`, without the referrers
/// fallback tags (which [`plan_removal`] removes with their index).
pub async fn tag_rows(target: &ImageRepo, name: &str) -> Result<Vec<TagRow>> {
    let all = all_tag_rows(target, name).await?;
    let attested = |digest: &Digest| all.iter().any(|r| r.tag == fallback_tag(digest));
    Ok(all
        .iter()
        .filter(|r| !is_fallback_tag(&r.tag))
        .map(|r| TagRow {
            attested: attested(&r.digest),
            ..r.clone()
        })
        .collect())
}

/// Every tag `target` holds for image `name`.
async fn all_tag_rows(target: &ImageRepo, name: &str) -> Result<Vec<TagRow>> {
    let pairs = match target {
        ImageRepo::Registry(r) => {
            let mut out = Vec::new();
            for tag in r.tags().await? {
                // The tag's own document only: what it reaches is read
                // when a removal needs it.
                if let Some(bytes) = r.raw_document(&tag).await? {
                    out.push((tag, Digest::of(&bytes)));
                }
            }
            out
        }
        ImageRepo::Store(s, shape) => store_tags(s, *shape, name).await?,
    };
    let mut rows: Vec<TagRow> = pairs
        .into_iter()
        .map(|(tag, digest)| TagRow {
            tag,
            digest,
            attested: false,
        })
        .collect();
    rows.sort_by(|a, b| a.tag.cmp(&b.tag));
    Ok(rows)
}

/// What the tags other than `removed` reach, and what `removed` reach.
async fn reaches(
    target: &ImageRepo,
    name: &str,
    removed: &[String],
) -> Result<(Reach, Reach, Vec<Digest>)> {
    let mut kept = Reach::default();
    let mut gone = Reach::default();
    let mut order = Vec::new();
    for row in all_tag_rows(target, name).await? {
        let reach = match target {
            ImageRepo::Registry(r) => r
                .reach_of(&row.tag)
                .await?
                .map(|t| t.reach)
                .unwrap_or_default(),
            ImageRepo::Store(s, shape) => store_reach(s, *shape, name, &row.digest).await?,
        };
        if removed.contains(&row.tag) {
            order.push(row.digest.clone());
            gone.manifests.extend(reach.manifests);
            gone.blobs.extend(reach.blobs);
        } else {
            kept.manifests.extend(reach.manifests);
            kept.blobs.extend(reach.blobs);
        }
    }
    Ok((kept, gone, order))
}

/// What removing tags from one image destination deletes.
#[derive(Debug, Clone, Default)]
pub struct ImageRemoval {
    /// The tags it has, of those asked for.
    pub tags: Vec<String>,
    /// The plan's objects.
    pub objects: Vec<PlannedObject>,
}

fn manifest_ref(shape: Option<Shape>, name: &str, digest: &Digest, blob: bool) -> String {
    match shape {
        None if blob => format!("blobs/{digest}"),
        None => format!("manifests/{digest}"),
        Some(shape) if blob => shape.blob(name, digest),
        Some(shape) => shape.manifest(name, digest),
    }
}

fn shape_of(target: &ImageRepo) -> Option<Shape> {
    match target {
        ImageRepo::Registry(_) => None,
        ImageRepo::Store(_, shape) => Some(*shape),
    }
}

/// The tags of `rows` that `tags` asks for, then the referrers fallback
/// tag of each index that no other tag points at once they are gone (its
/// attestation goes with it).
fn with_fallback_tags(rows: &[TagRow], tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = rows
        .iter()
        .filter(|r| tags.contains(&r.tag) && !is_fallback_tag(&r.tag))
        .map(|r| r.tag.clone())
        .collect();
    let still_tagged = |digest: &Digest| {
        rows.iter()
            .any(|r| r.digest == *digest && !out.contains(&r.tag) && !is_fallback_tag(&r.tag))
    };
    let mut fallbacks = Vec::new();
    for r in rows.iter().filter(|r| out.contains(&r.tag)) {
        let fallback = fallback_tag(&r.digest);
        if !still_tagged(&r.digest)
            && rows.iter().any(|x| x.tag == fallback)
            && !fallbacks.contains(&fallback)
        {
            fallbacks.push(fallback);
        }
    }
    out.extend(fallbacks);
    out
}

/// Reads `target` and plans the removal of `tags`.
pub async fn plan_removal(target: &ImageRepo, name: &str, tags: &[String]) -> Result<ImageRemoval> {
    let destination = target.destination();
    let shape = shape_of(target);
    let present = with_fallback_tags(&all_tag_rows(target, name).await?, tags);
    let (kept, gone, order) = reaches(target, name, &present).await?;
    let object = |phase, action, key: String| PlannedObject {
        destination: destination.clone(),
        phase,
        action,
        key,
        size: None,
        digest: None,
        content_type: None,
    };
    let mut objects: Vec<PlannedObject> = present
        .iter()
        .map(|t| {
            let key = match shape {
                Some(Shape::StaticRegistry) => tag_key(name, t),
                Some(Shape::Layout) => format!("index.json#{t}"),
                None => format!("manifests/{t}"),
            };
            object(Phase::Tags, Action::Delete, key)
        })
        .collect();
    if present.is_empty() {
        return Ok(ImageRemoval::default());
    }
    if shape == Some(Shape::StaticRegistry) {
        objects.push(object(
            Phase::SharedDocuments,
            Action::Converge,
            scheme::tags_list_key(name),
        ));
    }
    let (manifests, blobs) = gone.freed(&kept, &order);
    for d in manifests {
        objects.push(object(
            Phase::Manifests,
            Action::Delete,
            manifest_ref(shape, name, &d, false),
        ));
    }
    for d in blobs {
        objects.push(object(
            Phase::Blobs,
            Action::Delete,
            manifest_ref(shape, name, &d, true),
        ));
    }
    Ok(ImageRemoval {
        tags: present,
        objects,
    })
}

/// Removes the tags, then (reading the remaining tags again) what nothing
/// else reaches.
pub async fn execute_removal(target: &ImageRepo, name: &str, removal: &ImageRemoval) -> Result<()> {
    if removal.tags.is_empty() {
        return Ok(());
    }
    let (_, gone, order) = reaches(target, name, &removal.tags).await?;
    match target {
        ImageRepo::Registry(r) => {
            r.probe_delete().await?;
            for t in &removal.tags {
                r.untag(t).await?;
            }
        }
        ImageRepo::Store(s, Shape::StaticRegistry) => {
            let keys: Vec<String> = removal.tags.iter().map(|t| tag_key(name, t)).collect();
            let prefix = Shape::StaticRegistry.manifest_prefix(name);
            let list_key = scheme::tags_list_key(name);
            let derive = |listing: &[ObjectMeta]| -> Derived {
                let keys = listing.iter().map(|o| o.key.as_str());
                let doc = serde_json::json!({"name": name, "tags": scheme::tags_of(&prefix, keys)});
                vec![(
                    list_key.clone(),
                    serde_json::to_vec(&doc).unwrap_or_default(),
                    "application/json",
                )]
            };
            // The tag list without the removed tags first, so that a run
            // stopped at any point lists no tag that is gone.
            let without: Vec<ObjectMeta> = s
                .list(&prefix)
                .await?
                .into_iter()
                .filter(|o| !keys.contains(&o.key))
                .collect();
            for (key, bytes, ctype) in derive(&without) {
                s.put(&key, crate::objstore::Body::Bytes(bytes), ctype)
                    .await?;
            }
            s.delete_many(&keys).await?;
            converge(s, &prefix, &derive).await?;
        }
        ImageRepo::Store(s, Shape::Layout) => layout_untag(s, &removal.tags).await?,
    }
    // The remaining tags, read again now that the removed ones are gone.
    let (kept, _, _) = reaches(target, name, &[]).await?;
    let (manifests, blobs) = gone.freed(&kept, &order);
    let shape = shape_of(target);
    match target {
        ImageRepo::Registry(r) => {
            for d in &manifests {
                r.delete_reference(&format!("manifests/{d}")).await?;
            }
            for d in &blobs {
                r.delete_reference(&format!("blobs/{d}")).await?;
            }
        }
        ImageRepo::Store(s, _) => {
            let keys: Vec<String> = manifests
                .iter()
                .map(|d| manifest_ref(shape, name, d, false))
                .collect();
            s.delete_many(&keys).await?;
            let keys: Vec<String> = blobs
                .iter()
                .map(|d| manifest_ref(shape, name, d, true))
                .collect();
            s.delete_many(&keys).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attestation_goes_with_the_last_tag_of_its_index() {
        let (d1, d2) = (Digest::of(b"1"), Digest::of(b"2"));
        let row = |tag: &str, digest: &Digest| TagRow {
            tag: tag.into(),
            digest: digest.clone(),
            attested: false,
        };
        let rows = [
            row("latest", &d1),
            row(&fallback_tag(&d1), &Digest::of(b"r1")),
            row(&fallback_tag(&d2), &Digest::of(b"r2")),
            row("v1", &d1),
            row("v2", &d2),
        ];
        let ask = |tags: &[&str]| {
            let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
            with_fallback_tags(&rows, &tags)
        };
        assert_eq!(ask(&["v1"]), ["v1"], "latest still points at the index");
        assert_eq!(
            ask(&["v1", "latest"]),
            ["latest".to_string(), "v1".into(), fallback_tag(&d1)]
        );
        assert_eq!(ask(&["v2"]), ["v2".to_string(), fallback_tag(&d2)]);
        assert_eq!(ask(&["v3"]), Vec::<String>::new());
        assert_eq!(
            ask(&[&fallback_tag(&d2)]),
            Vec::<String>::new(),
            "not asked for by itself"
        );
    }
}
