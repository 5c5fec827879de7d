//! The edge of the program: parses arguments, resolves them into a run plan (catalog, targets, trust
//! stores, output), runs it, and maps the outcome to an exit code. This is the only module that reads
//! the clock, the environment or the machine's trust store.

mod args;
use crate::input;

use std::collections::{HashMap, VecDeque};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, ValueEnum};
use rustls_pki_types::{ServerName, UnixTime};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::analysis::knowledge::Knowledge;
use crate::analysis::trust::{RootSet, TrustContext};
use crate::analysis::{Context, assess};
use crate::apple_store::AppleTrustStore;
use crate::catalog::{Catalog, Filter, TenantValues, Transport};
use crate::export::{self as exemptions, ExportFormat, ResultRow};
use crate::model::baseline::Baseline;
use crate::model::observation::{Captured, Observation, Outcome, Phase};
use crate::model::target::{Target, parse_spec};
use crate::probe::proxy::ProxySettings;
use crate::probe::resolve::{
    DnsServerResolver, OverrideResolver, Resolve, ResolveRule, SystemResolver,
};
use crate::probe::revocation::{self, RevocationConfig};
use crate::probe::{ProbeConfig, Stop, StopReason, probe_all};
use crate::report::saved::SavedReport;
use crate::report::{self, wire};
use crate::report::{Format, RunReport, TargetResult, exit, json, jsonl, table};
use args::{
    AuditArgs, BaselineAction, BaselineArgs, CatalogArgs, Cli, Command, ExportArgs, InspectArgs,
    OutputArgs, Selection, TrustArgs,
};

/// The longest per-target deadline accepted; anything longer is almost certainly a typo.
const MAX_TIMEOUT_SECS: f64 = 3600.0;
/// Caps on what a revocation fetch may download and how often it may be redirected.
const REVOCATION_MAX_BYTES: usize = 10 * 1024 * 1024;
const REVOCATION_MAX_REDIRECTS: u8 = 3;

/// The proxy for TLS targets: `--proxy`, else the environment (unless `--no-proxy`).
fn proxy_settings(args: &AuditArgs) -> anyhow::Result<Option<ProxySettings>> {
    let env = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
    };
    let bypass: Vec<String> = if args.no_proxy {
        Vec::new()
    } else {
        env(&["NO_PROXY", "no_proxy"]).into_iter().collect()
    };
    let url = match (&args.proxy, args.no_proxy) {
        (Some(url), _) => Some(url.clone()),
        (None, true) => None,
        (None, false) => env(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]),
    };
    url.map(|u| ProxySettings::parse(&u, &bypass).map_err(anyhow::Error::from))
        .transpose()
}

/// Runs pinscope with the process's arguments.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    let result = match cli.command {
        Command::Audit(a) => audit(a),
        Command::Catalog(a) => catalog(a),
        Command::Inspect(a) => inspect(a),
        Command::Export(a) => export(a),
        Command::Baseline(a) => baseline(a),
        Command::Completions(a) => completions(&a),
        Command::Man(a) => man(&a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("pinscope: error: {e:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}

/// Help and version go to stdout with status 0; every other clap error becomes one line and exit 2.
fn clap_exit(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        _ => {
            // clap spreads some messages over several lines ("the following required arguments
            // were not provided:" then the flags); keep everything before the usage block.
            let text = e.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let message = message.join(" ");
            let message = message.trim_start_matches("error: ");
            eprintln!("pinscope: error: {message} (see pinscope --help)");
            ExitCode::from(exit::USAGE)
        }
    }
}

fn audit(args: AuditArgs) -> anyhow::Result<u8> {
    let baseline = match &args.baseline {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read baseline {}", path.display()))?;
            Some(Baseline::parse(&text, &path.display().to_string())?)
        }
        None => None,
    };
    let mut sink = Sink::open(args.output.output.as_deref())?;
    if args.output.format != Format::Jsonl {
        let report = run_audit(&args, baseline.as_ref(), None)?;
        return emit(&report, &args.output, sink);
    }
    // JSON Lines: each target's line is written as soon as it is judged.
    let mut failed: Option<anyhow::Error> = None;
    let mut write_line = |r: &TargetResult| {
        if failed.is_none()
            && let Err(e) = sink.append(&jsonl::target_line(r))
        {
            failed = Some(e);
        }
    };
    let report = run_audit(&args, baseline.as_ref(), Some(&mut write_line))?;
    let code = report.summary().exit_code;
    let written = match failed {
        Some(e) => Err(e),
        None => sink
            .append(&jsonl::summary_line(&report))
            .and_then(|()| sink.finish()),
    };
    if let Err(e) = written {
        eprintln!("pinscope: error: {e:#}; writing the results to standard output instead");
        write_stdout(&jsonl::render(&report));
        return Ok(exit::USAGE);
    }
    Ok(code)
}

fn baseline(args: BaselineArgs) -> anyhow::Result<u8> {
    let BaselineAction::Save(save) = args.action;
    // Fail on an unwritable destination before probing anything.
    let destination = Sink::open_as(Some(&save.file), "baseline")?;
    let created_at = now_rfc3339();
    let (baseline, left_out, code) = match &save.from {
        Some(path) => {
            let saved = read_saved(path)?;
            let (b, left_out) = report::baseline::from_saved(&saved, &created_at);
            (b, left_out, exit::OK)
        }
        None => {
            let sink = Sink::open(save.audit.output.output.as_deref())?;
            let report = run_audit(&save.audit, None, None)?;
            let (b, left_out) =
                report::baseline::from_results(&report.results, &created_at, &report.finished_at);
            let code = emit(&report, &save.audit.output, sink)?;
            (b, left_out, code)
        }
    };
    destination.write(&baseline.to_json())?;
    eprintln!(
        "pinscope: baseline {}: {} targets recorded{}",
        save.file.display(),
        baseline.targets.len(),
        if left_out.is_empty() {
            String::new()
        } else {
            format!("; left out (not pass): {}", left_out.join(", "))
        }
    );
    Ok(code)
}

/// Probes and judges the audit's targets. With `stream`, each target is judged as soon as it is
/// finished (probe, then its OCSP and CRL fetches) and handed to `stream` in the order targets
/// finish; the report still lists them in the targets' order.
fn run_audit(
    args: &AuditArgs,
    baseline: Option<&Baseline>,
    stream: Option<&mut dyn FnMut(&TargetResult)>,
) -> anyhow::Result<RunReport> {
    let values = tenant_values(&args.selection)?;
    let catalog = Catalog::load(args.selection.catalog.as_deref(), &values)?;
    if !(args.timeout > 0.0 && args.timeout <= MAX_TIMEOUT_SECS) {
        bail!(
            "--timeout {}: must be more than 0 and at most {MAX_TIMEOUT_SECS} seconds",
            args.timeout
        );
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    if args.concurrency == 0 {
        bail!("--concurrency 0: at least one target must be in flight");
    }
    let deadline = match args.deadline {
        Some(d) if !(d > 0.0 && d <= MAX_DEADLINE_SECS) => {
            bail!("--deadline {d}: must be more than 0 and at most {MAX_DEADLINE_SECS} seconds")
        }
        Some(d) => Some(Duration::from_secs_f64(d)),
        None => None,
    };
    let rules = args
        .resolve
        .iter()
        .map(|r| r.parse::<ResolveRule>())
        .collect::<Result<Vec<_>, _>>()?;
    let targets = select_targets(args, &catalog)?;
    let knowledge = Knowledge::builtin()?;
    let trust = trust_context(&args.trust)?;

    let base: Arc<dyn Resolve> = match &args.dns_server {
        // Each DNS query gets three quarters of the target's deadline, so a silent server is
        // reported as one (dns_no_answer) rather than as a bare timeout.
        Some(server) => {
            Arc::new(DnsServerResolver::new(server)?.with_query_timeout(timeout * 3 / 4)?)
        }
        None => Arc::new(SystemResolver),
    };
    let resolver: Arc<dyn Resolve> = Arc::new(OverrideResolver::new(rules, base));
    let concurrency = fd_capped_concurrency(args.concurrency);
    let mut config = ProbeConfig::new(timeout, concurrency, Arc::clone(&resolver));
    config.proxy = proxy_settings(args)?.map(Arc::new);
    let stop = config.stop.clone();
    let revocation = (!args.no_revocation).then(|| RevocationConfig {
        timeout,
        max_bytes: REVOCATION_MAX_BYTES,
        max_redirects: REVOCATION_MAX_REDIRECTS,
        resolver: Arc::clone(&resolver),
    });
    let ctx = |now: UnixTime| Context {
        trust: &trust,
        knowledge: &knowledge,
        now,
        policy: None,
        baseline,
    };
    let progress = Progress::new(
        &targets,
        concurrency,
        !args.quiet && std::io::stderr().is_terminal(),
        args.verbose,
    );
    let mut timer = RunTimer::default();
    let started_at = now_rfc3339();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let watchers = {
        let _entered = runtime.enter();
        watch_for_stop(&stop, deadline)
    };
    let results = match stream {
        None => {
            let observations = runtime.block_on(async {
                let ticker = progress.start_ticker();
                let probing = Instant::now();
                let mut observations = probe_all(targets, &config, |o| progress.done(o)).await;
                timer.probing = probing.elapsed();
                if let Some(revocation) = &revocation
                    && stop.reason().is_none()
                {
                    progress.phase("fetching OCSP responses and CRLs");
                    let fetching = Instant::now();
                    // A stop abandons the fetches: the targets are judged without them.
                    tokio::select! {
                        () = revocation::fetch_all(&mut observations, revocation) => {}
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
            let c = ctx(UnixTime::now());
            let results = observations
                .into_iter()
                .map(|observation| TargetResult {
                    assessment: assess(&observation, &c),
                    observation,
                })
                .collect();
            timer.analysis = judging.elapsed();
            results
        }
        Some(stream) => {
            let mut streamer = Streamer {
                slots: targets.iter().map(|_| None).collect(),
                index: TargetIndex::new(&targets),
                stream,
                ctx: &ctx,
                analysis: Duration::ZERO,
            };
            let probing = Instant::now();
            let ordered = runtime.block_on(streamed(
                targets,
                &config,
                revocation.as_ref(),
                &progress,
                &mut streamer,
            ));
            timer.probing = probing.elapsed();
            timer.analysis = streamer.analysis;
            // A batch whose revocation task failed still gets reported, without revocation.
            for obs in ordered {
                if streamer
                    .slots
                    .get(streamer.index.peek(&obs.target))
                    .is_some_and(Option::is_none)
                {
                    streamer.deliver(obs);
                }
            }
            streamer.slots.into_iter().flatten().collect()
        }
    };
    for w in watchers {
        w.abort();
    }
    // getaddrinfo cannot be cancelled: lookups that outlived their deadline still hold blocking
    // threads. Their targets are already reported, so do not wait for them.
    runtime.shutdown_background();
    let finished_at = now_rfc3339();
    progress.finish(&timer, revocation.is_some());
    Ok(RunReport {
        started_at,
        finished_at,
        results,
        revocation_checked: revocation.is_some(),
        stopped: stop.reason(),
    })
}

/// The longest `--deadline` accepted (a week); anything longer is almost certainly a typo.
const MAX_DEADLINE_SECS: f64 = 7.0 * 24.0 * 3600.0;

/// Starts the tasks that stop the run: SIGINT and SIGTERM (a second one exits at once with 130),
/// and the run's deadline. Must be called inside the runtime; abort the handles when the run ends.
fn watch_for_stop(stop: &Stop, deadline: Option<Duration>) -> Vec<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut watchers = Vec::new();
    let (interrupt, terminate) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    );
    if let (Ok(mut interrupt), Ok(mut terminate)) = (interrupt, terminate) {
        let stop = stop.clone();
        watchers.push(tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            stop.trigger(StopReason::Interrupted);
            // Writing the report takes moments; a second signal means "now".
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            std::process::exit(i32::from(exit::INTERRUPTED));
        }));
    }
    if let Some(deadline) = deadline {
        let stop = stop.clone();
        watchers.push(tokio::spawn(async move {
            tokio::time::sleep(deadline).await;
            stop.trigger(StopReason::Deadline);
        }));
    }
    watchers
}

/// Open files each probe may hold at once: its connection, and a DNS socket with `--dns-server`.
const FDS_PER_PROBE: u64 = 2;
/// Open files kept back from probes: standard streams, the runtime, the output file, and the
/// revocation fetches (up to `FETCH_BATCHES` batches of 16) that run beside the probes.
const FD_HEADROOM: u64 = 128;

/// Raises the soft open-file limit to the hard one and lowers `requested` so that the probes in
/// flight cannot run out of file descriptors, saying so on standard error when it does.
fn fd_capped_concurrency(requested: usize) -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        // No limit to read (or to raise): nothing to cap by.
        Err(_) => return requested,
    };
    let headroom = FD_HEADROOM.min(limit / 2);
    let cap = usize::try_from((limit - headroom) / FDS_PER_PROBE)
        .unwrap_or(usize::MAX)
        .max(1);
    if requested > cap {
        eprintln!(
            "pinscope: note: probing {cap} targets at once instead of {requested}: the open-file \
             limit is {limit} (ulimit -n)"
        );
        cap
    } else {
        requested
    }
}

/// Revocation batches in flight at once while streaming. Observations that finish meanwhile wait and
/// form the next, larger batch, which keeps the load on responders near that of one `fetch_all`.
const FETCH_BATCHES: usize = 4;

/// Probes with each finished observation sent on to its revocation fetches (batched: targets that
/// finish together share one `fetch_all`, which fetches a CRL or OCSP answer they share once) and
/// then to the streamer. Returns the observations as probed, in the targets' order.
async fn streamed(
    targets: Vec<Target>,
    config: &ProbeConfig,
    revocation: Option<&RevocationConfig>,
    progress: &Progress,
    streamer: &mut Streamer<'_, '_>,
) -> Vec<Observation> {
    let ticker = progress.start_ticker();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Observation>();
    let probing = probe_all(targets, config, move |o| {
        progress.done(o);
        let _ = tx.send(o.clone());
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
                        let mut batch = vec![first];
                        while let Ok(more) = rx.try_recv() {
                            batch.push(more);
                        }
                        match revocation {
                            Some(r) => {
                                let r = r.clone();
                                fetches.spawn(async move {
                                    revocation::fetch_all(&mut batch, &r).await;
                                    batch
                                });
                            }
                            None => batch.into_iter().for_each(|o| streamer.deliver(o)),
                        }
                    }
                    None => open = false,
                },
                Some(done) = fetches.join_next(), if !fetches.is_empty() => {
                    if let Ok(batch) = done {
                        batch.into_iter().for_each(|o| streamer.deliver(o));
                    }
                }
                else => break,
            }
        }
    };
    let (ordered, ()) = tokio::join!(probing, judging);
    if let Some(t) = ticker {
        t.abort();
    }
    ordered
}

/// Where each target belongs in the run's order, by host, port and transport.
struct TargetIndex {
    positions: HashMap<(String, u16, Transport), VecDeque<usize>>,
}

impl TargetIndex {
    fn new(targets: &[Target]) -> Self {
        let mut positions: HashMap<_, VecDeque<usize>> = HashMap::new();
        for (i, t) in targets.iter().enumerate() {
            positions
                .entry((t.host.clone(), t.port, t.transport))
                .or_default()
                .push_back(i);
        }
        Self { positions }
    }

    fn key(t: &Target) -> (String, u16, Transport) {
        (t.host.clone(), t.port, t.transport)
    }

    /// The position of this target (the first one not yet taken), and takes it.
    fn take(&mut self, t: &Target) -> usize {
        let q = self.positions.get_mut(&Self::key(t));
        match q {
            Some(q) if q.len() > 1 => q.pop_front().unwrap_or(usize::MAX),
            Some(q) => q.front().copied().unwrap_or(usize::MAX),
            None => usize::MAX,
        }
    }

    /// The position of this target, without taking it.
    fn peek(&self, t: &Target) -> usize {
        self.positions
            .get(&Self::key(t))
            .and_then(|q| q.front().copied())
            .unwrap_or(usize::MAX)
    }
}

/// Judges observations as they arrive, hands each result on, and keeps it in its slot.
struct Streamer<'s, 'c> {
    slots: Vec<Option<TargetResult>>,
    index: TargetIndex,
    stream: &'s mut dyn FnMut(&TargetResult),
    ctx: &'c dyn Fn(UnixTime) -> Context<'c>,
    analysis: Duration,
}

impl Streamer<'_, '_> {
    fn deliver(&mut self, observation: Observation) {
        let judging = Instant::now();
        let assessment = assess(&observation, &(self.ctx)(UnixTime::now()));
        self.analysis += judging.elapsed();
        let result = TargetResult {
            observation,
            assessment,
        };
        (self.stream)(&result);
        let i = self.index.take(&result.observation.target);
        match self.slots.get_mut(i) {
            Some(slot) => *slot = Some(result),
            None => self.slots.push(Some(result)),
        }
    }
}

/// Wall-clock times of the run's stages, for `-v`.
#[derive(Debug, Default)]
struct RunTimer {
    probing: Duration,
    /// `None` when revocation was not fetched, or was fetched while probing (streamed).
    revocation: Option<Duration>,
    analysis: Duration,
}

/// What standard error shows while the audit runs: a progress bar on a terminal (unless
/// `--quiet`), and with `-v` each target's phase timings and the run's totals.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    verbose: bool,
    state: Arc<Mutex<ProgressState>>,
}

struct ProgressState {
    labels: Vec<String>,
    index: TargetIndex,
    /// When each target got its slot. Probes take slots in the targets' order (the semaphore is
    /// fair), so the k-th target past `concurrency` starts when the k-th probe finishes: an
    /// estimate, exact when every target fits in one wave.
    started: Vec<Option<Instant>>,
    done: Vec<bool>,
    finished: usize,
    concurrency: usize,
    /// Time per phase, summed over targets, in `Phase` order.
    phase_totals: Vec<(Phase, Duration)>,
    slowest: Option<(String, Duration)>,
    note: Option<String>,
}

impl ProgressState {
    /// The in-flight target that has been running longest, with how long.
    fn slowest_in_flight(&self) -> Option<(&str, Duration)> {
        self.started
            .iter()
            .zip(&self.done)
            .zip(&self.labels)
            .filter_map(|((s, d), l)| s.filter(|_| !d).map(|s| (l.as_str(), s.elapsed())))
            .max_by_key(|(_, e)| *e)
    }

    fn message(&self) -> String {
        if let Some(note) = &self.note {
            return note.clone();
        }
        match self.slowest_in_flight() {
            Some((label, e)) => format!("slowest: {label} ({:.1}s)", e.as_secs_f64()),
            None => String::new(),
        }
    }
}

impl Progress {
    fn new(targets: &[Target], concurrency: usize, bar: bool, verbose: bool) -> Self {
        let now = Instant::now();
        let state = ProgressState {
            labels: targets.iter().map(Target::label).collect(),
            index: TargetIndex::new(targets),
            started: (0..targets.len())
                .map(|i| (i < concurrency).then_some(now))
                .collect(),
            done: vec![false; targets.len()],
            finished: 0,
            concurrency,
            phase_totals: Vec::new(),
            slowest: None,
            note: None,
        };
        let bar = bar.then(|| {
            let total = u64::try_from(targets.len()).unwrap_or(u64::MAX);
            let pb = indicatif::ProgressBar::with_draw_target(
                Some(total),
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} {elapsed:>3} [{bar:20}] {pos}/{len} {wide_msg}",
            ) {
                pb.set_style(style.progress_chars("=> "));
            }
            pb
        });
        Self {
            bar,
            verbose,
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProgressState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Redraws the bar's message a few times a second, so the slowest target's time counts up.
    fn start_ticker(&self) -> Option<tokio::task::JoinHandle<()>> {
        let bar = self.bar.clone()?;
        let state = Arc::clone(&self.state);
        Some(tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(200));
            loop {
                every.tick().await;
                let message = state
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .message();
                bar.set_message(message);
            }
        }))
    }

    fn say(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// One probe finished.
    fn done(&self, obs: &Observation) {
        let line = {
            let mut s = self.lock();
            let i = s.index.take(&obs.target);
            if let Some(d) = s.done.get_mut(i) {
                *d = true;
            }
            let next = s.concurrency + s.finished;
            if let Some(slot) = s.started.get_mut(next) {
                *slot = Some(Instant::now());
            }
            s.finished += 1;
            for t in &obs.timings {
                match s.phase_totals.iter_mut().find(|(p, _)| *p == t.phase) {
                    Some((_, total)) => *total += t.elapsed,
                    None => s.phase_totals.push((t.phase, t.elapsed)),
                }
            }
            if s.slowest.as_ref().is_none_or(|(_, e)| obs.elapsed > *e) {
                s.slowest = Some((obs.target.label(), obs.elapsed));
            }
            if let Some(bar) = &self.bar {
                bar.inc(1);
                bar.set_message(s.message());
            }
            self.verbose.then(|| timing_line(obs))
        };
        if let Some(line) = line {
            self.say(&line);
        }
    }

    /// Probing is over; something else is under way.
    fn phase(&self, note: &str) {
        self.lock().note = Some(note.to_owned());
        if let Some(bar) = &self.bar {
            bar.set_message(note.to_owned());
        }
    }

    fn finish(&self, timer: &RunTimer, revocation: bool) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if !self.verbose {
            return;
        }
        let s = self.lock();
        let revocation = match (revocation, timer.revocation) {
            (false, _) => "not fetched (--no-revocation)".to_owned(),
            (true, Some(d)) => format!("{} after probing", ms(d)),
            (true, None) => "fetched per finished target, while probing".to_owned(),
        };
        eprintln!(
            "pinscope: timings: {} probed in {} (concurrency {}); revocation {}; analysis {}",
            match s.labels.len() {
                1 => "1 target".to_owned(),
                n => format!("{n} targets"),
            },
            ms(timer.probing),
            s.concurrency,
            revocation,
            ms(timer.analysis)
        );
        let mut totals: Vec<String> = Vec::new();
        for phase in [
            Phase::Resolve,
            Phase::Connect,
            Phase::Proxy,
            Phase::Handshake,
        ] {
            if let Some((_, d)) = s.phase_totals.iter().find(|(p, _)| *p == phase) {
                totals.push(format!("{} {}", phase.as_str(), ms(*d)));
            }
        }
        let slowest = s
            .slowest
            .as_ref()
            .map(|(l, d)| format!("; slowest target {l} ({})", ms(*d)))
            .unwrap_or_default();
        eprintln!(
            "pinscope: timings: summed over targets: {}{slowest}",
            if totals.is_empty() {
                "no phases timed".to_owned()
            } else {
                totals.join(", ")
            }
        );
    }
}

/// A duration for people: milliseconds below a second, seconds above.
fn ms(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// `-v`'s line for one target: the time each phase took and how the probe ended.
fn timing_line(obs: &Observation) -> String {
    let phases: Vec<String> = obs
        .timings
        .iter()
        .map(|t| format!("{} {}", t.phase.as_str(), ms(t.elapsed)))
        .collect();
    let ended = match &obs.outcome {
        Outcome::Handshake { .. } => "handshake completed".to_owned(),
        Outcome::Failed { failure, .. } => format!(
            "failed in {}{}",
            failure.phase.as_str(),
            if failure.kind == crate::model::observation::FailureKind::Timeout {
                " (timeout)"
            } else {
                ""
            }
        ),
        Outcome::Skipped(_) => "skipped".to_owned(),
        Outcome::Offline { .. } => "read from a file".to_owned(),
        Outcome::Service(_) => "answered".to_owned(),
    };
    format!(
        "pinscope: {}: {}{}total {}; {ended}",
        obs.target.label(),
        phases.join(", "),
        if phases.is_empty() { "" } else { "; " },
        ms(obs.elapsed)
    )
}

fn catalog(args: CatalogArgs) -> anyhow::Result<u8> {
    let values = tenant_values(&args.selection)?;
    let catalog = Catalog::load(args.selection.catalog.as_deref(), &values)?;
    let filter = filter(&args.selection, &catalog)?;
    let rows: Vec<_> = catalog.rows.iter().filter(|r| filter.matches(r)).collect();
    let sink = Sink::open(args.output.output.as_deref())?;
    let knowledge = Knowledge::builtin()?;
    let text = match args.output.format {
        Format::Table => table::render_catalog(&rows),
        Format::Json => json::render_catalog(&rows, |host| {
            knowledge.pinning.lookup(host).map(|p| p.name.clone())
        }),
        other => bail!(
            "catalog --format {}: the catalog is written as table or json",
            other
                .to_possible_value()
                .map_or_else(String::new, |v| v.get_name().to_owned())
        ),
    };
    sink.write(&text)?;
    Ok(exit::OK)
}

fn inspect(args: InspectArgs) -> anyhow::Result<u8> {
    let mut chain = Vec::new();
    for file in &args.files {
        chain.extend(input::load_certs(file)?);
    }
    let host = args.host.trim().to_ascii_lowercase();
    if ServerName::try_from(host.as_str()).is_err() {
        bail!(
            "--host '{}': not a valid host name or IP address",
            args.host
        );
    }
    if args.port == 0 {
        bail!("--port 0: not a usable port (1-65535)");
    }
    let now = match &args.at {
        Some(at) => parse_at(at)?,
        None => UnixTime::now(),
    };
    let knowledge = Knowledge::builtin()?;
    let policy = match &args.apple_policy {
        Some(name) => Some(knowledge.pinning.by_name(name).ok_or_else(|| {
            let mut known: Vec<&str> = knowledge
                .pinning
                .policies
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            known.dedup();
            anyhow!(
                "--apple-policy '{name}': no such policy (known: {})",
                known.join(", ")
            )
        })?),
        None => None,
    };
    let trust = if args.roots.is_empty() {
        trust_context(&args.trust)?
    } else {
        exact_trust(&args.roots, &args.trust)?
    };
    let sink = Sink::open(args.output.output.as_deref())?;
    let catalog = Catalog::load(None, &TenantValues::default())?;
    let target = Target {
        row: catalog.find(&host, args.port).cloned(),
        host,
        port: args.port,
        transport: Transport::Tcp,
    };
    let observation = Observation {
        target,
        addresses: Vec::new(),
        address_used: None,
        sni: None,
        outcome: Outcome::Offline {
            captured: Captured {
                chain,
                stapled_ocsp: None,
            },
        },
        elapsed: Duration::ZERO,
        proxy: None,
        revocation: Vec::new(),
        timings: Vec::new(),
    };
    let ctx = Context {
        trust: &trust,
        knowledge: &knowledge,
        now,
        policy,
        baseline: None,
    };
    let stamp = now_rfc3339();
    let report = RunReport {
        started_at: stamp.clone(),
        finished_at: stamp,
        results: vec![TargetResult {
            assessment: assess(&observation, &ctx),
            observation,
        }],
        revocation_checked: false,
        stopped: None,
    };
    emit(&report, &args.output, sink)
}

fn export(args: ExportArgs) -> anyhow::Result<u8> {
    let proxy = match (&args.pac_proxy, args.format) {
        (Some(p), _) => {
            let (host, port) = p
                .rsplit_once(':')
                .filter(|(h, port)| !h.is_empty() && port.parse::<u16>().is_ok_and(|n| n > 0))
                .ok_or_else(|| anyhow!("--pac-proxy '{p}': expected HOST:PORT"))?;
            Some(format!("PROXY {host}:{port}"))
        }
        (None, ExportFormat::Pac) => {
            bail!(
                "--format pac needs --pac-proxy HOST:PORT: the proxy everything not exempted goes to"
            )
        }
        (None, _) => None,
    };
    let list = match &args.from {
        Some(path) => {
            let only = args
                .only
                .iter()
                .map(|v| {
                    wire::Verdict::from_name(v).ok_or_else(|| {
                        let known: Vec<&str> =
                            wire::Verdict::ALL.iter().map(|v| v.as_str()).collect();
                        anyhow!("--only '{v}': not a verdict (known: {})", known.join(", "))
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            exemptions::from_results(&read_results(path, &only)?)
        }
        None => {
            let values = tenant_values(&args.selection)?;
            let catalog = Catalog::load(args.selection.catalog.as_deref(), &values)?;
            let filter = filter(&args.selection, &catalog)?;
            exemptions::from_catalog(catalog.rows.iter().filter(|r| filter.matches(r)))
        }
    };
    let sink = Sink::open(args.output.as_deref())?;
    sink.write(&exemptions::render(&list, args.format, proxy.as_deref()))?;
    Ok(exit::OK)
}

/// Targets of an earlier audit, from its JSON document, keeping those with the given verdicts
/// (all when `only` is empty).
fn read_results(path: &Path, only: &[wire::Verdict]) -> anyhow::Result<Vec<ResultRow>> {
    let report = read_saved(path)?;
    Ok(report
        .targets
        .into_iter()
        .filter(|t| only.is_empty() || only.contains(&t.verdict))
        .map(|t| ResultRow {
            host: t.host,
            port: t.port,
            section: t.section,
            pattern: t.pattern,
            reason: t.explanation,
        })
        .collect())
}

/// An earlier audit's JSON document; errors name the file, and the line when there is one.
fn read_saved(path: &Path) -> anyhow::Result<SavedReport> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {shown}"))?;
    SavedReport::parse(&text).map_err(|e| match e.line() {
        Some(line) => anyhow!("{shown}:{line}: {e}"),
        None => anyhow!("{shown}: {e}"),
    })
}

fn parse_at(at: &str) -> anyhow::Result<UnixTime> {
    let t = OffsetDateTime::parse(at, &Rfc3339).map_err(|e| {
        anyhow!("--at '{at}': not an RFC 3339 time such as 2024-11-01T12:00:00Z ({e})")
    })?;
    let secs = u64::try_from(t.unix_timestamp())
        .map_err(|_| anyhow!("--at '{at}': times before 1970 are not supported"))?;
    Ok(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
}

/// Checks the Kandji values: they become DNS labels, so they must be valid ones.
fn tenant_values(sel: &Selection) -> anyhow::Result<TenantValues> {
    for (flag, value) in [
        ("--kandji-tenant", &sel.kandji_tenant),
        ("--kandji-subdomain", &sel.kandji_subdomain),
    ] {
        if let Some(v) = value {
            let ok = !v.is_empty()
                && v.len() <= 63
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !v.starts_with('-')
                && !v.ends_with('-');
            if !ok {
                bail!(
                    "{flag} '{v}': must be a single DNS label (letters, digits and inner hyphens)"
                );
            }
        }
    }
    Ok(TenantValues {
        tenant: sel.kandji_tenant.as_ref().map(|t| t.to_ascii_lowercase()),
        subdomain: sel
            .kandji_subdomain
            .as_ref()
            .map(|s| s.to_ascii_lowercase()),
        region: sel.region,
    })
}

fn filter(sel: &Selection, catalog: &Catalog) -> anyhow::Result<Filter> {
    if let Some(bad) = sel.section.iter().find(|s| !catalog.has_section(s)) {
        let known: Vec<&str> = catalog.sections.iter().map(|s| s.id.as_str()).collect();
        bail!(
            "--section '{bad}': no such section (known: {})",
            known.join(", ")
        );
    }
    Ok(Filter {
        sections: sel.section.clone(),
        hosts: sel.hosts.clone(),
    })
}

/// Explicit targets (arguments and `--targets`) or the filtered catalog.
fn select_targets(args: &AuditArgs, catalog: &Catalog) -> anyhow::Result<Vec<Target>> {
    let mut specs = Vec::new();
    for t in &args.targets {
        specs.push(parse_spec(t).map_err(|e| anyhow!("target {e}"))?);
    }
    if let Some(path) = &args.targets_file {
        specs.extend(input::read_targets_file(path)?);
    }
    let explicit = !args.targets.is_empty() || args.targets_file.is_some();
    if explicit {
        if !args.selection.section.is_empty() || !args.selection.hosts.is_empty() {
            bail!(
                "--section and --host filter the catalog; they cannot be combined with explicit targets"
            );
        }
        if specs.is_empty() {
            bail!("no targets: the targets file has no host[:port] lines");
        }
        let mut seen = std::collections::HashSet::new();
        return Ok(specs
            .into_iter()
            .filter(|s| seen.insert(s.clone()))
            .map(|(host, port)| Target {
                row: catalog.find(&host, port).cloned(),
                host,
                port,
                transport: Transport::Tcp,
            })
            .collect());
    }
    let filter = filter(&args.selection, catalog)?;
    let targets: Vec<Target> = catalog
        .rows
        .iter()
        .filter(|r| filter.matches(r))
        .map(Target::from_row)
        .collect();
    if targets.is_empty() {
        bail!("no catalog rows match the given --section/--host filters");
    }
    Ok(targets)
}

fn trust_context(args: &TrustArgs) -> anyhow::Result<TrustContext> {
    let apple = Arc::new(apple_store(args.apple_trust_store.as_deref())?);
    let (public, public_certs) = if args.public_roots.is_empty() {
        (RootSet::webpki_roots(), Vec::new())
    } else {
        roots_from_files(&args.public_roots, "public roots")?
    };
    let native = if !args.native_roots.is_empty() {
        roots_from_files(&args.native_roots, "native store")?.0
    } else {
        // rustls-native-certs honours SSL_CERT_FILE and SSL_CERT_DIR. Unreadable entries in a
        // system store are the system's business: use what loads.
        let loaded = rustls_native_certs::load_native_certs();
        RootSet::from_certs("native store", &loaded.certs).0
    };
    // Apple devices trust Apple's store, never this machine's (which may hold an inspection CA);
    // roots the user adds for Apple, or declares public, join it.
    let mut device = RootSet::from_anchors(
        &format!("Apple's trust store (version {})", apple.version),
        apple.tls_anchors(),
    );
    let mut extra = public_certs;
    if !args.apple_roots.is_empty() {
        extra.extend(roots_from_files(&args.apple_roots, "Apple roots")?.1);
    }
    if !extra.is_empty() {
        device = device.extended(&format!("{} with the roots given", device.label), &extra);
    }
    let transparent = transparent_cas(args)?;
    Ok(TrustContext {
        public,
        native,
        device,
        transparent,
        apple,
    })
}

/// The CAs an MDM profile names as transparent-connection pins (`--transparent-ca`).
fn transparent_cas(args: &TrustArgs) -> anyhow::Result<RootSet> {
    if args.transparent_ca.is_empty() {
        return Ok(RootSet::empty("transparent-connection CAs"));
    }
    Ok(roots_from_files(&args.transparent_ca, "transparent-connection CAs")?.0)
}

/// Apple's trust data: the copy built in, or a checkout given with --apple-trust-store.
fn apple_store(dir: Option<&Path>) -> anyhow::Result<AppleTrustStore> {
    match dir {
        Some(dir) => AppleTrustStore::load_dir(dir)
            .with_context(|| format!("--apple-trust-store {}", dir.display())),
        None => Ok(AppleTrustStore::embedded()?),
    }
}

/// `inspect --roots`: exactly these anchors stand for every store (Apple's, public, native); nothing
/// built in, nothing from this machine. Apple's CT logs (from `--apple-trust-store` when given)
/// still verify SCTs, and `--transparent-ca` still names transparent-connection CAs.
fn exact_trust(paths: &[PathBuf], args: &TrustArgs) -> anyhow::Result<TrustContext> {
    let (set, _) = roots_from_files(paths, "given roots")?;
    if set.is_empty() {
        bail!("--roots: the given files hold no certificate");
    }
    let transparent = transparent_cas(args)?;
    Ok(TrustContext {
        public: set.clone(),
        native: set.clone(),
        device: set,
        transparent,
        apple: Arc::new(apple_store(args.apple_trust_store.as_deref())?),
    })
}

/// Trust anchors from files; a certificate that cannot be an anchor is an input error naming it.
fn roots_from_files(
    paths: &[PathBuf],
    role: &str,
) -> anyhow::Result<(RootSet, Vec<rustls_pki_types::CertificateDer<'static>>)> {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut set = RootSet::empty(&format!("{role} ({})", shown.join(", ")));
    let mut all = Vec::new();
    for path in paths {
        let certs = input::load_certs(path)?;
        if let Some(r) = set.add(&certs).first() {
            bail!(
                "{}: certificate {} cannot be a trust anchor: {}",
                path.display(),
                r.index + 1,
                r.reason
            );
        }
        all.extend(certs);
    }
    Ok((set, all))
}

fn completions(args: &args::CompletionsArgs) -> anyhow::Result<u8> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "pinscope", &mut script);
    write_stdout(&String::from_utf8_lossy(&script));
    Ok(exit::OK)
}

fn man(args: &args::ManArgs) -> anyhow::Result<u8> {
    let cli = Cli::command();
    let page = match &args.command {
        None => cli,
        Some(name) => {
            let known: Vec<String> = cli
                .get_subcommands()
                .map(|c| c.get_name().to_owned())
                .collect();
            let sub = cli.find_subcommand(name).ok_or_else(|| {
                anyhow!(
                    "man '{name}': no such command (known: {})",
                    known.join(", ")
                )
            })?;
            sub.clone()
                .display_name(format!("pinscope-{name}"))
                .bin_name(format!("pinscope {name}"))
        }
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .source(format!("pinscope {}", env!("CARGO_PKG_VERSION")))
        .render(&mut roff)
        .context("cannot render the manual page")?;
    write_stdout(&String::from_utf8_lossy(&roff));
    Ok(exit::OK)
}

fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    now.format(&Rfc3339).unwrap_or_else(|_| now.to_string())
}

/// Writes the report and returns the exit code its verdicts imply.
fn emit(report: &RunReport, output: &OutputArgs, sink: Sink) -> anyhow::Result<u8> {
    let color = output.format == Format::Table && sink.is_terminal() && color_allowed();
    let code = report.summary().exit_code;
    if let Err(e) = sink.write_with(|out| report.write(output.format, color, out)) {
        // The results exist; do not lose them because the file could not be written.
        eprintln!("pinscope: error: {e:#}; writing the results to standard output instead");
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        let _ = report
            .write(output.format, color, &mut stdout)
            .and_then(|()| stdout.flush());
        return Ok(exit::USAGE);
    }
    Ok(code)
}

fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Where output goes. A file is written through a temporary file in the same directory, created
/// before any probing so an unwritable destination fails fast, and renamed into place at the end so
/// a crash never leaves half a report.
struct Sink {
    file: Option<(PathBuf, tempfile::NamedTempFile)>,
    /// How the file is named in errors ("--output", "baseline").
    what: &'static str,
}

impl Sink {
    fn open(path: Option<&Path>) -> anyhow::Result<Self> {
        Self::open_as(path, "--output")
    }

    /// Like `open`, naming the file as `what` in errors (e.g. "baseline").
    fn open_as(path: Option<&Path>, what: &'static str) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self { file: None, what });
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            bail!(
                "cannot write {what} {}: the directory {} does not exist",
                path.display(),
                dir.display()
            );
        }
        // The temporary file's own name means nothing to the user; report the destination.
        let temp = tempfile::Builder::new()
            .prefix(".pinscope-")
            .tempfile_in(&dir)
            .map_err(|e| {
                anyhow!(
                    "cannot write {what} {}: {}",
                    path.display(),
                    std::io::Error::from(e.kind())
                )
            })?;
        Ok(Self {
            file: Some((path.to_path_buf(), temp)),
            what,
        })
    }

    fn is_terminal(&self) -> bool {
        self.file.is_none() && std::io::stdout().is_terminal()
    }

    fn write(mut self, text: &str) -> anyhow::Result<()> {
        self.append(text)?;
        self.finish()
    }

    /// Writes output produced by `produce` through a buffer, then puts a file in place. A closed
    /// stdout pipe is not an error.
    fn write_with(
        self,
        produce: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> anyhow::Result<()> {
        match &self.file {
            None => {
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                match produce(&mut out).and_then(|()| out.flush()) {
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                        Err(anyhow!("cannot write to standard output: {e}"))
                    }
                    _ => Ok(()),
                }
            }
            Some((path, temp)) => {
                let mut out = std::io::BufWriter::new(temp.as_file());
                produce(&mut out)
                    .and_then(|()| out.flush())
                    .with_context(|| format!("cannot write {} {}", self.what, path.display()))?;
                drop(out);
                self.finish()
            }
        }
    }

    /// Writes more output now: to stdout at once (flushed), or to the temporary file.
    fn append(&mut self, text: &str) -> anyhow::Result<()> {
        match &mut self.file {
            None => {
                write_stdout(text);
                Ok(())
            }
            Some((path, temp)) => temp
                .write_all(text.as_bytes())
                .and_then(|()| temp.flush())
                .with_context(|| format!("cannot write {} {}", self.what, path.display())),
        }
    }

    /// Puts the file in place (nothing to do for stdout).
    fn finish(self) -> anyhow::Result<()> {
        if let Some((path, temp)) = self.file {
            temp.persist(&path).map_err(|e| {
                anyhow!("cannot write {} {}: {}", self.what, path.display(), e.error)
            })?;
        }
        Ok(())
    }
}

/// Writes to stdout; a closed pipe (`pinscope … | head`) is not an error worth reporting.
fn write_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
