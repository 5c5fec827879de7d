//! The audit's two pipelines. Both probe every target, fetch the OCSP responses and CRLs its chain
//! names, and judge it; they differ in when. [`batch`] probes everything, then fetches for
//! everything at once, then judges: the fewest fetches. [`streamed`] sends each finished target on
//! to its fetches (batched with the targets that finish alongside it) and judges it as soon as they
//! are done, for sinks that write each target as it finishes.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rustls_pki_types::UnixTime;

use super::ResultSink;
use super::plan::Judging;
use super::progress::{Progress, RunTimer};
use crate::analysis::Verdict;
use crate::analysis::knowledge::Policy;
use crate::analysis::{Context, assess};
use crate::model::observation::{Observation, Outcome, SkipReason, StopReason};
use crate::model::target::Target;
use crate::probe::revocation::{self, RevocationConfig};
use crate::probe::{ProbeConfig, probe_all, probe_each};
use crate::report::{Summary, TargetResult};

/// Revocation batches in flight at once while streaming. Observations that finish meanwhile wait
/// and form the next, larger batch, which keeps the load on responders near that of one
/// `fetch_all`.
pub const FETCH_BATCHES: usize = 4;

/// Judges observations: the analysis, with the plan's trust stores, knowledge and baseline.
pub struct Judge<'a> {
    pub judging: &'a Judging,
    /// Judge under this policy instead of the one Apple applies to each host.
    pub policy: Option<&'a Policy>,
}

impl Judge<'_> {
    /// Judges one observation at `now`.
    pub fn judge(&self, observation: Observation, now: UnixTime) -> TargetResult {
        let ctx = Context {
            trust: &self.judging.trust,
            knowledge: &self.judging.knowledge,
            now,
            policy: self.policy,
            baseline: self.judging.baseline.as_ref(),
        };
        TargetResult {
            assessment: assess(&observation, &ctx),
            observation,
        }
    }
}

/// What both pipelines run with.
pub struct Pipeline<'a> {
    pub runtime: &'a tokio::runtime::Runtime,
    pub config: &'a ProbeConfig,
    /// `None`: no OCSP or CRL fetches.
    pub revocation: Option<&'a RevocationConfig>,
    pub judge: &'a Judge<'a>,
    pub progress: &'a Progress,
}

/// Probes everything, then fetches revocation for everything (unless the run was stopped), then
/// judges everything. Returns the results in the targets' order.
pub fn batch(p: &Pipeline<'_>, targets: Vec<Target>, timer: &mut RunTimer) -> Vec<TargetResult> {
    let Pipeline {
        runtime,
        config,
        revocation,
        judge,
        progress,
    } = *p;
    let stop = config.stop.clone();
    let observations = runtime.block_on(async {
        let ticker = progress.start_ticker();
        let probing = Instant::now();
        let targets = targets.into_iter().inspect(|t| progress.started(t));
        let mut observations = probe_all(targets, config, |i, o| progress.done(i, o)).await;
        timer.probing = probing.elapsed();
        if let Some(revocation) = revocation
            && stop.reason().is_none()
        {
            progress.phase("fetching OCSP responses and CRLs");
            let fetching = Instant::now();
            // A stop abandons the fetches: the targets are judged without them.
            let planned = crate::analysis::revocation::plan(&observations);
            tokio::select! {
                () = revocation::fetch_all(&mut observations, planned, revocation) => {}
                _ = stop.stopped() => {}
            }
            timer.revocation = Some(fetching.elapsed());
        }
        if let Some(t) = ticker {
            t.abort();
        }
        observations
    });
    let judging = Instant::now();
    let now = UnixTime::now();
    let results = observations
        .into_iter()
        .map(|observation| judge.judge(observation, now))
        .collect();
    timer.analysis = judging.elapsed();
    results
}

/// Judges observations as they arrive, hands each result to the sink and keeps only its count:
/// memory follows what is in flight, not the number of targets.
struct Streamer<'a, 'j> {
    sink: &'a mut dyn ResultSink,
    judge: &'a Judge<'j>,
    analysis: Duration,
    /// Results delivered, per verdict.
    counts: BTreeMap<Verdict, usize>,
    /// Targets a stop left unprobed.
    not_probed: usize,
    /// Observations whose revocation fetches are under way, by target index: what is delivered
    /// without revocation if their batch is abandoned (a stop) or its task fails.
    fetching: HashMap<usize, Observation>,
}

impl Streamer<'_, '_> {
    fn deliver(&mut self, i: usize, observation: Observation) {
        self.fetching.remove(&i);
        if matches!(
            observation.outcome,
            Outcome::Skipped(SkipReason::Stopped(_))
        ) {
            self.not_probed += 1;
        }
        let judging = Instant::now();
        let result = self.judge.judge(observation, UnixTime::now());
        self.analysis += judging.elapsed();
        *self.counts.entry(result.assessment.verdict).or_default() += 1;
        self.sink.target(&result);
    }

    /// The summary of everything delivered, given why the run stopped, if it did.
    fn summary(&self, stopped: Option<StopReason>) -> Summary {
        let verdicts = self
            .counts
            .iter()
            .flat_map(|(v, n)| std::iter::repeat_n(v, *n));
        let summary = Summary::of(verdicts);
        match stopped {
            Some(reason) => summary.stopped(reason, self.not_probed),
            None => summary,
        }
    }
}

/// Probes with each finished observation sent on to its revocation fetches (batched: targets that
/// finish together share one `fetch_all`, which fetches a CRL or OCSP answer they share once) and
/// then judged and handed to `sink`, in the order targets finish. Keeps no result: returns their
/// summary.
pub fn streamed(
    p: &Pipeline<'_>,
    targets: impl Iterator<Item = Target>,
    sink: &mut dyn ResultSink,
    timer: &mut RunTimer,
) -> Summary {
    let Pipeline {
        runtime,
        config,
        revocation,
        judge,
        progress,
    } = *p;
    let mut streamer = Streamer {
        sink,
        judge,
        analysis: Duration::ZERO,
        counts: BTreeMap::new(),
        not_probed: 0,
        fetching: HashMap::new(),
    };
    let probing = Instant::now();
    runtime.block_on(probe_and_deliver(
        targets,
        config,
        revocation,
        progress,
        &mut streamer,
    ));
    timer.probing = probing.elapsed();
    // A batch whose revocation task failed or was abandoned still gets reported, without
    // revocation, in the targets' order.
    let mut left: Vec<(usize, Observation)> = streamer.fetching.drain().collect();
    left.sort_by_key(|(i, _)| *i);
    for (i, obs) in left {
        streamer.deliver(i, obs);
    }
    timer.analysis = streamer.analysis;
    streamer.summary(config.stop.reason())
}

/// Observations with the index of their target.
type Batch = Vec<(usize, Observation)>;

async fn probe_and_deliver(
    targets: impl Iterator<Item = Target>,
    config: &ProbeConfig,
    revocation: Option<&RevocationConfig>,
    progress: &Progress,
    streamer: &mut Streamer<'_, '_>,
) {
    let ticker = progress.start_ticker();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Observation)>();
    // Each target is read (from its file, for a targets file) only when its probe starts.
    let targets = targets.inspect(|t| progress.started(t));
    let probing = probe_each(targets, config, move |i, o| {
        progress.done(i, &o);
        let _ = tx.send((i, o));
    });
    let stop = config.stop.clone();
    let judging = async {
        let mut fetches = tokio::task::JoinSet::new();
        let mut open = true;
        let mut stopped = false;
        loop {
            let take_more = open && (revocation.is_none() || fetches.len() < FETCH_BATCHES);
            // After a stop, nothing more is fetched: what is left is judged without revocation.
            let revocation = revocation.filter(|_| !stopped);
            tokio::select! {
                // Only while there is work left, so `else` still ends the loop.
                _ = stop.stopped(), if !stopped && (open || !fetches.is_empty()) => {
                    stopped = true;
                    // Their batches are delivered from the probed observations once probing ends.
                    fetches.abort_all();
                }
                got = rx.recv(), if take_more => match got {
                    Some(first) => {
                        let mut batch: Batch = vec![first];
                        while let Ok(more) = rx.try_recv() {
                            batch.push(more);
                        }
                        match revocation {
                            Some(r) => {
                                for (i, o) in &batch {
                                    streamer.fetching.insert(*i, o.clone());
                                }
                                let r = r.clone();
                                fetches.spawn(async move {
                                    let (indices, mut observations): (Vec<usize>, Vec<_>) =
                                        batch.into_iter().unzip();
                                    let planned = crate::analysis::revocation::plan(&observations);
                                    revocation::fetch_all(&mut observations, planned, &r).await;
                                    indices.into_iter().zip(observations).collect::<Batch>()
                                });
                            }
                            None => batch.into_iter().for_each(|(i, o)| streamer.deliver(i, o)),
                        }
                    }
                    None => open = false,
                },
                Some(done) = fetches.join_next(), if !fetches.is_empty() => {
                    if let Ok(batch) = done {
                        batch.into_iter().for_each(|(i, o)| streamer.deliver(i, o));
                    }
                }
                else => break,
            }
        }
    };
    tokio::join!(probing, judging);
    if let Some(t) = ticker {
        t.abort();
    }
}
