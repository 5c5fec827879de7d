//! Baselines from results: what `baseline save` records, from an audit just run or from a saved
//! report. Both go through the JSON wire types, so a baseline built either way is the same.

use super::TargetResult;
use super::saved::SavedReport;
use super::wire::{self, Verdict};
use crate::model::baseline::{AnchorRecord, Baseline, BaselineTarget, Position, TlsRecord};
use crate::model::observation::TlsVersion;

/// Records every target of a run that passed and presented a chain. Returns the baseline and the
/// targets left out, with why: a baseline is a picture of a clean network.
pub fn from_results(
    results: &[TargetResult],
    created_at: &str,
    probed_at: &str,
) -> (Baseline, Vec<String>) {
    let targets: Vec<wire::Target> = results.iter().map(wire::target).collect();
    from_targets(&targets, created_at, probed_at)
}

/// The same from an audit's saved JSON document (`--format json` output).
pub fn from_saved(report: &SavedReport, created_at: &str) -> (Baseline, Vec<String>) {
    let recorded = report.finished_at.as_deref().unwrap_or(created_at);
    from_targets(&report.targets, created_at, recorded)
}

fn from_targets(
    targets: &[wire::Target],
    created_at: &str,
    recorded_at: &str,
) -> (Baseline, Vec<String>) {
    let mut out = Vec::new();
    let mut left_out = Vec::new();
    for t in targets {
        if t.verdict != Verdict::Pass || t.chain.is_empty() {
            left_out.push(format!("{} ({})", t.label(), t.verdict.as_str()));
            continue;
        }
        out.push(BaselineTarget {
            host: t.host.clone(),
            port: t.port,
            transport: t.transport,
            recorded_at: recorded_at.to_owned(),
            chain: t
                .chain
                .iter()
                .enumerate()
                .map(|(position, c)| Position {
                    position,
                    subject: c.subject.clone(),
                    spki_sha256: c.spki_sha256.clone(),
                })
                .collect(),
            anchor: AnchorRecord {
                subject: t.anchor.clone(),
                spki_sha256: t.anchor_spki_sha256.clone(),
            },
            tls: t.tls.as_ref().map(|tls| TlsRecord {
                version: TlsVersion::parse(&tls.version),
                cipher_suite: tls.cipher_suite.clone(),
            }),
            apple_pinning_policy: t.apple_pinning.as_ref().map(|p| p.policy.clone()),
        });
    }
    (Baseline::new(created_at, out), left_out)
}
