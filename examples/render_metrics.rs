//! Renders a saved `pinscope audit --format json` report as the exporter's `/metrics` page, to
//! measure it (docs/monitoring.md, "What it costs") or to check it with `promtool check metrics`.
//!
//! Usage: render_metrics REPORT.json [SITE]
//! Prints the exposition on stdout, and the series and byte counts on stderr.

use std::process::ExitCode;

use pinscope::report::prometheus::{self, Health, Site};
use pinscope::report::saved::SavedReport;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: render_metrics REPORT.json [SITE]");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match SavedReport::parse(&text) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(2);
        }
    };
    let site = Site {
        name: args.get(2).cloned().unwrap_or_else(|| "site-01".into()),
        labels: Vec::new(),
    };
    let health = Health {
        audits_total: 1,
        last_audit_success: true,
        config_last_reload_success: true,
        interval_seconds: 300.0,
        ..Health::default()
    };
    let run = report.run();
    let page = prometheus::metrics(&site, Some(&run), &health);
    let series = page.lines().filter(|l| !l.starts_with('#')).count();
    print!("{page}");
    eprintln!(
        "{} targets: {series} series, {} bytes",
        run.results.len(),
        page.len()
    );
    ExitCode::SUCCESS
}
