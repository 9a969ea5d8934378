//! Extra artifacts after the build: a file output linked as a GC root, a
//! directory output archived (deterministically) into `extra/`.

use std::path::{Path, PathBuf};

use super::plan::Plan;
use crate::build_record::{ExtraFile, Failure, Kind};
use crate::errors::{Error, Result};
use crate::fsutil::sha256_file;
use crate::nix::Nix;
use crate::platform::Platform;

/// The directory of the extra artifacts of one target (`extra/linux/amd64`),
/// or of the whole release (`extra`), relative to the release-dist directory.
pub fn extra_dir(platform: Option<Platform>) -> PathBuf {
    match platform {
        Some(p) => Path::new("extra").join(p.tree_dir()),
        None => PathBuf::from("extra"),
    }
}

/// Clears `extra/`, then makes one file per built extra artifact. An
/// output of the wrong shape is a failure of that output, not an error.
pub fn link_extras(
    nix: &Nix,
    (dist, mtime): (&Path, u64),
    plan: &Plan,
    drvs: &[String],
    built: &[Option<String>],
    failures: &mut Vec<Failure>,
) -> Result<Vec<ExtraFile>> {
    let root = dist.join("extra");
    match std::fs::remove_dir_all(&root) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("cannot clear", root)(e)),
    }
    let wanted: Vec<(usize, &String)> = plan
        .outputs
        .iter()
        .zip(built)
        .enumerate()
        .filter(|(_, (o, _))| o.kind == Kind::Extra)
        .filter_map(|(i, (_, b))| b.as_ref().map(|b| (i, b)))
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let paths: Vec<String> = wanted.iter().map(|(_, p)| (*p).clone()).collect();
    let infos = nix.path_info(&paths)?;
    let mut out = Vec::new();
    for (i, store_path) in wanted {
        let output = &plan.outputs[i];
        let Some(extra) = &output.extra else { continue };
        let store = Path::new(store_path);
        let is_dir = std::fs::metadata(store)
            .map_err(Error::io("cannot inspect", store))?
            .is_dir();
        let file = extra.file_name(store_path, is_dir);
        let rel = extra_dir(output.platform).join(&file);
        let local = dist.join(&rel);
        if let Some(parent) = local.parent() {
            std::fs::create_dir_all(parent).map_err(Error::io("cannot create", parent))?;
        }
        let archive = match (is_dir, extra.archive) {
            (true, Some(format)) => {
                crate::archive::archive_dir(
                    store,
                    &extra.archive_top(&file),
                    format,
                    mtime,
                    &local,
                )
                .map_err(Error::io("cannot archive", store))?;
                Some(format.ext().to_string())
            }
            (false, None) => {
                nix.add_root(&local, store_path)?;
                None
            }
            (true, None) => {
                let error = format!("{store_path} is a directory; set `{}.archive` to tar.gz, tar.xz or zip to publish it as one file", extra.key);
                failures.push(output.failure(&drvs[i], error));
                continue;
            }
            (false, Some(format)) => {
                let error = format!(
                    "{store_path} is a file, so it cannot be archived as {}; remove `{}.archive`",
                    format.ext(),
                    extra.key
                );
                failures.push(output.failure(&drvs[i], error));
                continue;
            }
        };
        let (sha256, size) = sha256_file(&local)?;
        out.push(ExtraFile {
            name: extra.name.clone(),
            platform: output.platform,
            attribute: output.attribute.clone(),
            path: rel.display().to_string(),
            file,
            store_path: store_path.clone(),
            drv_path: drvs[i].clone(),
            nar_hash: infos
                .iter()
                .find(|info| &info.path == store_path)
                .map(|info| info.nar_hash.clone())
                .unwrap_or_default(),
            archive,
            sha256,
            size,
        });
    }
    Ok(out)
}
