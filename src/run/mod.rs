//! Running a plan: plan in, results out. [`audit`] probes the plan's targets, fetches what their
//! chains name for revocation, judges each one and streams the results into a [`ResultSink`] as
//! they are ready; [`inspect`] judges a chain read from files. This layer owns the async runtime,
//! the signal handlers, the run's deadline, the open-file limit, the progress shown on standard
//! error and the output sink. It reads the clock (to stamp runs and judge chains now) but no flag
//! and no environment variable: that is the command line's job (`cli`), which builds the plans.

pub mod output;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod signals;

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::model::observation::{Captured, Observation, Outcome};
use crate::model::target::Target;
use crate::probe::{ProbeConfig, Stop};
use crate::report::{RunContext, RunReport, TargetResult};
use pipeline::{Judge, Pipeline};
use plan::{AuditPlan, InspectPlan};
use progress::{Progress, RunTimer};

/// What a run hands its results to, as they are ready.
pub trait ResultSink {
    /// Whether to hand over each target as soon as it is finished (its probe, then its OCSP and
    /// CRL fetches). Otherwise the whole run is probed, then fetched, then judged, and the results
    /// come with the finished [`RunReport`].
    fn streams(&self) -> bool;

    /// One finished target, in the order targets finish (only when [`ResultSink::streams`]).
    fn target(&mut self, result: &TargetResult);
}

/// A sink that takes nothing as it comes: the results are read from the finished report.
#[derive(Debug, Default)]
pub struct AtTheEnd;

impl ResultSink for AtTheEnd {
    fn streams(&self) -> bool {
        false
    }

    fn target(&mut self, _result: &TargetResult) {}
}

/// Why a run could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
}

/// Probes, fetches and judges the plan's targets. Results go to `sink` as they are ready when it
/// streams; the report lists them all in the targets' order either way. A signal or the plan's
/// deadline ends the run early, with the targets left unprobed reported as skipped.
pub fn audit(plan: &AuditPlan, sink: &mut dyn ResultSink) -> Result<RunReport, RunError> {
    audit_with(plan, &Control::default(), sink)
}

/// How a long-running caller steers one run of a plan it keeps: which targets, and who stops it.
#[derive(Debug, Default)]
pub struct Control<'a> {
    /// Probe these instead of the plan's targets (one target audited on demand, judged exactly as
    /// the plan would judge it).
    pub targets: Option<&'a [Target]>,
    /// The caller's stop: triggering it abandons the run. The caller owns the process's signals
    /// then, so no signal handler is installed; the plan's deadline still applies. `None`: SIGINT
    /// and SIGTERM stop the run, as for a one-shot command.
    pub stop: Option<Stop>,
}

/// [`audit`] steered by `control`: other targets, an outside stop and no signal handlers.
pub fn audit_with(
    plan: &AuditPlan,
    control: &Control<'_>,
    sink: &mut dyn ResultSink,
) -> Result<RunReport, RunError> {
    let given;
    let targets = match control.targets {
        Some(list) => {
            given = plan::Targets::listed(list.to_vec());
            &given
        }
        None => &plan.targets,
    };
    let concurrency = signals::fd_capped_concurrency(plan.probing.concurrency);
    let mut config = ProbeConfig::new(
        plan.probing.timeout,
        concurrency,
        Arc::clone(&plan.probing.resolver),
    );
    config.proxy = plan.probing.proxy.clone().map(Arc::new);
    config.pac = plan.probing.pac.clone();
    if let Some(tls) = &plan.probing.proxy_tls {
        config.proxy_tls = Arc::clone(tls);
    }
    if let Some(stop) = &control.stop {
        config.stop = stop.clone();
    }
    let stop = config.stop.clone();
    let progress = Progress::new(
        targets.len(),
        concurrency,
        plan.progress.bar,
        plan.progress.verbose,
    );
    let mut timer = RunTimer::default();
    let started_at = now_rfc3339();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    let watchers = {
        let _entered = runtime.enter();
        if control.stop.is_some() {
            signals::watch_deadline(&stop, plan.deadline)
        } else {
            signals::watch_for_stop(&stop, plan.deadline)
        }
    };
    let judge = Judge {
        judging: &plan.judging,
        policy: None,
    };
    let pipeline = Pipeline {
        runtime: &runtime,
        config: &config,
        revocation: plan.revocation.as_ref(),
        judge: &judge,
        progress: &progress,
    };
    // Streaming keeps no result (memory follows the concurrency), only their summary.
    let (results, tally) = if sink.streams() {
        let summary = pipeline::streamed(&pipeline, targets.iter(), sink, &mut timer);
        (Vec::new(), Some(summary))
    } else {
        (
            pipeline::batch(&pipeline, targets.iter().collect(), &mut timer),
            None,
        )
    };
    for w in watchers {
        w.abort();
    }
    // getaddrinfo cannot be cancelled: lookups that outlived their deadline still hold blocking
    // threads. Their targets are already reported, so do not wait for them.
    runtime.shutdown_background();
    let finished_at = now_rfc3339();
    let mut context = plan.context.clone();
    context.host_name = gethostname::gethostname().into_string().ok();
    context.local_addresses = config
        .local_addresses()
        .iter()
        .map(ToString::to_string)
        .collect();
    let dns = config.dns_stats();
    progress.dns(dns.lookups, dns.hits);
    progress.finish(&timer, plan.revocation.is_some());
    Ok(RunReport {
        started_at,
        finished_at,
        results,
        revocation_checked: plan.revocation.is_some(),
        stopped: stop.reason(),
        tally,
        context,
    })
}

/// Judges the plan's chain as the audit would have, at the plan's time.
pub fn inspect(plan: &InspectPlan) -> RunReport {
    let observation = Observation {
        target: plan.target.clone(),
        addresses: Vec::new(),
        address_used: None,
        answered_by: None,
        sni: None,
        outcome: Outcome::Offline {
            captured: Captured {
                chain: plan.chain.clone(),
                stapled_ocsp: None,
            },
        },
        elapsed: Duration::ZERO,
        proxy: None,
        route: None,
        revocation: Vec::new(),
        timings: Vec::new(),
    };
    let judge = Judge {
        judging: &plan.judging,
        // The plan names a policy the knowledge has (the command line checked it).
        policy: plan
            .policy
            .as_deref()
            .and_then(|name| plan.judging.knowledge.pinning.by_name(name)),
    };
    let stamp = now_rfc3339();
    RunReport {
        started_at: stamp.clone(),
        finished_at: stamp,
        results: vec![judge.judge(observation, plan.at)],
        revocation_checked: false,
        stopped: None,
        tally: None,
        context: RunContext {
            host_name: gethostname::gethostname().into_string().ok(),
            ..plan.context.clone()
        },
    }
}

/// Now, as RFC 3339 (UTC).
pub fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    now.format(&Rfc3339).unwrap_or_else(|_| now.to_string())
}
