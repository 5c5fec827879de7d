//! JSON Lines (`--format jsonl`): one object per target, each exactly the object `--format json`
//! puts in `targets`, then one summary object. The audit writes each target's line as soon as the
//! target is finished (its probe, and its OCSP and CRL fetches unless `--no-revocation`), so a
//! long run can be followed, piped and filtered while it runs.

use super::{RunReport, TargetResult, json, wire};

/// One target's line, newline included.
pub fn target_line(r: &TargetResult) -> String {
    let mut line = json::target_line(r);
    line.push('\n');
    line
}

/// The summary line, newline included.
pub fn summary_line(run: &RunReport) -> String {
    let mut line = serde_json::to_string(&wire::trailer(run)).unwrap_or_else(|_| "{}".into());
    line.push('\n');
    line
}
