//! Placeholder for the Prometheus text renderer (`pinscope serve`'s `/metrics` and `/probe`). The
//! real renderer is written separately and replaces this file; only the interface below is
//! relied upon by `crate::serve`.

use super::RunReport;
use crate::analysis::Verdict;

/// Per-site labels added to every series.
#[derive(Clone, Debug, Default)]
pub struct Site {
    pub name: String,
    pub labels: Vec<(String, String)>,
}

/// The exporter's own health, kept by serve.
#[derive(Clone, Debug, Default)]
pub struct Health {
    pub started_at_seconds: f64,
    pub audits_total: u64,
    pub audit_panics_total: u64,
    pub audit_in_progress: bool,
    pub last_audit_success: bool,
    pub config_reloads_total: u64,
    pub config_reload_failures_total: u64,
    pub config_last_reload_success: bool,
    pub probe_requests_total: u64,
    pub probe_refused_total: u64,
    pub rate_limited_total: u64,
    pub interval_seconds: f64,
}

/// `/metrics`: the last scheduled audit (None before the first) and the exporter's health.
pub fn metrics(site: &Site, last: Option<&RunReport>, health: &Health) -> String {
    let mut out = String::new();
    if let Some(run) = last {
        out.push_str(&targets(site, run));
    }
    let site_label = format!("site=\"{}\"", escape(&site.name));
    for (name, value) in [
        ("pinscope_audits_total", health.audits_total as f64),
        (
            "pinscope_audit_panics_total",
            health.audit_panics_total as f64,
        ),
        (
            "pinscope_config_reload_failures_total",
            health.config_reload_failures_total as f64,
        ),
        (
            "pinscope_config_reloads_total",
            health.config_reloads_total as f64,
        ),
    ] {
        out.push_str(&format!("{name}{{{site_label}}} {value}\n"));
    }
    out
}

/// `/probe`: one on-demand audit's series (no exporter health).
pub fn probe(site: &Site, run: &RunReport) -> String {
    targets(site, run)
}

fn targets(site: &Site, run: &RunReport) -> String {
    let mut out = String::new();
    for r in &run.results {
        let t = &r.observation.target;
        out.push_str(&format!(
            "pinscope_target_intercepted{{host=\"{}\",port=\"{}\",section=\"{}\",site=\"{}\"}} {}\n",
            escape(&t.host),
            t.port,
            escape(super::section_of(t).unwrap_or("")),
            escape(&site.name),
            u8::from(r.assessment.verdict == Verdict::Intercepted)
        ));
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
