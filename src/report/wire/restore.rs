//! Wire types back into results, for re-rendering a saved report (`pinscope report`). The reverse
//! of `convert.rs`, as far as the renderers need: the target and its catalog facts, the verdict,
//! findings, explanation, chain, anchor, Apple pinning and interception, and the time taken. What
//! only the JSON shows (trust views, CT, revocation, TLS parameters, service answers) is not
//! restored; `--format json` and `--format jsonl` re-render from the wire types themselves.

use std::time::Duration;

use super::{Cert, Target, Verdict};
use crate::analysis::{self, Assessment, apple, chain};
use crate::model::finding::{Code, Severity};
use crate::model::observation::{Observation, Outcome, SkipReason, StopReason};
use crate::model::row::{ProxySupport, Row};
use crate::report::TargetResult;

/// A finding code by its JSON name; `None` for a name this build does not know.
pub fn code(name: &str) -> Option<Code> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

/// One saved target as a result. `stopped` is why the saved run stopped early, if it did: its
/// `not_probed` targets are restored as left out by that stop, so the summary counts them again.
pub fn result(t: &Target, stopped: Option<StopReason>) -> TargetResult {
    let row = t.section.as_ref().map(|section| Row {
        host: t.host.clone(),
        port: t.port,
        transport: t.transport,
        section: section.clone(),
        sections: vec![section.clone()],
        description: String::new(),
        os: Vec::new(),
        supports_proxy: ProxySupport::Unknown,
        legacy: t.legacy,
        representative: t.representative,
        pattern: t.pattern.clone(),
        source: String::new(),
        sources: Vec::new(),
        note: None,
        tls_max: None,
        tls_ciphers: Vec::new(),
        probe: None,
        pinned_by: None,
        pinned_with: Vec::new(),
        networks: Vec::new(),
    });
    let findings: Vec<analysis::Finding> = t
        .findings
        .iter()
        .filter_map(|f| {
            Some(analysis::Finding {
                code: code(&f.code)?,
                severity: match f.severity {
                    super::Severity::Info => Severity::Info,
                    super::Severity::Warning => Severity::Warning,
                    super::Severity::Error => Severity::Error,
                },
                message: f.message.clone(),
                detail: None,
            })
        })
        .collect();
    let not_probed = findings.iter().any(|f| f.code == Code::NotProbed);
    let outcome = match stopped {
        Some(reason) if not_probed && t.verdict == Verdict::Skipped => {
            Outcome::Skipped(SkipReason::Stopped(reason))
        }
        // The renderers read no other outcome.
        _ => Outcome::Skipped(SkipReason::NoConcreteHost {
            pattern: t.pattern.clone().unwrap_or_default(),
        }),
    };
    let observation = Observation {
        target: crate::model::target::Target {
            host: t.host.clone(),
            port: t.port,
            transport: t.transport,
            row,
        },
        addresses: t.addresses.iter().filter_map(|a| a.parse().ok()).collect(),
        address_used: None,
        answered_by: None,
        sni: t.sni.clone(),
        outcome,
        elapsed: Duration::from_millis(t.elapsed_ms),
        proxy: t.proxy.clone(),
        route: t
            .route
            .as_ref()
            .map(|r| crate::model::observation::RouteTaken {
                pac: r.pac.clone(),
                answer: r.answer.clone(),
                chosen: r.chosen.clone(),
                failed: r
                    .failed
                    .iter()
                    .map(|f| crate::model::observation::RouteFailure {
                        entry: f.entry.clone(),
                        detail: f.detail.clone(),
                    })
                    .collect(),
            }),
        revocation: Vec::new(),
        timings: Vec::new(),
    };
    let assessment = Assessment {
        verdict: verdict(t.verdict),
        findings,
        explanation: t.explanation.clone(),
        chain: t.chain.iter().map(cert).collect(),
        anchor: t.anchor.clone(),
        anchor_spki_sha256: t.anchor_spki_sha256.clone(),
        pinning: t.apple_pinning.as_ref().map(|p| apple::PinningResult {
            policy: p.policy.clone(),
            source: p.source.clone(),
            satisfied: p.satisfied,
            rule_results: p
                .rule_results
                .iter()
                .map(|r| apple::RuleResult {
                    rule: r.rule.clone(),
                    passed: r.passed,
                    failed_checks: r.failed_checks.clone(),
                })
                .collect(),
        }),
        interception: t.interception.as_ref().map(|i| analysis::Interception {
            product: i.product.clone(),
            anchor_subject: i.anchor_subject.clone(),
            evidence: i.evidence.iter().filter_map(|c| code(c)).collect(),
        }),
        revocation: Vec::new(),
        views: None,
        ct: None,
    };
    TargetResult {
        observation,
        assessment,
    }
}

fn verdict(v: Verdict) -> analysis::Verdict {
    use analysis::Verdict as V;
    match v {
        Verdict::Pass => V::Pass,
        Verdict::Intercepted => V::Intercepted,
        Verdict::Untrusted => V::Untrusted,
        Verdict::Blocked => V::Blocked,
        Verdict::Timeout => V::Timeout,
        Verdict::DnsError => V::DnsError,
        Verdict::TlsError => V::TlsError,
        Verdict::ProxyError => V::ProxyError,
        Verdict::ProtocolError => V::ProtocolError,
        Verdict::Skipped => V::Skipped,
    }
}

fn cert(c: &Cert) -> chain::CertSummary {
    chain::CertSummary {
        subject: c.subject.clone(),
        issuer: c.issuer.clone(),
        serial: c.serial.clone(),
        not_before: c.not_before.clone(),
        not_after: c.not_after.clone(),
        sha256: c.sha256.clone(),
        spki_sha256: c.spki_sha256.clone(),
        parse_error: c.parse_error.clone(),
    }
}
