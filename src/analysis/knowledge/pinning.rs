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
    /// Compiled on first use: compiling every policy's regex took two thirds of start-up, and a run
    /// needs only those whose suffix some host has. The embedded patterns are checked by a test.
    regex: std::sync::OnceLock<Option<Regex>>,
}

impl Domain {
    fn compile(label_regex: &str) -> Result<Regex, fancy_regex::Error> {
        // Apple compiles these case-insensitively and searches anywhere in the label.
        Regex::new(&format!("(?i){label_regex}"))
    }

    /// Whether the host's first label matches; a pattern that does not compile matches nothing.
    fn matches(&self, label: &str) -> bool {
        self.regex
            .get_or_init(|| Self::compile(&self.label_regex).ok())
            .as_ref()
            .is_some_and(|r| r.is_match(label).unwrap_or(false))
    }
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
                domains.push(Domain {
                    suffix: d.suffix.to_ascii_lowercase(),
                    label_regex: d.label_regex,
                    regex: std::sync::OnceLock::new(),
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
                .any(|d| d.suffix == suffix && d.matches(label))
        })
    }

    /// Every domain pattern compiles: the error names the policy and the pattern. Start-up does not
    /// pay for this (patterns compile when first used); the embedded table's test does.
    #[cfg(test)]
    fn check_patterns(&self) -> Result<(), DataError> {
        for p in &self.policies {
            for d in &p.domains {
                Domain::compile(&d.label_regex).map_err(|e| {
                    DataError::entry(
                        FILE,
                        format_args!("policy {}", p.name),
                        format_args!("label_regex '{}': {e}", d.label_regex),
                    )
                })?;
            }
        }
        Ok(())
    }

    /// A policy by name (for evaluating a chain under a chosen policy).
    pub fn by_name(&self, name: &str) -> Option<&Policy> {
        self.policies
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_domain_pattern_compiles() {
        PinningDb::builtin().unwrap().check_patterns().unwrap();
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_named_and_matches_nothing() {
        let text = r#"
version = 1
content_version = 1
[[policy]]
name = "Broken"
source = "test"
transparent_connection = false
domains = [{ suffix = "example.com", label_regex = "(" }]
[[policy.rule]]
anchor_apple = true
"#;
        let db = PinningDb::parse(text).unwrap();
        let err = db.check_patterns().unwrap_err().to_string();
        assert!(
            err.contains("Broken") && err.contains("label_regex '('"),
            "{err}"
        );
        assert!(db.lookup("x.example.com").is_none());
    }

    #[test]
    fn lookups_match_apples_rules_after_lazy_compilation() {
        let db = PinningDb::builtin().unwrap();
        assert_eq!(
            db.lookup("gdmf.apple.com").map(|p| p.name.as_str()),
            Some("Pallas")
        );
        assert_eq!(
            db.lookup("GDMF.apple.com.").map(|p| p.name.as_str()),
            Some("Pallas")
        );
        assert!(db.lookup("x.gdmf.apple.com").is_none());
    }
}
