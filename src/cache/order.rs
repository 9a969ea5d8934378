//! When a narinfo may be written: once its own NAR is uploaded and the
//! narinfo of every reference inside the push exists. References outside the
//! push are already in the cache (that is why they are outside it).
//!
//! And in which order NARs go up, so that the narinfos can follow them: a
//! chain of references can only be written one narinfo after the other, so
//! NARs go up references first and the chain advances while they upload,
//! instead of all at the end.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// The order in which to upload NARs: every path after its references (a
/// topological order, ties by path), so the narinfos can follow the NARs;
/// paths of `big` bytes or more, largest first, spread evenly through the
/// first half, so that none finishes alone at the end and none holds the
/// small paths (and so the narinfo chains) back at the start.
/// `paths` are (path, NAR size, references); the result indexes them.
pub fn upload_order(paths: &[(&str, u64, &[String])], big: u64) -> Vec<usize> {
    let topological = topological_order(paths);
    let (mut bigs, small): (Vec<usize>, Vec<usize>) =
        topological.into_iter().partition(|&i| paths[i].1 >= big);
    bigs.sort_by_key(|&i| (std::cmp::Reverse(paths[i].1), paths[i].0));
    // One big path every `gap` small ones.
    let gap = (small.len() / (2 * bigs.len().max(1))).max(1);
    let mut order = Vec::with_capacity(paths.len());
    let mut bigs = bigs.into_iter();
    for (n, i) in small.into_iter().enumerate() {
        if n % gap == 0 {
            order.extend(bigs.next());
        }
        order.push(i);
    }
    order.extend(bigs);
    order
}

/// The paths of a push that no other path of it refers to: its roots. A
/// cache is closed under references (a narinfo is written only after its
/// references' narinfos, by this tool and by `nix copy`), so when every root
/// is in it, so is the whole push.
pub fn roots<'a>(paths: &[(&'a str, &[String])]) -> Vec<&'a str> {
    let referred: HashSet<&str> = paths
        .iter()
        .flat_map(|(path, refs)| refs.iter().map(String::as_str).filter(move |r| r != path))
        .collect();
    paths
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !referred.contains(p))
        .collect()
}

/// References before referrers (Kahn's algorithm; ties by path, so the
/// order is the same on every run). References outside `paths` and
/// self-references are ignored.
fn topological_order(paths: &[(&str, u64, &[String])]) -> Vec<usize> {
    let index: HashMap<&str, usize> = paths.iter().enumerate().map(|(i, p)| (p.0, i)).collect();
    let mut waiting: Vec<usize> = vec![0; paths.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); paths.len()];
    for (i, (path, _, refs)) in paths.iter().enumerate() {
        for r in refs.iter().filter(|r| r.as_str() != *path) {
            if let Some(&j) = index.get(r.as_str()) {
                waiting[i] += 1;
                dependents[j].push(i);
            }
        }
    }
    let mut ready: VecDeque<usize> = {
        let mut roots: Vec<usize> = (0..paths.len()).filter(|&i| waiting[i] == 0).collect();
        roots.sort_by_key(|&i| paths[i].0);
        roots.into()
    };
    let mut order = Vec::with_capacity(paths.len());
    while let Some(i) = ready.pop_front() {
        order.push(i);
        let mut next: Vec<usize> = Vec::new();
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                next.push(d);
            }
        }
        next.sort_by_key(|&d| paths[d].0);
        ready.extend(next);
    }
    order
}

/// Tracks, for every path of a push, what its narinfo still waits on.
#[derive(Debug, Default)]
pub struct NarinfoGate {
    /// Path → how many of its references' narinfos are not written yet.
    waiting_on: HashMap<String, usize>,
    /// Path → the paths that refer to it.
    dependents: HashMap<String, Vec<String>>,
    /// Paths whose NAR is uploaded but whose narinfo is not released yet.
    nar_done: HashSet<String>,
}

impl NarinfoGate {
    /// A gate over `paths` (path → references). Self-references and
    /// references outside the set are ignored.
    pub fn new(paths: &BTreeMap<String, Vec<String>>) -> NarinfoGate {
        let mut gate = NarinfoGate::default();
        for (path, refs) in paths {
            let inside: Vec<&String> = refs
                .iter()
                .filter(|r| *r != path && paths.contains_key(*r))
                .collect();
            gate.waiting_on.insert(path.clone(), inside.len());
            for r in inside {
                gate.dependents
                    .entry(r.clone())
                    .or_default()
                    .push(path.clone());
            }
        }
        gate
    }

    /// `path`'s NAR is uploaded. True when its narinfo may be written now.
    pub fn nar_uploaded(&mut self, path: &str) -> bool {
        if self.waiting_on.get(path) == Some(&0) {
            true
        } else {
            self.nar_done.insert(path.to_string());
            false
        }
    }

    /// `path`'s narinfo is written. Returns the paths whose narinfos this
    /// releases: their NAR is uploaded and all their references are written.
    pub fn narinfo_written(&mut self, path: &str) -> Vec<String> {
        let mut released = Vec::new();
        for d in self.dependents.get(path).into_iter().flatten() {
            let Some(n) = self.waiting_on.get_mut(d) else {
                continue;
            };
            *n = n.saturating_sub(1);
            if *n == 0 && self.nar_done.remove(d) {
                released.push(d.clone());
            }
        }
        released
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roots_are_what_nothing_else_refers_to() {
        let g = graph();
        let paths: Vec<(&str, &[String])> =
            g.iter().map(|(p, r)| (p.as_str(), r.as_slice())).collect();
        // a-app refers to itself; z-outside is not in the push.
        assert_eq!(roots(&paths), ["a-app", "d-other"]);
    }

    #[test]
    fn nars_go_up_big_ones_first_then_references_first() {
        let refs = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (app, lib, libc, data, tools) = (
            refs(&["b-lib", "a-app"]),
            refs(&["c-libc"]),
            refs(&[]),
            refs(&["c-libc", "z-outside"]),
            refs(&["c-libc"]),
        );
        let paths: Vec<(&str, u64, &[String])> = vec![
            ("a-app", 10, &app),
            ("b-lib", 20, &lib),
            ("c-libc", 30, &libc),
            ("d-data", 900, &data),
            ("e-tools", 500, &tools),
        ];
        let names: Vec<&str> = upload_order(&paths, 100)
            .into_iter()
            .map(|i| paths[i].0)
            .collect();
        // Three small paths: a big one before each of the first two.
        assert_eq!(names, ["d-data", "c-libc", "e-tools", "b-lib", "a-app"]);
        // Without big paths, a chain goes up from its end.
        let names: Vec<&str> = upload_order(&paths, u64::MAX)
            .into_iter()
            .map(|i| paths[i].0)
            .collect();
        assert_eq!(names, ["c-libc", "b-lib", "d-data", "e-tools", "a-app"]);
    }

    fn graph() -> BTreeMap<String, Vec<String>> {
        let mut g = BTreeMap::new();
        g.insert("a-app".to_string(), vec!["b-lib".into(), "a-app".into()]);
        g.insert("b-lib".to_string(), vec!["c-libc".into()]);
        g.insert("c-libc".to_string(), vec![]);
        g.insert(
            "d-other".to_string(),
            vec!["c-libc".into(), "z-outside".into()],
        );
        g
    }

    #[test]
    fn a_narinfo_waits_for_its_references_and_its_nar() {
        let mut gate = NarinfoGate::new(&graph());
        // NARs finish in the worst order: referrers first.
        assert!(!gate.nar_uploaded("a-app"));
        assert!(!gate.nar_uploaded("d-other"));
        assert!(!gate.nar_uploaded("b-lib"));
        // c has no references inside the push: ready at once.
        assert!(gate.nar_uploaded("c-libc"));
        let mut released = gate.narinfo_written("c-libc");
        released.sort();
        assert_eq!(released, ["b-lib", "d-other"]);
        assert_eq!(gate.narinfo_written("d-other"), Vec::<String>::new());
        assert_eq!(gate.narinfo_written("b-lib"), ["a-app"]);
    }

    #[test]
    fn a_path_whose_references_are_written_is_ready_when_its_nar_is() {
        let mut gate = NarinfoGate::new(&graph());
        assert!(gate.nar_uploaded("c-libc"));
        // b's NAR is not there yet: writing c releases nothing.
        assert_eq!(gate.narinfo_written("c-libc"), Vec::<String>::new());
        assert!(gate.nar_uploaded("b-lib"));
        // Self-references and references outside the push do not block.
        assert!(gate.nar_uploaded("d-other"));
    }

    #[test]
    fn a_failed_reference_keeps_its_referrers_back() {
        let mut gate = NarinfoGate::new(&graph());
        assert!(!gate.nar_uploaded("b-lib"));
        assert!(!gate.nar_uploaded("a-app"));
        // c never gets written: neither b nor a is ever released.
        assert!(!gate.nar_uploaded("d-other"));
    }
}
