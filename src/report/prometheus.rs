//! The Prometheus text exposition format (version 0.0.4) of an audit, for `pinscope serve`:
//! [`metrics`] for `/metrics` (the last scheduled audit and the exporter's own health) and
//! [`probe`] for `/probe` (one on-demand audit). docs/monitoring.md is the metrics reference.
//!
//! Pure: no I/O and no clock. Times come from the report (its `finished_at`, each leaf's
//! notAfter) or from [`Health`], which the server keeps. Every family is written once, with its
//! `# HELP` and `# TYPE`, and its samples together. Label values come from certificates, servers
//! and saved reports: control characters and bidi overrides are shown escaped ([`text::line`]),
//! then backslash, double quote and newline are escaped as the exposition format requires, so no
//! value can end its label, its line, or inject a series.
//!
//! Per target the labels are `host`, `port`, `transport` (one catalog name can be probed over TCP
//! and over UDP on the same port: without it such rows would write one series twice), `section`
//! (empty for a target that is not a catalog row), then the family's own label, then `site` and
//! the site's extra labels.

use std::fmt::Write as _;
use std::sync::OnceLock;

use super::wire::{self, RevocationStatus, Verdict};
use super::{RunReport, TargetResult, text};
use crate::analysis::Code;
use crate::analysis::knowledge::Knowledge;
use crate::model::observation::{Outcome, Phase};

/// Per-site labels added to every series.
#[derive(Clone, Debug, Default)]
pub struct Site {
    /// The `site` label's value.
    pub name: String,
    /// Extra labels, in order. A name that is not a valid Prometheus label name has its other
    /// characters replaced by `_`; one that is reserved ([`check_label_name`]) or repeats an
    /// earlier one is left out. Validate names where they are configured.
    pub labels: Vec<(String, String)>,
}

/// The exporter's own health, kept by serve.
#[derive(Clone, Debug, Default)]
pub struct Health {
    /// When the exporter started, in seconds since the Unix epoch.
    pub started_at_seconds: f64,
    /// Scheduled audits finished (a panicked one included).
    pub audits_total: u64,
    /// Scheduled audits that panicked (the exporter kept running).
    pub audit_panics_total: u64,
    pub audit_in_progress: bool,
    /// Whether the last scheduled audit finished and produced a report.
    pub last_audit_success: bool,
    /// Configuration reloads attempted (SIGHUP).
    pub config_reloads_total: u64,
    /// Reloads refused: the old configuration was kept.
    pub config_reload_failures_total: u64,
    pub config_last_reload_success: bool,
    /// `/probe` requests received.
    pub probe_requests_total: u64,
    /// `/probe` requests refused: a target outside the allow-list, or a bad request.
    pub probe_refused_total: u64,
    /// Requests answered 429 by the rate limit.
    pub rate_limited_total: u64,
    /// The schedule's interval between audits, in seconds.
    pub interval_seconds: f64,
}

/// `/metrics`: the last scheduled audit (None before the first) and the exporter's health.
pub fn metrics(site: &Site, last: Option<&RunReport>, health: &Health) -> String {
    let mut out = Exposition::new(site);
    if let Some(run) = last {
        out.audit(run);
    }
    out.health(health);
    out.text
}

/// `/probe`: one on-demand audit's series (no exporter health).
pub fn probe(site: &Site, run: &RunReport) -> String {
    let mut out = Exposition::new(site);
    out.audit(run);
    out.text
}

/// Why a name cannot be a site's extra label.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LabelError {
    #[error(
        "'{0}' is not a Prometheus label name (letters, digits and _, not starting with a digit)"
    )]
    Invalid(String),
    #[error("'{0}' is reserved: pinscope's series already carry a label of that name")]
    Reserved(String),
    #[error("'{0}' starts with __, which Prometheus reserves for itself")]
    Internal(String),
}

/// Whether `name` can be one of a site's extra labels: a valid label name that neither begins
/// with `__` nor is one of the labels pinscope's series carry themselves.
pub fn check_label_name(name: &str) -> Result<(), LabelError> {
    if !valid_label_name(name) {
        return Err(LabelError::Invalid(name.to_owned()));
    }
    if name.starts_with("__") {
        return Err(LabelError::Internal(name.to_owned()));
    }
    if RESERVED_LABELS.contains(&name) {
        return Err(LabelError::Reserved(name.to_owned()));
    }
    Ok(())
}

/// The labels pinscope's own series use, which a site's extra labels may not redefine.
const RESERVED_LABELS: &[&str] = &[
    "host",
    "port",
    "transport",
    "section",
    "site",
    "verdict",
    "product",
    "anchor",
    "anchor_spki_sha256",
    "status",
    "version",
    "schema_version",
    "job",
    "instance",
];

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A metric family: its name, type and help text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Gauge,
    Counter,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Gauge => "gauge",
            Self::Counter => "counter",
        }
    }
}

const fn gauge(name: &'static str, help: &'static str) -> Family {
    Family {
        name,
        kind: Kind::Gauge,
        help,
    }
}

const fn counter(name: &'static str, help: &'static str) -> Family {
    Family {
        name,
        kind: Kind::Counter,
        help,
    }
}

// Per target.
const INTERCEPTED: Family = gauge(
    "pinscope_target_intercepted",
    "1 when the target's verdict is intercepted (something re-signed the connection), else 0.",
);
const VERDICT: Family = gauge(
    "pinscope_target_verdict",
    "The target's verdict as a state set: 1 for the current verdict, 0 for every other.",
);
const INTERCEPTION_INFO: Family = gauge(
    "pinscope_target_interception_info",
    "1 for an intercepted target, naming the inspection product (unknown when none matched).",
);
const ANCHOR_INFO: Family = gauge(
    "pinscope_target_anchor_info",
    "1 when the chain ended at an anchor: its subject and the SHA-256 of its public key.",
);
const APPLE_PINNED: Family = gauge(
    "pinscope_target_apple_pinned",
    "1 when Apple pins the host's certificate (its pinning rules cover the name), else 0.",
);
const LEAF_NOT_AFTER: Family = gauge(
    "pinscope_target_leaf_not_after_timestamp_seconds",
    "When the presented leaf certificate expires, in seconds since the Unix epoch.",
);
const HANDSHAKE_DURATION: Family = gauge(
    "pinscope_target_handshake_duration_seconds",
    "The TLS handshake's duration; the whole probe's when the handshake phase was not timed.",
);
const PIN_DRIFT: Family = gauge(
    "pinscope_target_pin_drift",
    "1 when the chain or TLS profile differs from the baseline (pin_rotation, pin_mismatch, tls_profile_changed), else 0.",
);
const REVOCATION: Family = gauge(
    "pinscope_target_revocation_status",
    "The chain's revocation status as a state set: good, revoked, unknown or not_checked.",
);
// Per audit.
const LAST_AUDIT: Family = gauge(
    "pinscope_last_audit_timestamp_seconds",
    "When the audit finished, in seconds since the Unix epoch.",
);
const AUDIT_DURATION: Family = gauge(
    "pinscope_audit_duration_seconds",
    "How long the audit took, from its start to its end.",
);
const AUDIT_TARGETS: Family = gauge(
    "pinscope_audit_targets",
    "Targets of the audit per verdict (every verdict, zero included).",
);
// The exporter.
const BUILD_INFO: Family = gauge(
    "pinscope_build_info",
    "1, naming pinscope's version and the JSON schema version it writes.",
);
const START_TIME: Family = gauge(
    "pinscope_start_time_seconds",
    "When the exporter started, in seconds since the Unix epoch.",
);
const AUDITS: Family = counter(
    "pinscope_audits_total",
    "Scheduled audits finished since the exporter started.",
);
const AUDIT_PANICS: Family = counter(
    "pinscope_audit_panics_total",
    "Scheduled audits that panicked; the exporter kept serving the previous result.",
);
const AUDIT_IN_PROGRESS: Family = gauge(
    "pinscope_audit_in_progress",
    "1 while a scheduled audit runs, else 0.",
);
const LAST_AUDIT_SUCCESS: Family = gauge(
    "pinscope_last_audit_success",
    "1 when the last scheduled audit finished with a report, else 0.",
);
const CONFIG_RELOADS: Family = counter(
    "pinscope_config_reloads_total",
    "Configuration reloads attempted (SIGHUP).",
);
const CONFIG_RELOAD_FAILURES: Family = counter(
    "pinscope_config_reload_failures_total",
    "Configuration reloads refused; the previous configuration stayed in force.",
);
const CONFIG_LAST_RELOAD_SUCCESS: Family = gauge(
    "pinscope_config_last_reload_success",
    "1 when the last configuration reload succeeded (or none was tried), else 0.",
);
const PROBE_REQUESTS: Family = counter("pinscope_probe_requests_total", "Requests to /probe.");
const PROBE_REFUSED: Family = counter(
    "pinscope_probe_refused_total",
    "Requests to /probe refused: a target outside the allow-list, or a malformed request.",
);
const RATE_LIMITED: Family = counter(
    "pinscope_rate_limited_total",
    "Requests refused by the rate limit (HTTP 429).",
);
const AUDIT_INTERVAL: Family = gauge(
    "pinscope_audit_interval_seconds",
    "The configured interval between scheduled audits.",
);

/// Every family, in the order written: what the tests check docs/monitoring.md against.
#[cfg(test)]
pub(crate) const FAMILIES: &[Family] = &[
    LAST_AUDIT,
    AUDIT_DURATION,
    AUDIT_TARGETS,
    INTERCEPTED,
    VERDICT,
    INTERCEPTION_INFO,
    ANCHOR_INFO,
    APPLE_PINNED,
    LEAF_NOT_AFTER,
    HANDSHAKE_DURATION,
    PIN_DRIFT,
    REVOCATION,
    BUILD_INFO,
    START_TIME,
    AUDITS,
    AUDIT_PANICS,
    AUDIT_IN_PROGRESS,
    LAST_AUDIT_SUCCESS,
    CONFIG_RELOADS,
    CONFIG_RELOAD_FAILURES,
    CONFIG_LAST_RELOAD_SUCCESS,
    PROBE_REQUESTS,
    PROBE_REFUSED,
    RATE_LIMITED,
    AUDIT_INTERVAL,
];

/// The states of `pinscope_target_revocation_status`.
const REVOCATION_STATES: [&str; 4] = ["good", "revoked", "unknown", "not_checked"];

/// The baseline findings that say the target drifted from what was recorded.
const DRIFT_CODES: [Code; 3] = [
    Code::PinRotation,
    Code::PinMismatch,
    Code::TlsProfileChanged,
];

/// The text being written, and the site's labels, already escaped (`name="value"` pairs).
struct Exposition {
    text: String,
    site: String,
}

impl Exposition {
    fn new(site: &Site) -> Self {
        let mut labels = vec![format!("site=\"{}\"", escape(&site.name))];
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in &site.labels {
            let name = sanitize_label_name(name);
            if check_label_name(&name).is_err() || seen.contains(&name) {
                continue;
            }
            labels.push(format!("{name}=\"{}\"", escape(value)));
            seen.push(name);
        }
        Self {
            text: String::new(),
            site: labels.join(","),
        }
    }

    /// `# HELP` and `# TYPE` of a family; its samples follow.
    fn family(&mut self, f: &Family) {
        let _ = writeln!(self.text, "# HELP {} {}", f.name, escape_help(f.help));
        let _ = writeln!(self.text, "# TYPE {} {}", f.name, f.kind.as_str());
    }

    /// One sample: the family's labels (names are ours, values escaped here), then the site's.
    fn sample(&mut self, f: &Family, labels: &[(&str, &str)], value: Value) {
        self.text.push_str(f.name);
        self.text.push('{');
        for (name, v) in labels {
            let _ = write!(self.text, "{name}=\"{}\",", escape(v));
        }
        self.text.push_str(&self.site);
        self.text.push_str("} ");
        value.write(&mut self.text);
        self.text.push('\n');
    }

    /// A family with one sample that carries only the site's labels.
    fn single(&mut self, f: &Family, value: Value) {
        self.family(f);
        self.sample(f, &[], value);
    }

    /// The audit's own series, then each target's, family by family.
    fn audit(&mut self, run: &RunReport) {
        if let Some(finished) = timestamp(&run.finished_at) {
            self.single(&LAST_AUDIT, Value::Float(finished));
            if let Some(started) = timestamp(&run.started_at) {
                self.single(&AUDIT_DURATION, Value::Float((finished - started).max(0.0)));
            }
        }
        let summary = run.summary();
        self.family(&AUDIT_TARGETS);
        for v in Verdict::ALL {
            let count = summary.counts.get(v.as_str()).copied().unwrap_or(0);
            self.sample(
                &AUDIT_TARGETS,
                &[("verdict", v.as_str())],
                Value::count(count),
            );
        }
        // A target named twice (on the command line and by the catalog) would write its series
        // twice, which Prometheus refuses: the first result stands.
        let mut seen = std::collections::HashSet::new();
        let targets: Vec<Facts> = run
            .results
            .iter()
            .filter(|r| {
                let t = &r.observation.target;
                seen.insert((t.host.as_str(), t.port, t.transport))
            })
            .map(|r| Facts::of(r, run.revocation_checked))
            .collect();
        self.targets(&targets);
    }

    fn targets(&mut self, targets: &[Facts]) {
        self.per_target(&INTERCEPTED, targets, |t| {
            vec![(vec![], Value::flag(t.verdict == Verdict::Intercepted))]
        });
        self.per_target(&VERDICT, targets, |t| {
            Verdict::ALL
                .iter()
                .map(|v| (vec![("verdict", v.as_str())], Value::flag(*v == t.verdict)))
                .collect()
        });
        self.per_target(&INTERCEPTION_INFO, targets, |t| match &t.product {
            Some(product) => vec![(vec![("product", product.as_str())], Value::Int(1))],
            None => vec![],
        });
        self.per_target(&ANCHOR_INFO, targets, |t| match &t.anchor {
            Some((anchor, spki)) => vec![(
                vec![
                    ("anchor", anchor.as_str()),
                    ("anchor_spki_sha256", spki.as_str()),
                ],
                Value::Int(1),
            )],
            None => vec![],
        });
        self.per_target(&APPLE_PINNED, targets, |t| {
            vec![(vec![], Value::flag(t.apple_pinned))]
        });
        self.per_target(&LEAF_NOT_AFTER, targets, |t| {
            t.leaf_not_after
                .map(|s| (vec![], Value::Float(s)))
                .into_iter()
                .collect()
        });
        self.per_target(&HANDSHAKE_DURATION, targets, |t| {
            t.handshake_seconds
                .map(|s| (vec![], Value::Float(s)))
                .into_iter()
                .collect()
        });
        self.per_target(&PIN_DRIFT, targets, |t| {
            vec![(vec![], Value::flag(t.pin_drift))]
        });
        self.per_target(&REVOCATION, targets, |t| {
            REVOCATION_STATES
                .iter()
                .map(|s| (vec![("status", *s)], Value::flag(*s == t.revocation)))
                .collect()
        });
    }

    /// One family over every target: `samples` gives each target's (own labels, value) pairs;
    /// a family no target has a sample for is left out.
    fn per_target<'t>(
        &mut self,
        f: &Family,
        targets: &'t [Facts],
        samples: impl Fn(&'t Facts) -> Vec<(Vec<(&'static str, &'t str)>, Value)>,
    ) {
        let mut header = false;
        for t in targets {
            for (own, value) in samples(t) {
                if !header {
                    self.family(f);
                    header = true;
                }
                let mut labels: Vec<(&str, &str)> = vec![
                    ("host", &t.host),
                    ("port", &t.port),
                    ("transport", t.transport),
                    ("section", &t.section),
                ];
                labels.extend(own);
                self.sample(f, &labels, value);
            }
        }
    }

    fn health(&mut self, h: &Health) {
        self.family(&BUILD_INFO);
        let schema = wire::SCHEMA_VERSION.to_string();
        self.sample(
            &BUILD_INFO,
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("schema_version", &schema),
            ],
            Value::Int(1),
        );
        self.single(&START_TIME, Value::Float(h.started_at_seconds));
        self.single(&AUDITS, Value::Int(h.audits_total));
        self.single(&AUDIT_PANICS, Value::Int(h.audit_panics_total));
        self.single(&AUDIT_IN_PROGRESS, Value::flag(h.audit_in_progress));
        self.single(&LAST_AUDIT_SUCCESS, Value::flag(h.last_audit_success));
        self.single(&CONFIG_RELOADS, Value::Int(h.config_reloads_total));
        self.single(
            &CONFIG_RELOAD_FAILURES,
            Value::Int(h.config_reload_failures_total),
        );
        self.single(
            &CONFIG_LAST_RELOAD_SUCCESS,
            Value::flag(h.config_last_reload_success),
        );
        self.single(&PROBE_REQUESTS, Value::Int(h.probe_requests_total));
        self.single(&PROBE_REFUSED, Value::Int(h.probe_refused_total));
        self.single(&RATE_LIMITED, Value::Int(h.rate_limited_total));
        self.single(&AUDIT_INTERVAL, Value::Float(h.interval_seconds));
    }
}

/// A sample's value.
#[derive(Clone, Copy, Debug)]
enum Value {
    Int(u64),
    Float(f64),
}

impl Value {
    fn flag(on: bool) -> Self {
        Self::Int(u64::from(on))
    }

    fn count(n: usize) -> Self {
        Self::Int(u64::try_from(n).unwrap_or(u64::MAX))
    }

    fn write(self, out: &mut String) {
        match self {
            Self::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Self::Float(x) if x.is_nan() => out.push_str("NaN"),
            Self::Float(x) if x.is_infinite() => {
                out.push_str(if x > 0.0 { "+Inf" } else { "-Inf" });
            }
            // Rust writes the shortest text that reads back as the same f64, never an exponent.
            Self::Float(x) => {
                let _ = write!(out, "{x}");
            }
        }
    }
}

/// What the target families say about one target, worked out once.
struct Facts {
    host: String,
    port: String,
    transport: &'static str,
    section: String,
    verdict: Verdict,
    /// For an intercepted target, the product ("unknown" when none matched).
    product: Option<String>,
    /// The anchor's subject and its key's SHA-256 (empty when only its name is known).
    anchor: Option<(String, String)>,
    apple_pinned: bool,
    leaf_not_after: Option<f64>,
    handshake_seconds: Option<f64>,
    pin_drift: bool,
    revocation: &'static str,
}

impl Facts {
    fn of(r: &TargetResult, revocation_checked: bool) -> Self {
        let obs = &r.observation;
        let a = &r.assessment;
        let verdict = Verdict::from(a.verdict);
        let product = (verdict == Verdict::Intercepted).then(|| {
            a.interception
                .as_ref()
                .and_then(|i| i.product.clone())
                .unwrap_or_else(|| "unknown".into())
        });
        // `inspect` (an offline chain) and skipped targets made no connection to time.
        let probed = verdict != Verdict::Skipped && !matches!(obs.outcome, Outcome::Offline { .. });
        let handshake_seconds = probed.then(|| {
            obs.timings
                .iter()
                .find(|t| t.phase == Phase::Handshake)
                .map_or(obs.elapsed, |t| t.elapsed)
                .as_secs_f64()
        });
        let revocation = if revocation_checked {
            revocation_state(
                a.revocation
                    .iter()
                    .map(|s| wire::Revocation::from(s).status),
            )
        } else {
            "not_checked"
        };
        Self {
            host: obs.target.host.clone(),
            port: obs.target.port.to_string(),
            transport: match obs.target.transport {
                crate::model::row::Transport::Tcp => "tcp",
                crate::model::row::Transport::Udp => "udp",
                crate::model::row::Transport::Ssh => "ssh",
            },
            section: super::section_of(&obs.target).unwrap_or("").to_owned(),
            verdict,
            product,
            anchor: a.anchor.as_ref().map(|anchor| {
                (
                    anchor.clone(),
                    a.anchor_spki_sha256.clone().unwrap_or_default(),
                )
            }),
            apple_pinned: a.pinning.is_some() || pinned(&obs.target.host),
            leaf_not_after: a.chain.first().and_then(|leaf| timestamp(&leaf.not_after)),
            handshake_seconds,
            pin_drift: a.findings.iter().any(|f| DRIFT_CODES.contains(&f.code)),
            revocation,
        }
    }
}

/// A chain's revocation answers as one state: revoked if any certificate is; unknown if any
/// answer was missing or unusable; good if every answer was good; not_checked without answers.
fn revocation_state(statuses: impl Iterator<Item = RevocationStatus>) -> &'static str {
    let (mut good, mut unknown) = (false, false);
    for s in statuses {
        match s {
            RevocationStatus::Revoked => return "revoked",
            RevocationStatus::Good => good = true,
            RevocationStatus::Unknown
            | RevocationStatus::Unreachable
            | RevocationStatus::Invalid => {
                unknown = true;
            }
            RevocationStatus::NotChecked => {}
        }
    }
    if unknown {
        "unknown"
    } else if good {
        "good"
    } else {
        "not_checked"
    }
}

/// Whether Apple's pinning rules (the embedded table) cover `host`, whatever the probe saw: a
/// blocked pinned host has no chain to judge, and still counts as pinned.
fn pinned(host: &str) -> bool {
    static KNOWLEDGE: OnceLock<Option<Knowledge>> = OnceLock::new();
    KNOWLEDGE
        .get_or_init(|| Knowledge::builtin().ok())
        .as_ref()
        .is_some_and(|k| k.pinning.lookup(host).is_some())
}

/// RFC 3339 as seconds since the Unix epoch (with fractions), if it parses.
fn timestamp(rfc3339: &str) -> Option<f64> {
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;
    let t = OffsetDateTime::parse(rfc3339, &Rfc3339).ok()?;
    // i128 nanoseconds of a date time can represent; as f64 they keep microseconds today.
    Some(t.unix_timestamp_nanos() as f64 / 1e9)
}

/// A label value as the exposition format writes it between quotes: controls and bidi overrides
/// shown escaped first (nothing from a certificate reaches a dashboard as a control), then
/// backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    escape_exposition(&text::line(value), true)
}

/// Help text: backslash and newline escaped.
fn escape_help(help: &str) -> String {
    escape_exposition(help, false)
}

fn escape_exposition(s: &str, quote: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// A configured label name made valid: characters other than letters, digits and `_` become `_`,
/// and a leading digit gets a `_` before it.
fn sanitize_label_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::analysis;

    fn site() -> Site {
        Site {
            name: "lab".into(),
            labels: vec![("region".into(), "eu".into())],
        }
    }

    fn health() -> Health {
        Health {
            started_at_seconds: 1_798_761_000.5,
            audits_total: 3,
            audit_panics_total: 1,
            audit_in_progress: true,
            last_audit_success: true,
            config_reloads_total: 2,
            config_reload_failures_total: 1,
            config_last_reload_success: false,
            probe_requests_total: 7,
            probe_refused_total: 2,
            rate_limited_total: 1,
            interval_seconds: 300.0,
        }
    }

    /// One sample line read back as Prometheus reads it: name, labels (unescaped), value.
    #[derive(Debug, PartialEq)]
    struct Sample {
        name: String,
        labels: BTreeMap<String, String>,
        value: String,
    }

    fn parse(text: &str) -> Vec<Sample> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|line| {
                let (name, rest) = line.split_once('{').unwrap();
                let mut labels = BTreeMap::new();
                let mut chars = rest.chars();
                loop {
                    let label: String = chars.by_ref().take_while(|c| *c != '=').collect();
                    assert_eq!(chars.next(), Some('"'), "{line}");
                    let mut value = String::new();
                    loop {
                        match chars.next().unwrap() {
                            '\\' => match chars.next().unwrap() {
                                'n' => value.push('\n'),
                                c @ ('\\' | '"') => value.push(c),
                                c => panic!("bad escape \\{c} in {line}"),
                            },
                            '"' => break,
                            '\n' => panic!("raw newline in {line}"),
                            c => value.push(c),
                        }
                    }
                    assert!(labels.insert(label, value).is_none(), "{line}");
                    match chars.next() {
                        Some(',') => continue,
                        Some('}') => break,
                        other => panic!("{other:?} after a label value in {line}"),
                    }
                }
                let value: String = chars.collect();
                Sample {
                    name: name.to_owned(),
                    labels,
                    value: value.strip_prefix(' ').unwrap().to_owned(),
                }
            })
            .collect()
    }

    /// The value of the one sample of `name` whose labels include `with`.
    fn value(samples: &[Sample], name: &str, with: &[(&str, &str)]) -> Option<String> {
        let found: Vec<&Sample> = samples
            .iter()
            .filter(|s| {
                s.name == name
                    && with
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        assert!(found.len() <= 1, "{name} {with:?}: {found:?}");
        found.first().map(|s| s.value.clone())
    }

    #[test]
    fn a_sample_run_renders_each_targets_series_and_the_audits() {
        let run = crate::report::sample::run();
        let text = metrics(&site(), Some(&run), &health());
        let s = parse(&text);
        let gdmf = [("host", "gdmf.apple.com"), ("port", "443")];
        let other = [("host", "fuzz.example"), ("transport", "tcp")];
        assert_eq!(
            value(&s, "pinscope_target_intercepted", &gdmf).as_deref(),
            Some("0")
        );
        // The state set: every verdict, one of them 1.
        let verdicts: Vec<&Sample> = s
            .iter()
            .filter(|x| x.name == "pinscope_target_verdict" && x.labels["host"] == "gdmf.apple.com")
            .collect();
        assert_eq!(verdicts.len(), Verdict::ALL.len());
        let on: Vec<&str> = verdicts
            .iter()
            .filter(|x| x.value == "1")
            .map(|x| x.labels["verdict"].as_str())
            .collect();
        assert_eq!(on, ["untrusted"]);
        assert_eq!(
            value(&s, "pinscope_audit_targets", &[("verdict", "untrusted")]).as_deref(),
            Some("2")
        );
        assert_eq!(
            value(&s, "pinscope_audit_targets", &[("verdict", "pass")]).as_deref(),
            Some("0")
        );
        assert_eq!(
            value(&s, "pinscope_target_apple_pinned", &gdmf).as_deref(),
            Some("1")
        );
        assert_eq!(
            value(&s, "pinscope_target_apple_pinned", &other).as_deref(),
            Some("0")
        );
        assert_eq!(
            value(
                &s,
                "pinscope_target_anchor_info",
                &[("host", "fuzz.example"), ("anchor", "Fuzz Seed CA")]
            )
            .as_deref(),
            Some("1")
        );
        // fuzz/certs/leaf.der's notAfter, 2036-11-20T10:36:28Z.
        assert_eq!(
            value(
                &s,
                "pinscope_target_leaf_not_after_timestamp_seconds",
                &gdmf
            )
            .as_deref(),
            Some("2110840588")
        );
        assert_eq!(
            value(
                &s,
                "pinscope_target_revocation_status",
                &[("host", "fuzz.example"), ("status", "not_checked")]
            )
            .as_deref(),
            Some("1")
        );
        assert_eq!(
            value(&s, "pinscope_target_pin_drift", &other).as_deref(),
            Some("0")
        );
        // Not intercepted: no interception info. Offline chains were not timed.
        assert_eq!(value(&s, "pinscope_target_interception_info", &[]), None);
        assert_eq!(
            value(&s, "pinscope_target_handshake_duration_seconds", &[]),
            None
        );
        assert_eq!(
            value(&s, "pinscope_last_audit_timestamp_seconds", &[]).as_deref(),
            Some("1798761601")
        );
        assert_eq!(
            value(&s, "pinscope_audit_duration_seconds", &[]).as_deref(),
            Some("1")
        );
        assert_eq!(
            value(&s, "pinscope_start_time_seconds", &[]).as_deref(),
            Some("1798761000.5")
        );
        assert_eq!(
            value(&s, "pinscope_config_reload_failures_total", &[]).as_deref(),
            Some("1")
        );
        assert_eq!(
            value(&s, "pinscope_audit_in_progress", &[]).as_deref(),
            Some("1")
        );
        assert_eq!(
            value(
                &s,
                "pinscope_build_info",
                &[("version", env!("CARGO_PKG_VERSION"))]
            )
            .as_deref(),
            Some("1")
        );
        // Every series carries the site's labels.
        assert!(
            s.iter()
                .all(|x| x.labels["site"] == "lab" && x.labels["region"] == "eu")
        );
    }

    #[test]
    fn an_intercepted_target_is_timed_and_names_its_product() {
        let mut run = crate::report::sample::run();
        let r = &mut run.results[1];
        r.assessment.verdict = analysis::Verdict::Intercepted;
        r.observation.outcome =
            Outcome::Skipped(crate::model::observation::SkipReason::NoConcreteHost {
                pattern: String::new(),
            });
        r.observation.elapsed = std::time::Duration::from_millis(250);
        r.observation.timings = vec![crate::model::observation::PhaseTiming {
            phase: Phase::Handshake,
            elapsed: std::time::Duration::from_millis(40),
        }];
        let s = parse(&probe(&site(), &run));
        let t = [("host", "fuzz.example")];
        assert_eq!(
            value(&s, "pinscope_target_intercepted", &t).as_deref(),
            Some("1")
        );
        assert_eq!(
            value(
                &s,
                "pinscope_target_interception_info",
                &[("product", "unknown")]
            )
            .as_deref(),
            Some("1")
        );
        assert_eq!(
            value(&s, "pinscope_target_handshake_duration_seconds", &t).as_deref(),
            Some("0.04")
        );
        // Without a handshake timing (a saved report), the probe's elapsed time.
        run.results[1].observation.timings.clear();
        let s = parse(&probe(&site(), &run));
        assert_eq!(
            value(&s, "pinscope_target_handshake_duration_seconds", &t).as_deref(),
            Some("0.25")
        );
        // /probe carries no exporter health.
        assert!(!s.iter().any(|x| x.name == "pinscope_build_info"));
    }

    #[test]
    fn hostile_label_text_is_escaped_and_reads_back_as_it_was() {
        let mut run = crate::report::sample::run();
        let host = "evil\"} 1\npinscope_target_intercepted{host=\"x\\";
        let product = "Zscaler\\\"\n\u{1b}[31m";
        let r = &mut run.results[0];
        r.observation.target.host = host.into();
        r.assessment.verdict = analysis::Verdict::Intercepted;
        r.assessment.interception = Some(analysis::Interception {
            product: Some(product.into()),
            anchor_subject: None,
            evidence: Vec::new(),
        });
        r.assessment.anchor = Some("CN=\"root\"\\\n".into());
        let site = Site {
            name: "a\"b\nc\\".into(),
            labels: vec![
                ("team".into(), "x\"}\n".into()),
                ("bad-name".into(), "kept as bad_name".into()),
                ("host".into(), "reserved: dropped".into()),
                ("__meta".into(), "dropped".into()),
            ],
        };
        let text = metrics(&site, Some(&run), &health());
        // One line per sample: nothing injected a series or a comment.
        let samples = parse(&text);
        let intercepted: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.name == "pinscope_target_intercepted")
            .collect();
        assert_eq!(intercepted.len(), 2);
        // The newline is shown as `\n` (a control, as every renderer shows it), quote and
        // backslash are the value's own.
        assert_eq!(intercepted[0].labels["host"], host.replace('\n', "\\n"));
        assert_eq!(intercepted[0].value, "1");
        assert!(text.contains(r#"host="evil\"} 1\\npinscope_target_intercepted{host=\"x\\""#));
        // Controls are shown escaped before the exposition escapes.
        assert_eq!(
            value(&samples, "pinscope_target_interception_info", &[]).as_deref(),
            Some("1")
        );
        let info = samples
            .iter()
            .find(|s| s.name == "pinscope_target_interception_info")
            .unwrap();
        assert_eq!(info.labels["product"], "Zscaler\\\"\\n\\x1b[31m");
        let anchor = samples
            .iter()
            .find(|s| s.name == "pinscope_target_anchor_info")
            .unwrap();
        assert_eq!(anchor.labels["anchor"], "CN=\"root\"\\\\n");
        for s in &samples {
            assert_eq!(s.labels["site"], "a\"b\\nc\\");
            assert_eq!(s.labels["team"], "x\"}\\n");
            assert_eq!(s.labels["bad_name"], "kept as bad_name");
            assert!(!s.labels.contains_key("__meta"));
        }
        assert!(text.lines().all(|l| !l.contains('\u{1b}')));
    }

    #[test]
    fn the_exposition_escapes_backslash_quote_and_newline() {
        assert_eq!(escape_exposition("a\\b\"c\nd", true), r#"a\\b\"c\nd"#);
        assert_eq!(escape_exposition("a\\b\"c\nd", false), r#"a\\b"c\nd"#);
    }

    #[test]
    fn every_family_has_help_and_type_once_with_its_samples_together() {
        let run = crate::report::sample::run();
        let text = metrics(&site(), Some(&run), &health());
        let mut seen: Vec<&str> = Vec::new();
        let mut current = "";
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap();
                assert!(!seen.contains(&name), "{name} twice");
                seen.push(name);
                current = name;
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert_eq!(name, current, "TYPE right after HELP");
                assert!(kind == "gauge" || kind == "counter", "{line}");
                assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
            } else {
                assert!(
                    line.starts_with(&format!("{current}{{")),
                    "{line} outside {current}"
                );
            }
        }
        let mut all: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
        all.retain(|n| *n != HANDSHAKE_DURATION.name && *n != INTERCEPTION_INFO.name);
        let mut written = seen.clone();
        written.sort_unstable();
        all.sort_unstable();
        assert_eq!(
            written, all,
            "every family but the two the sample has no sample for"
        );
        for f in FAMILIES {
            assert!(f.name.starts_with("pinscope_"));
            assert_eq!(
                f.kind == Kind::Counter,
                f.name.ends_with("_total"),
                "{}",
                f.name
            );
            assert!(!f.help.is_empty());
        }
    }

    #[test]
    fn a_target_listed_twice_writes_its_series_once() {
        let mut run = crate::report::sample::run();
        run.results.push(run.results[0].clone());
        let s = parse(&probe(&site(), &run));
        let gdmf = [("host", "gdmf.apple.com")];
        assert!(value(&s, "pinscope_target_intercepted", &gdmf).is_some());
        assert_eq!(
            s.iter()
                .filter(|x| x.name == "pinscope_target_verdict")
                .count(),
            2 * Verdict::ALL.len()
        );
    }

    #[test]
    fn before_the_first_audit_only_the_exporter_is_described() {
        let s = parse(&metrics(&site(), None, &Health::default()));
        assert!(s.iter().all(|x| !x.name.starts_with("pinscope_target_")));
        assert_eq!(
            value(&s, "pinscope_last_audit_timestamp_seconds", &[]),
            None
        );
        assert_eq!(
            value(&s, "pinscope_audits_total", &[]).as_deref(),
            Some("0")
        );
    }

    #[test]
    fn revocation_answers_make_one_state() {
        use RevocationStatus as S;
        let state = |s: &[S]| revocation_state(s.iter().copied());
        assert_eq!(state(&[]), "not_checked");
        assert_eq!(state(&[S::NotChecked]), "not_checked");
        assert_eq!(state(&[S::Good, S::Good]), "good");
        assert_eq!(state(&[S::Good, S::Unreachable]), "unknown");
        assert_eq!(state(&[S::Invalid, S::Revoked]), "revoked");
    }

    #[test]
    fn site_label_names_are_checked() {
        assert_eq!(check_label_name("region"), Ok(()));
        assert!(matches!(
            check_label_name("site"),
            Err(LabelError::Reserved(_))
        ));
        assert!(matches!(
            check_label_name("__x"),
            Err(LabelError::Internal(_))
        ));
        assert!(matches!(
            check_label_name("9a"),
            Err(LabelError::Invalid(_))
        ));
        assert!(matches!(
            check_label_name("a-b"),
            Err(LabelError::Invalid(_))
        ));
        assert_eq!(sanitize_label_name("9a-b"), "_9a_b");
    }

    /// docs/monitoring.md's reference names every family with its type, and nothing else.
    #[test]
    fn the_reference_lists_every_family() {
        let doc = include_str!("../../docs/monitoring.md");
        for f in FAMILIES {
            let row = format!("| `{}` | {} |", f.name, f.kind.as_str());
            assert!(doc.contains(&row), "docs/monitoring.md lacks the row {row}");
        }
        let documented = doc
            .lines()
            .filter(|l| l.starts_with("| `pinscope_"))
            .count();
        assert_eq!(documented, FAMILIES.len());
    }
}
