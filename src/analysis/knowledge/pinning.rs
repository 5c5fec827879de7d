//! Apple's pinning rules (`data/apple_pinning.toml`).

use fancy_regex::Regex;
use serde::Deserialize;

use super::{DataError, check_version, parse};

/// Apple's pinning database, plus services that pin in code.
#[derive(Debug)]
pub struct PinningDb {
    pub content_version: u32,
    pub policies: Vec<Policy>,
}

/// One named pinning policy: the hosts it covers and its alternative rule sets.
#[derive(Debug)]
pub struct Policy {
    pub name: String,
    /// Where the rule comes from (the database, or the code that pins).
    pub source: String,
    pub transparent_connection: bool,
    pub domains: Vec<Domain>,
    /// Alternatives: the chain must satisfy at least one.
    pub rules: Vec<RuleSet>,
}

/// A host pattern: the part after the first dot equals `suffix`; the first label matches the regex.
#[derive(Debug)]
pub struct Domain {
    pub suffix: String,
    pub label_regex: String,
    regex: Regex,
}

/// One alternative set of checks. Field meanings follow Apple's keys (docs/data-sources.md).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    #[serde(default)]
    pub anchor_apple: bool,
    #[serde(default)]
    pub anchor_sha256: Vec<String>,
    pub chain_length: Option<usize>,
    pub intermediate_marker_oid: Option<String>,
    pub intermediate_organization: Option<String>,
    pub intermediate_country: Option<String>,
    #[serde(default)]
    pub leaf_marker_oids: Vec<String>,
    #[serde(default)]
    pub leaf_markers_prod: Vec<String>,
    #[serde(default)]
    pub leaf_markers_qa: Vec<String>,
    pub subject_organization: Option<String>,
    pub certificate_policy: Option<String>,
    pub revocation: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PinningWire {
    version: u32,
    content_version: u32,
    #[serde(default)]
    policy: Vec<PolicyWire>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyWire {
    name: String,
    source: String,
    #[serde(default)]
    transparent_connection: bool,
    domains: Vec<DomainWire>,
    #[serde(default)]
    rule: Vec<RuleSet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainWire {
    suffix: String,
    label_regex: String,
}

const FILE: &str = "data/apple_pinning.toml";
const TEXT: &str = include_str!("../../../data/apple_pinning.toml");

impl PinningDb {
    /// The table embedded in the binary.
    pub(super) fn builtin() -> Result<Self, DataError> {
        Self::parse(TEXT)
    }

    fn parse(text: &str) -> Result<Self, DataError> {
        let wire: PinningWire = parse(FILE, text)?;
        check_version(FILE, wire.version, 1)?;
        let mut policies = Vec::with_capacity(wire.policy.len());
        for p in wire.policy {
            let mut domains = Vec::with_capacity(p.domains.len());
            for d in p.domains {
                // Apple compiles these case-insensitively and searches anywhere in the label.
                let regex = Regex::new(&format!("(?i){}", d.label_regex)).map_err(|e| {
                    DataError::entry(
                        FILE,
                        format_args!("policy {}", p.name),
                        format_args!("label_regex '{}': {e}", d.label_regex),
                    )
                })?;
                domains.push(Domain {
                    suffix: d.suffix.to_ascii_lowercase(),
                    label_regex: d.label_regex,
                    regex,
                });
            }
            policies.push(Policy {
                name: p.name,
                source: p.source,
                transparent_connection: p.transparent_connection,
                domains,
                rules: p.rule,
            });
        }
        Ok(Self {
            content_version: wire.content_version,
            policies,
        })
    }

    /// The policy Apple applies to a host name, if any. Like Apple's trust daemon: split at the
    /// first dot, compare the rest with each domain's suffix, and search the first label with its
    /// regex. The first matching policy wins.
    pub fn lookup(&self, host: &str) -> Option<&Policy> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let (label, suffix) = host.split_once('.')?;
        self.policies.iter().find(|p| {
            p.domains
                .iter()
                .any(|d| d.suffix == suffix && d.regex.is_match(label).unwrap_or(false))
        })
    }

    /// A policy by name (for evaluating a chain under a chosen policy).
    pub fn by_name(&self, name: &str) -> Option<&Policy> {
        self.policies
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }
}
