//! The one executor: applies the steps of a plan ([`crate::plan::Step`]) to
//! a destination, phase by phase in the plan's order. Inside a phase, the
//! writes go at once (a bounded number in flight), each chain in its order;
//! then the phase's converge steps, which the destination derives from what
//! it holds. Skips write nothing. The destination supplies the writing
//! ([`Sink`]); what to write is the plan's alone.

use futures::{StreamExt, TryStreamExt};

use crate::errors::{Error, Result};
use crate::plan::{Action, Phase, Step};

/// A destination the executor writes to.
pub trait Sink {
    /// Writes what `step` says: its key, payload, content type (and, for
    /// a destination that needs them, its digest and size).
    fn write(&self, step: &Step) -> impl std::future::Future<Output = Result<()>>;

    /// Derives and writes the converge steps of `phase`, once every write of
    /// the phases before it is done.
    fn converge(
        &self,
        phase: Phase,
        steps: &[&Step],
    ) -> impl std::future::Future<Output = Result<()>>;
}

/// Applies `steps` (in phase order, as a plan holds them) to `sink`, at most
/// `in_flight` writes at once.
pub async fn apply<S: Sink>(sink: &S, steps: &[Step], in_flight: usize) -> Result<()> {
    let mut phases: Vec<Phase> = Vec::new();
    for s in steps {
        match phases.last() {
            Some(last) if *last == s.object.phase => {}
            Some(last) if *last > s.object.phase => {
                return Err(Error::PlanInvalid(format!(
                    "it is not in phase order: {} after {}",
                    s.object.phase.as_str(),
                    last.as_str()
                )))
            }
            _ => phases.push(s.object.phase),
        }
    }
    for phase in phases {
        let of_phase: Vec<&Step> = steps.iter().filter(|s| s.object.phase == phase).collect();
        if let Some(s) = of_phase.iter().find(|s| s.object.action == Action::Delete) {
            return Err(Error::PlanInvalid(format!(
                "this executor does not delete ({})",
                s.object.key
            )));
        }
        let writes = chains(
            of_phase
                .iter()
                .copied()
                .filter(|s| s.object.action == Action::Write),
        );
        futures::stream::iter(writes.into_iter().map(|chain| async move {
            for s in chain {
                sink.write(s).await?;
            }
            Ok::<(), Error>(())
        }))
        .buffer_unordered(in_flight.max(1))
        .try_collect::<Vec<()>>()
        .await?;
        let converge: Vec<&Step> = of_phase
            .into_iter()
            .filter(|s| s.object.action == Action::Converge)
            .collect();
        if !converge.is_empty() {
            sink.converge(phase, &converge).await?;
        }
    }
    Ok(())
}

/// The writes grouped into chains: each chain in its order, a step without
/// a chain alone.
fn chains<'a>(writes: impl Iterator<Item = &'a Step>) -> Vec<Vec<&'a Step>> {
    let mut out: Vec<(Option<usize>, Vec<&Step>)> = Vec::new();
    for s in writes {
        match s
            .chain
            .and_then(|c| out.iter_mut().find(|(k, _)| *k == Some(c)))
        {
            Some((_, chain)) => chain.push(s),
            None => out.push((s.chain, vec![s])),
        }
    }
    out.into_iter().map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Payload, PlannedObject};
    use std::sync::Mutex;

    fn step(phase: Phase, action: Action, key: &str, chain: Option<usize>) -> Step {
        Step {
            object: PlannedObject {
                destination: "d".into(),
                phase,
                action,
                key: key.into(),
                size: None,
                digest: None,
                content_type: None,
            },
            payload: Payload::Bytes(key.as_bytes().to_vec()),
            chain,
        }
    }

    /// Records what it is asked, in order.
    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl Sink for Log {
        async fn write(&self, step: &Step) -> Result<()> {
            let key = step.object.key.as_str();
            // A file takes longer than its .sha256: without the chain, the
            // .sha256 would land first.
            if !key.ends_with(".sha256") {
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
            }
            self.0.lock().unwrap().push(format!("write {key}"));
            Ok(())
        }
        async fn converge(&self, phase: Phase, steps: &[&Step]) -> Result<()> {
            let keys: Vec<&str> = steps.iter().map(|s| s.object.key.as_str()).collect();
            self.0
                .lock()
                .unwrap()
                .push(format!("converge {} {}", phase.as_str(), keys.join(",")));
            Ok(())
        }
    }

    #[tokio::test]
    async fn phases_in_order_chains_in_order_skips_not_at_all() {
        let steps = vec![
            step(Phase::Files, Action::Write, "a", Some(0)),
            step(Phase::Files, Action::Write, "a.sha256", Some(0)),
            step(Phase::Files, Action::Skip, "b", Some(1)),
            step(Phase::Files, Action::Write, "c", Some(2)),
            step(Phase::Files, Action::Write, "c.sha256", Some(2)),
            step(Phase::Checksums, Action::Write, "SHA256SUMS", None),
            step(Phase::TagDocument, Action::Write, "tag", None),
            step(Phase::SharedDocuments, Action::Converge, "index", None),
            step(Phase::SharedDocuments, Action::Write, "page", None),
        ];
        let log = Log::default();
        apply(&log, &steps, 8).await.unwrap();
        let done = log.0.into_inner().unwrap();
        let at = |s: &str| done.iter().position(|d| d == s).unwrap();
        assert_eq!(done.len(), 8, "{done:?}");
        assert!(at("write a") < at("write a.sha256"), "{done:?}");
        assert!(at("write c") < at("write c.sha256"), "{done:?}");
        assert!(!done.contains(&"write b".to_string()));
        assert!(at("write a.sha256") < at("write SHA256SUMS"));
        assert!(at("write c.sha256") < at("write SHA256SUMS"));
        assert!(at("write SHA256SUMS") < at("write tag"));
        // A phase's converge steps come after its writes.
        assert_eq!(done.last().unwrap(), "converge shared-documents index");
    }

    #[tokio::test]
    async fn a_plan_out_of_phase_order_is_refused_before_anything_is_written() {
        let steps = vec![
            step(Phase::TagDocument, Action::Write, "tag", None),
            step(Phase::Files, Action::Write, "a", None),
        ];
        let log = Log::default();
        assert!(apply(&log, &steps, 8).await.is_err());
        assert!(log.0.into_inner().unwrap().is_empty());
    }
}
