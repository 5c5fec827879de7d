//! Rendering results for people and programs. Renderers take finished results and produce text;
//! they decide presentation only, never verdicts. [`printer`] puts every output format behind one
//! trait; [`wire`] holds the JSON's own types, which saved reports are read back into ([`saved`]);
//! [`baseline`] turns results into the baseline file.

pub mod baseline;
pub mod exemptions;
pub mod export;
pub mod html;
pub mod json;
pub mod jsonl;
pub mod junit;
pub mod markdown;
pub mod printer;
pub mod prometheus;
#[cfg(test)]
mod sample;
pub mod saved;
pub mod table;
pub mod text;
pub use text::clean;
pub mod wire;

use std::collections::BTreeMap;

use crate::analysis::{Assessment, Verdict};
pub use crate::model::context::RunContext;
use crate::model::observation::{Observation, Outcome, SkipReason, StopReason};
use crate::model::target::Target;

/// One target's observation and its judgement.
#[derive(Clone, Debug)]
pub struct TargetResult {
    pub observation: Observation,
    pub assessment: Assessment,
}

/// A finished run, ready to render.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: String,
    pub results: Vec<TargetResult>,
    /// Whether OCSP responses and CRLs were fetched (not with `--no-revocation`, nor by `inspect`).
    pub revocation_checked: bool,
    /// Why the run ended before every target was finished (a signal, `--deadline`), if it did.
    pub stopped: Option<StopReason>,
    /// When the results were streamed to the output and not kept (JSON Lines), their summary,
    /// counted as they went; `results` is then empty.
    pub tally: Option<Summary>,
    /// Where the run was made from, the route, and the stores and data that judged.
    pub context: RunContext,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per target, for a terminal.
    Table,
    /// One JSON document (docs/json-schema.md).
    Json,
    /// One JSON object per target as it finishes, then a summary object.
    Jsonl,
    /// A report to hand on: the answer, each problem host, every target.
    Markdown,
    /// The Markdown report's content as one self-contained HTML file.
    Html,
    /// JUnit XML: one test case per target.
    Junit,
}

/// Counts per verdict, and the exit code they imply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub total: usize,
    pub counts: BTreeMap<&'static str, usize>,
    pub exit_code: u8,
    /// The run was stopped by SIGINT or SIGTERM (exit code 130).
    pub interrupted: bool,
    /// `--deadline` passed before every target was finished.
    pub deadline_passed: bool,
    /// Targets the stop left unprobed (counted as `skipped`).
    pub not_probed: usize,
}

/// The run's circumstances for people, as (label, value) pairs in the order reports show them:
/// when and how long, from where, by which route, judged by which stores and data, by which
/// pinscope. Values are raw (a host name is the machine's, but a saved report is anyone's):
/// every renderer escapes them for its output.
pub fn context_facts(run: &RunReport) -> Vec<(&'static str, String)> {
    let c = &run.context;
    let mut facts = vec![("Run", when(&run.started_at, &run.finished_at))];
    let vantage = c.vantage();
    if !vantage.is_empty() {
        facts.push(("From", vantage.trim_start_matches("from ").to_owned()));
    }
    // A report saved before the context existed still names its proxy on each target.
    let route = match (&c.pac, &c.proxy) {
        (Some(pac), _) => {
            let direct = run
                .results
                .iter()
                .filter(|r| {
                    r.observation
                        .route
                        .as_ref()
                        .is_some_and(|t| t.chosen.as_deref() == Some("DIRECT"))
                })
                .count();
            let proxied = run
                .results
                .iter()
                .filter(|r| {
                    r.observation
                        .route
                        .as_ref()
                        .is_some_and(|t| t.chosen.as_deref().is_some_and(|c| c != "DIRECT"))
                })
                .count();
            format!(
                "as the PAC {} (from {}) chose: {direct} direct, {proxied} through a proxy",
                pac.url, pac.from
            )
        }
        (None, Some(p)) => format!("through the proxy {} (from {})", p.url, p.from),
        (None, None) => {
            let proxies: std::collections::BTreeSet<&str> = run
                .results
                .iter()
                .filter_map(|r| r.observation.proxy.as_deref())
                .collect();
            if proxies.is_empty() {
                "direct (no proxy)".into()
            } else {
                let list: Vec<&str> = proxies.into_iter().collect();
                format!("through the proxy {}", list.join(", "))
            }
        }
    };
    facts.push(("Route", route));
    if !c.trust_stores.is_empty() {
        facts.push(("Trust stores", c.stores_line()));
    }
    if !c.data.is_empty() {
        facts.push(("Data", c.data_line()));
    }
    facts.push(("pinscope", env!("CARGO_PKG_VERSION").into()));
    facts
}

/// "Started 2026-12-02 14:49:27 UTC, took 4.4 s": the run's times for people (the JSON keeps
/// RFC 3339). Times that do not parse are shown as they are.
pub fn when(started: &str, finished: &str) -> String {
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;
    let parse = |t: &str| OffsetDateTime::parse(t, &Rfc3339).ok();
    let (Some(start), Some(end)) = (parse(started), parse(finished)) else {
        return format!("Started {started}, finished {finished}");
    };
    let start_utc = start.to_offset(time::UtcOffset::UTC);
    let shown = start_utc
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .unwrap_or_else(|_| started.to_owned());
    let secs = (end - start).as_seconds_f64().max(0.0);
    // Whole seconds of a run shorter than u64::MAX seconds; the cast saturates otherwise.
    let whole = secs as u64;
    let took = if secs < 60.0 {
        format!("{secs:.1} s")
    } else if whole < 3600 {
        format!("{} min {} s", whole / 60, whole % 60)
    } else {
        format!("{} h {} min", whole / 3600, whole % 3600 / 60)
    };
    format!("Started {shown}, took {took}")
}

/// Exit codes are a documented contract (README, docs/exit-codes.md).
pub mod exit {
    /// Every target passed (skipped targets do not count against this).
    pub const OK: u8 = 0;
    /// At least one target is intercepted.
    pub const INTERCEPTED: u8 = 1;
    /// Usage or input error.
    pub const USAGE: u8 = 2;
    /// No interception, but some target failed (blocked, timeout, DNS, TLS, untrusted), or the
    /// run deadline left some target unprobed.
    pub const FAILED: u8 = 3;
    /// The run was interrupted by SIGINT or SIGTERM (128 + SIGINT, as shells report Ctrl-C).
    pub const INTERRUPTED: u8 = 130;
}

impl Summary {
    pub fn of<'a>(verdicts: impl IntoIterator<Item = &'a Verdict>) -> Self {
        let mut counts: BTreeMap<&'static str, usize> =
            Verdict::ALL.iter().map(|v| (v.as_str(), 0)).collect();
        let mut total = 0;
        let (mut intercepted, mut failed) = (false, false);
        for v in verdicts {
            total += 1;
            *counts.entry(v.as_str()).or_default() += 1;
            intercepted |= *v == Verdict::Intercepted;
            failed |= v.is_failure();
        }
        let exit_code = if intercepted {
            exit::INTERCEPTED
        } else if failed {
            exit::FAILED
        } else {
            exit::OK
        };
        Self {
            total,
            counts,
            exit_code,
            interrupted: false,
            deadline_passed: false,
            not_probed: 0,
        }
    }

    /// Marks the run as stopped early, with `not_probed` targets left out, and adjusts the exit
    /// code: 130 for an interruption; after the deadline, the verdicts' code, where targets left
    /// unprobed count as failures (3) unless something is intercepted (1).
    pub fn stopped(mut self, reason: StopReason, not_probed: usize) -> Self {
        self.not_probed = not_probed;
        match reason {
            StopReason::Interrupted => {
                self.interrupted = true;
                self.exit_code = exit::INTERRUPTED;
            }
            StopReason::Deadline => {
                self.deadline_passed = true;
                if not_probed > 0 && self.exit_code == exit::OK {
                    self.exit_code = exit::FAILED;
                }
            }
        }
        self
    }

    pub fn count(&self, v: Verdict) -> usize {
        self.counts.get(v.as_str()).copied().unwrap_or(0)
    }

    /// "42 targets: 30 pass, 2 intercepted, …" with zero counts left out.
    pub fn line(&self) -> String {
        let parts: Vec<String> = Verdict::ALL
            .iter()
            .filter(|v| self.count(**v) > 0)
            .map(|v| format!("{} {}", self.count(*v), v.as_str()))
            .collect();
        let noun = if self.total == 1 { "target" } else { "targets" };
        let mut line = if parts.is_empty() {
            format!("{} {noun}", self.total)
        } else {
            format!("{} {noun}: {}", self.total, parts.join(", "))
        };
        let stop = if self.interrupted {
            Some("interrupted")
        } else if self.deadline_passed {
            Some("the run deadline passed")
        } else {
            None
        };
        if let Some(stop) = stop {
            line.push_str(&format!(" ({stop}; {} not probed)", self.not_probed));
        }
        line
    }
}

impl RunReport {
    pub fn summary(&self) -> Summary {
        if let Some(tally) = &self.tally {
            return tally.clone();
        }
        let summary = Summary::of(self.results.iter().map(|r| &r.assessment.verdict));
        match self.stopped {
            Some(reason) => {
                let not_probed = self
                    .results
                    .iter()
                    .filter(|r| {
                        matches!(&r.observation.outcome,
                            Outcome::Skipped(SkipReason::Stopped(why)) if *why == reason)
                    })
                    .count();
                summary.stopped(reason, not_probed)
            }
            None => summary,
        }
    }

    /// What the hand-on reports open with: the counts, the exemptions to make, and the targets
    /// that need attention (intercepted first), in the run's order.
    pub fn digest(&self) -> Digest<'_> {
        let summary = self.summary();
        let count = |pred: fn(Verdict) -> bool| {
            self.results
                .iter()
                .filter(|r| pred(r.assessment.verdict))
                .count()
        };
        let problems: Vec<&TargetResult> = self
            .results
            .iter()
            .filter(|r| r.assessment.verdict == Verdict::Intercepted)
            .chain(
                self.results
                    .iter()
                    .filter(|r| r.assessment.verdict.is_failure()),
            )
            .collect();
        Digest {
            intercepted: count(|v| v == Verdict::Intercepted),
            failed: count(Verdict::is_failure),
            pass: count(|v| v == Verdict::Pass),
            skipped: count(|v| v == Verdict::Skipped),
            exemptions: exemptions(&self.results),
            problems,
            summary,
        }
    }
}

/// The gist of a run, shared by the Markdown and HTML reports.
#[derive(Debug)]
pub struct Digest<'a> {
    pub summary: Summary,
    pub intercepted: usize,
    /// Failures other than interception (untrusted, blocked, timeout, …).
    pub failed: usize,
    pub pass: usize,
    pub skipped: usize,
    /// What to exempt from SSL inspection, one entry per host (or wildcard) and port.
    pub exemptions: Vec<ExemptionItem>,
    /// Intercepted targets, then the other failures.
    pub problems: Vec<&'a TargetResult>,
}

impl Digest<'_> {
    /// The non-interception failures by verdict, e.g. "1 untrusted, 2 blocked".
    pub fn failed_breakdown(&self) -> String {
        Verdict::ALL
            .iter()
            .filter(|v| v.is_failure() && self.summary.count(**v) > 0)
            .map(|v| format!("{} {}", self.summary.count(*v), v.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One exemption to make: a host, or the catalog wildcard an intercepted representative stands
/// for, on a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExemptionItem {
    /// `host.example.com:443`, `[2001:db8::1]:443`, or `*.push.apple.com:5223`.
    pub rule: String,
    /// Whether `rule` is a catalog wildcard.
    pub wildcard: bool,
    /// The intercepted targets behind it (`host:port`).
    pub targets: Vec<String>,
}

fn exemptions(results: &[TargetResult]) -> Vec<ExemptionItem> {
    let mut items: Vec<ExemptionItem> = Vec::new();
    for r in results
        .iter()
        .filter(|r| r.assessment.verdict == Verdict::Intercepted)
    {
        let t = &r.observation.target;
        let pattern = t
            .row
            .as_ref()
            .filter(|row| row.representative)
            .and_then(|row| row.pattern.clone());
        let (rule, wildcard) = match pattern {
            Some(p) => (format!("{p}:{}", t.port), true),
            None => (t.label(), false),
        };
        match items.iter_mut().find(|i| i.rule == rule) {
            Some(item) => item.targets.push(t.label()),
            None => items.push(ExemptionItem {
                rule,
                wildcard,
                targets: vec![t.label()],
            }),
        }
    }
    // A host already covered by a listed wildcard on the same port needs no rule of its own.
    let wildcards: Vec<String> = items
        .iter()
        .filter(|i| i.wildcard)
        .map(|i| i.rule.trim_start_matches('*').to_owned())
        .collect();
    items.retain(|i| i.wildcard || !wildcards.iter().any(|w| i.rule.ends_with(w.as_str())));
    items
}

/// A finding's severity as the JSON writes it.
pub fn severity(s: crate::analysis::Severity) -> &'static str {
    wire::Severity::from(s).as_str()
}

/// The first 12 characters of a hex digest, for people (full digests are in the JSON).
pub fn short_hash(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

/// The catalog section of a target, when it has one.
pub fn section_of(t: &Target) -> Option<&str> {
    t.row.as_ref().map(|r| r.section.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_times_are_shown_for_people() {
        assert_eq!(
            when(
                "2026-12-02T14:49:27.256873217Z",
                "2026-12-02T14:49:31.612648832Z"
            ),
            "Started 2026-12-02 14:49:27 UTC, took 4.4 s"
        );
        assert_eq!(
            when("2026-12-02T14:00:00Z", "2026-12-02T15:02:03Z"),
            "Started 2026-12-02 14:00:00 UTC, took 1 h 2 min"
        );
        assert_eq!(
            when("2026-12-02T14:00:00Z", "2026-12-02T14:03:05Z"),
            "Started 2026-12-02 14:00:00 UTC, took 3 min 5 s"
        );
        assert_eq!(when("x", "y"), "Started x, finished y");
    }

    #[test]
    fn a_stopped_run_exits_130_when_interrupted_and_by_the_verdicts_after_the_deadline() {
        let pass = [Verdict::Pass, Verdict::Skipped];
        let failed = [Verdict::Pass, Verdict::Timeout, Verdict::Skipped];
        let intercepted = [Verdict::Intercepted, Verdict::Skipped];
        let interrupted = Summary::of(&intercepted).stopped(StopReason::Interrupted, 1);
        assert_eq!(interrupted.exit_code, exit::INTERRUPTED);
        assert!(interrupted.interrupted && !interrupted.deadline_passed);
        assert!(interrupted.line().ends_with("(interrupted; 1 not probed)"));
        let deadline = |v: &[Verdict], n| Summary::of(v).stopped(StopReason::Deadline, n);
        assert_eq!(deadline(&pass, 1).exit_code, exit::FAILED);
        assert_eq!(deadline(&pass, 0).exit_code, exit::OK);
        assert_eq!(deadline(&failed, 1).exit_code, exit::FAILED);
        assert_eq!(deadline(&intercepted, 1).exit_code, exit::INTERCEPTED);
        assert!(
            deadline(&pass, 1)
                .line()
                .ends_with("(the run deadline passed; 1 not probed)")
        );
        assert!(!Summary::of(&pass).line().contains("not probed"));
    }
}
