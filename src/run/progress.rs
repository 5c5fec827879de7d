//! What standard error shows while an audit runs: a progress bar on a terminal (unless `--quiet`),
//! and with `-v` each target's phase timings and the run's totals.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::model::observation::{FailureKind, Observation, Outcome, Phase};
use crate::model::target::Target;
use crate::report::text::line;

/// Wall-clock times of the run's stages, for `-v`.
#[derive(Debug, Default)]
pub struct RunTimer {
    pub probing: Duration,
    /// `None` when revocation was not fetched, or was fetched while probing (streamed).
    pub revocation: Option<Duration>,
    pub analysis: Duration,
}

/// What standard error shows while the audit runs: a progress bar on a terminal (unless
/// `--quiet`), and with `-v` each target's phase timings and the run's totals.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    verbose: bool,
    state: Arc<Mutex<ProgressState>>,
}

struct ProgressState {
    /// Targets in the run.
    total: usize,
    /// The index the next target to start will have: probes take targets in order.
    next: usize,
    /// The targets in flight, by index: their labels and when they started. At most the
    /// concurrency's worth, so a long run keeps no label per target.
    in_flight: HashMap<usize, (String, Instant)>,
    finished: usize,
    concurrency: usize,
    /// Time per phase, summed over targets, in `Phase` order.
    phase_totals: Vec<(Phase, Duration)>,
    slowest: Option<(String, Duration)>,
    note: Option<String>,
    /// How the run's name lookups went: (names looked up, answers from the cache).
    dns: Option<(usize, usize)>,
}

impl ProgressState {
    /// The in-flight target that has been running longest, with how long.
    fn slowest_in_flight(&self) -> Option<(&str, Duration)> {
        self.in_flight
            .values()
            .map(|(label, started)| (label.as_str(), started.elapsed()))
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
    pub fn new(total: usize, concurrency: usize, bar: bool, verbose: bool) -> Self {
        let state = ProgressState {
            total,
            next: 0,
            in_flight: HashMap::new(),
            finished: 0,
            concurrency,
            phase_totals: Vec::new(),
            slowest: None,
            note: None,
            dns: None,
        };
        let bar = bar.then(|| {
            let total = u64::try_from(total).unwrap_or(u64::MAX);
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
    pub fn start_ticker(&self) -> Option<tokio::task::JoinHandle<()>> {
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

    /// The next target's probe starts (targets start in their order).
    pub fn started(&self, target: &Target) {
        if self.bar.is_none() {
            return;
        }
        let mut s = self.lock();
        let i = s.next;
        s.next += 1;
        // Labels can come from a targets file: shown escaped, never as terminal controls.
        s.in_flight
            .insert(i, (line(&target.label()), Instant::now()));
    }

    /// The probe of target `i` finished.
    pub fn done(&self, i: usize, obs: &Observation) {
        let line = {
            let mut s = self.lock();
            s.in_flight.remove(&i);
            s.finished += 1;
            for t in &obs.timings {
                match s.phase_totals.iter_mut().find(|(p, _)| *p == t.phase) {
                    Some((_, total)) => *total += t.elapsed,
                    None => s.phase_totals.push((t.phase, t.elapsed)),
                }
            }
            if s.slowest.as_ref().is_none_or(|(_, e)| obs.elapsed > *e) {
                s.slowest = Some((line(&obs.target.label()), obs.elapsed));
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
    pub fn phase(&self, note: &str) {
        self.lock().note = Some(note.to_owned());
        if let Some(bar) = &self.bar {
            bar.set_message(note.to_owned());
        }
    }

    /// How many names the run looked up and how many answers came from its cache, for `-v`.
    pub fn dns(&self, lookups: usize, cache_hits: usize) {
        self.lock().dns = Some((lookups, cache_hits));
    }

    pub fn finish(&self, timer: &RunTimer, revocation: bool) {
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
            match s.total {
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
        if let Some((lookups, hits)) = s.dns.filter(|&(l, h)| l + h > 0) {
            eprintln!(
                "pinscope: dns: {lookups} {} looked up, {hits} {} from the cache",
                if lookups == 1 { "name" } else { "names" },
                if hits == 1 { "answer" } else { "answers" },
            );
        }
    }
}

/// Clears the line the progress bar is drawn on, when standard error is a terminal: for an exit
/// that does not go through [`Progress::finish`] (a second Ctrl-C exits at once).
pub fn clear_line() {
    use std::io::{IsTerminal as _, Write as _};
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = err.write_all(b"\r\x1b[2K").and_then(|()| err.flush());
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
            if failure.kind == FailureKind::Timeout {
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
        line(&obs.target.label()),
        phases.join(", "),
        if phases.is_empty() { "" } else { "; " },
        ms(obs.elapsed)
    )
}
