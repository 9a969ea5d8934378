//! Topological order over store paths: references before referrers.

use std::collections::{BTreeMap, BTreeSet};

/// Orders `paths` (path → references) so that every path comes after the
/// references it has inside the set. Self-references and references
/// outside the set are ignored. Ties are broken by path, so the order is
/// stable. Cycles (impossible in a Nix store) are broken arbitrarily.
pub fn topo_order(paths: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut remaining: BTreeMap<&str, BTreeSet<&str>> = paths
        .iter()
        .map(|(p, refs)| {
            let deps = refs
                .iter()
                .map(String::as_str)
                .filter(|r| *r != p && paths.contains_key(*r))
                .collect();
            (p.as_str(), deps)
        })
        .collect();
    let mut out = Vec::with_capacity(paths.len());
    while !remaining.is_empty() {
        let ready: Vec<&str> = remaining
            .iter()
            .filter(|(_, deps)| deps.is_empty())
            .map(|(p, _)| *p)
            .collect();
        let ready = if ready.is_empty() {
            vec![*remaining.keys().next().unwrap_or(&"")]
        } else {
            ready
        };
        for p in &ready {
            remaining.remove(p);
        }
        for deps in remaining.values_mut() {
            for p in &ready {
                deps.remove(p);
            }
        }
        out.extend(ready.into_iter().map(str::to_string));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_come_first() {
        let mut g = BTreeMap::new();
        g.insert(
            "/nix/store/a-app".to_string(),
            vec!["/nix/store/b-lib".into(), "/nix/store/a-app".into()],
        );
        g.insert(
            "/nix/store/b-lib".to_string(),
            vec!["/nix/store/c-libc".into()],
        );
        g.insert("/nix/store/c-libc".to_string(), vec![]);
        g.insert(
            "/nix/store/d-other".to_string(),
            vec!["/nix/store/c-libc".into(), "/nix/store/z-outside".into()],
        );
        let order = topo_order(&g);
        let pos = |p: &str| order.iter().position(|x| x == p).unwrap();
        assert_eq!(order.len(), 4);
        assert!(pos("/nix/store/c-libc") < pos("/nix/store/b-lib"));
        assert!(pos("/nix/store/b-lib") < pos("/nix/store/a-app"));
        assert!(pos("/nix/store/c-libc") < pos("/nix/store/d-other"));
    }
}
