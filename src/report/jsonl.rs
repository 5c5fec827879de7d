//! JSON Lines (`--format jsonl`): one object per target, each exactly the object `--format json`
//! puts in `targets`, then one summary object. The audit writes each target's line as soon as the
//! target is finished (its probe, and its OCSP and CRL fetches unless `--no-revocation`), so a
//! long run can be followed, piped and filtered while it runs.

use serde::Serialize;

use super::{RunReport, Summary, TargetResult, json};

/// The last line: what `--format json` puts around its targets.
#[derive(Serialize)]
struct Trailer<'a> {
    summary: Summary,
    tool: &'static str,
    version: &'static str,
    schema_version: u32,
    started_at: &'a str,
    finished_at: &'a str,
    /// Whether the target lines include OCSP and CRL results.
    revocation_checked: bool,
}

/// One target's line, newline included.
pub fn target_line(r: &TargetResult) -> String {
    let mut line = json::target_line(r);
    line.push('\n');
    line
}

/// The summary line, newline included.
pub fn summary_line(run: &RunReport) -> String {
    let trailer = Trailer {
        summary: run.summary(),
        tool: "pinscope",
        version: env!("CARGO_PKG_VERSION"),
        schema_version: json::SCHEMA_VERSION,
        started_at: &run.started_at,
        finished_at: &run.finished_at,
        revocation_checked: run.revocation_checked,
    };
    let mut line = serde_json::to_string(&trailer).unwrap_or_else(|_| "{}".into());
    line.push('\n');
    line
}

/// The whole output at once (for `inspect`, and when the lines could not be streamed).
pub fn render(run: &RunReport) -> String {
    let mut out: String = run.results.iter().map(target_line).collect();
    out.push_str(&summary_line(run));
    out
}
