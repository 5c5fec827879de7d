//! Apple's pinning rules applied to a chain, check by check, so a report can say exactly which
//! requirement a presented chain fails.

use serde::Serialize;

use super::chain::CertFacts;
use super::knowledge::{KnownCas, Policy, RuleSet};

/// A chain as a device would evaluate it: leaf first, then the intermediates in path order, then
/// the anchor's certificate when one is at hand.
#[derive(Debug)]
pub struct PathView {
    pub certs: Vec<CertFacts>,
    pub anchor: AnchorView,
    /// Certificates in the chain including the anchor, as Apple's ChainLength counts them.
    pub length: usize,
}

/// What the chain is anchored at.
#[derive(Clone, Debug, Default)]
pub struct AnchorView {
    pub name: String,
    pub spki_sha256: Option<String>,
    pub cert_sha256: Option<String>,
}

/// The outcome of a pinning policy for one chain (JSON `apple_pinning`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PinningResult {
    pub policy: String,
    pub source: String,
    pub satisfied: bool,
    pub rule_results: Vec<RuleResult>,
}

/// One alternative rule set and what it found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleResult {
    /// The rule set in words, numbered from 1.
    pub rule: String,
    pub passed: bool,
    pub failed_checks: Vec<String>,
}

impl PinningResult {
    /// The first requirement the chain fails, from the rule set that came closest.
    pub fn closest_failure(&self) -> Option<&str> {
        self.rule_results
            .iter()
            .filter(|r| !r.passed)
            .min_by_key(|r| r.failed_checks.len())
            .and_then(|r| r.failed_checks.first())
            .map(String::as_str)
    }

    /// What the policy demands, in words, from its first rule set.
    pub fn demand(policy: &Policy) -> String {
        let Some(rule) = policy.rules.first() else {
            return "a pinned chain".into();
        };
        let mut parts = Vec::new();
        if rule.anchor_apple {
            parts.push("Apple Root CA".to_owned());
        } else if !rule.anchor_sha256.is_empty() {
            parts.push("a few named public roots".to_owned());
        }
        if rule.intermediate_marker_oid.is_some() {
            parts.push("with an Apple-marked intermediate".to_owned());
        } else if rule.intermediate_organization.is_some() {
            parts.push("with an Apple Inc. intermediate".to_owned());
        }
        if parts.is_empty() {
            "specific certificate properties".into()
        } else {
            parts.join(" ")
        }
    }
}

/// Evaluates every rule set of the policy against the path.
pub fn evaluate(policy: &Policy, path: &PathView, cas: &KnownCas) -> PinningResult {
    let rule_results: Vec<RuleResult> = policy
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let failed_checks = check_rule(rule, path, cas);
            RuleResult {
                rule: format!("{}: {}", i + 1, describe(rule, cas)),
                passed: failed_checks.is_empty(),
                failed_checks,
            }
        })
        .collect();
    PinningResult {
        policy: policy.name.clone(),
        source: policy.source.clone(),
        satisfied: rule_results.iter().any(|r| r.passed),
        rule_results,
    }
}

fn describe(rule: &RuleSet, cas: &KnownCas) -> String {
    let mut parts = Vec::new();
    if rule.anchor_apple {
        parts.push("anchor is an Apple root".to_owned());
    }
    if !rule.anchor_sha256.is_empty() {
        let names = cas.names_for_certs(&rule.anchor_sha256);
        parts.push(format!("anchor is one of {}", names.join(", ")));
    }
    if let Some(n) = rule.chain_length {
        parts.push(format!("{n} certificates"));
    }
    if let Some(oid) = &rule.intermediate_marker_oid {
        parts.push(format!("intermediate marker {oid}"));
    }
    if let Some(o) = &rule.intermediate_organization {
        parts.push(format!("intermediate O={o}"));
    }
    if let Some(c) = &rule.intermediate_country {
        parts.push(format!("intermediate C={c}"));
    }
    if !rule.leaf_marker_oids.is_empty() {
        parts.push(format!(
            "leaf marker {}",
            first_plain(&rule.leaf_marker_oids)
        ));
    }
    if !rule.leaf_markers_prod.is_empty() {
        parts.push(format!(
            "leaf marker {}",
            first_plain(&rule.leaf_markers_prod)
        ));
    }
    if let Some(o) = &rule.subject_organization {
        parts.push(format!("leaf O={o}"));
    }
    if let Some(p) = &rule.certificate_policy {
        parts.push(format!("leaf policy {p}"));
    }
    parts.join(", ")
}

/// The plain-OID form of a marker list, for messages.
fn first_plain(markers: &[String]) -> &str {
    markers
        .iter()
        .find(|m| !m.contains('='))
        .or(markers.first())
        .map_or("", String::as_str)
}

fn check_rule(rule: &RuleSet, path: &PathView, cas: &KnownCas) -> Vec<String> {
    let mut failed = Vec::new();
    let anchor = &path.anchor;
    let anchor_spki = anchor.spki_sha256.as_deref().unwrap_or("");
    let anchor_name = &anchor.name;

    if rule.anchor_apple && !cas.is_apple_root(anchor_spki) {
        failed.push(format!(
            "anchor: the chain ends at '{anchor_name}', not at an Apple root CA"
        ));
    }
    if !rule.anchor_sha256.is_empty() {
        let allowed_keys = cas.spkis_for_certs(&rule.anchor_sha256);
        let by_cert = anchor
            .cert_sha256
            .as_ref()
            .is_some_and(|h| rule.anchor_sha256.contains(h));
        let by_key = allowed_keys.contains(anchor_spki);
        if !(by_cert || by_key) {
            failed.push(format!(
                "anchor: '{anchor_name}' is not one of the allowed roots ({})",
                cas.names_for_certs(&rule.anchor_sha256).join(", ")
            ));
        }
    }
    if let Some(n) = rule.chain_length
        && path.length != n
    {
        failed.push(format!(
            "chain length: {} certificates, the rule requires {n}",
            path.length
        ));
    }
    let intermediate = path.certs.get(1);
    if let Some(oid) = &rule.intermediate_marker_oid {
        match intermediate {
            Some(i) if i.has_marker(oid) => {}
            Some(i) => failed.push(format!(
                "intermediate '{}' lacks Apple's intermediate marker {oid}",
                i.subject_cn
            )),
            None => failed.push(format!("no intermediate to carry the marker {oid}")),
        }
    }
    if let Some(o) = &rule.intermediate_organization {
        match intermediate {
            Some(i) if i.subject_o.iter().any(|x| x == o) => {}
            Some(i) => failed.push(format!(
                "intermediate '{}' is not issued to O={o}",
                i.subject_cn
            )),
            None => failed.push(format!("no intermediate with O={o}")),
        }
    }
    if let Some(c) = &rule.intermediate_country {
        match intermediate {
            Some(i) if i.subject_c.iter().any(|x| x == c) => {}
            Some(i) => failed.push(format!("intermediate '{}' is not C={c}", i.subject_cn)),
            None => failed.push(format!("no intermediate with C={c}")),
        }
    }
    let leaf = path.certs.first();
    let leaf_has_any =
        |markers: &[String]| leaf.is_some_and(|l| markers.iter().any(|m| l.has_marker(m)));
    if !rule.leaf_marker_oids.is_empty() && !leaf_has_any(&rule.leaf_marker_oids) {
        failed.push(format!(
            "leaf lacks the service marker {}",
            first_plain(&rule.leaf_marker_oids)
        ));
    }
    if !rule.leaf_markers_prod.is_empty() && !leaf_has_any(&rule.leaf_markers_prod) {
        // Apple accepts QA markers only on internal builds; production devices require the
        // production marker.
        if leaf_has_any(&rule.leaf_markers_qa) {
            failed.push(format!(
                "leaf carries only the QA marker; production devices require {}",
                first_plain(&rule.leaf_markers_prod)
            ));
        } else {
            failed.push(format!(
                "leaf lacks the service marker {}",
                first_plain(&rule.leaf_markers_prod)
            ));
        }
    }
    if let Some(o) = &rule.subject_organization
        && !leaf.is_some_and(|l| l.subject_o.iter().any(|x| x == o))
    {
        failed.push(format!("leaf is not issued to O={o}"));
    }
    if let Some(p) = &rule.certificate_policy
        && !leaf.is_some_and(|l| l.policies.iter().any(|x| x == p))
    {
        failed.push(format!("leaf lacks certificate policy {p}"));
    }
    failed
}
