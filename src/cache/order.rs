//! When a narinfo may be written: once its own NAR is uploaded and the
//! narinfo of every reference inside the push exists. References outside the
//! push are already in the cache (that is why they are outside it).

use std::collections::{BTreeMap, HashMap, HashSet};

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
