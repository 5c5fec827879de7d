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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Transport;
    use crate::report::{json, sample};

    #[test]
    fn passing_targets_with_a_chain_are_recorded_and_the_rest_left_out() {
        let text = r#"{"finished_at": "2027-01-01T00:00:01Z", "targets": [
            {"host": "a.example", "port": 443, "transport": "tcp", "verdict": "pass",
             "tls": {"version": "TLSv1.3", "cipher_suite": "TLS13_AES_128_GCM_SHA256", "alpn": null},
             "anchor": "Root", "anchor_spki_sha256": "cc",
             "apple_pinning": {"policy": "GS", "source": "s", "satisfied": true, "rule_results": []},
             "chain": [
                {"subject": "CN=a.example", "issuer": "CN=CA", "serial": "01", "not_before": "x",
                 "not_after": "y", "sha256": "11", "spki_sha256": "aa"},
                {"subject": "CN=CA", "issuer": "CN=Root", "serial": "02", "not_before": "x",
                 "not_after": "y", "sha256": "22", "spki_sha256": "bb"}]},
            {"host": "::1", "port": 8443, "verdict": "intercepted", "chain": []}
        ]}"#;
        let saved = SavedReport::parse(text).unwrap();
        let (baseline, left_out) = from_saved(&saved, "2027-01-02T00:00:00Z");
        assert_eq!(left_out, ["[::1]:8443 (intercepted)"]);
        assert_eq!(baseline.created_at, "2027-01-02T00:00:00Z");
        let [t] = &baseline.targets[..] else {
            panic!("{baseline:?}")
        };
        assert_eq!(
            (t.host.as_str(), t.port, t.transport),
            ("a.example", 443, Transport::Tcp)
        );
        assert_eq!(t.recorded_at, "2027-01-01T00:00:01Z");
        let keys: Vec<&str> = t.chain.iter().map(|p| p.spki_sha256.as_str()).collect();
        assert_eq!(keys, ["aa", "bb"]);
        assert_eq!(t.anchor.spki_sha256.as_deref(), Some("cc"));
        assert_eq!(
            t.tls.as_ref().map(|r| r.version.clone()),
            Some(TlsVersion::Tls13)
        );
        assert_eq!(t.apple_pinning_policy.as_deref(), Some("GS"));
    }

    #[test]
    fn a_baseline_from_results_is_the_one_from_their_saved_report() {
        let run = sample::run();
        let saved = SavedReport::parse(&json::render(&run)).unwrap();
        assert_eq!(
            from_results(&run.results, "now", &run.finished_at),
            from_saved(&saved, "now")
        );
    }
}
