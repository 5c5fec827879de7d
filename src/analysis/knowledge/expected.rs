//! The CA families expected per catalog section (`data/expected_issuers.toml`).

use serde::Deserialize;

use super::{DataError, check_version, parse};
use crate::catalog::glob_match;

const FILE: &str = "data/expected_issuers.toml";
const TEXT: &str = include_str!("../../../data/expected_issuers.toml");

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    pub id: String,
    pub title: String,
    pub names: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    pub section: String,
    #[serde(default)]
    pub hosts: Vec<String>,
    pub families: Vec<String>,
    pub note: Option<String>,
}

#[derive(Debug)]
pub struct ExpectedIssuers {
    pub families: Vec<Family>,
    pub rules: Vec<Expectation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedWire {
    version: u32,
    family: Vec<Family>,
    expect: Vec<Expectation>,
}

impl ExpectedIssuers {
    /// The table embedded in the binary.
    pub(super) fn builtin() -> Result<Self, DataError> {
        Self::parse(TEXT)
    }

    fn parse(text: &str) -> Result<Self, DataError> {
        let wire: ExpectedWire = parse(FILE, text)?;
        check_version(FILE, wire.version, 1)?;
        for rule in &wire.expect {
            if let Some(missing) = rule
                .families
                .iter()
                .find(|f| !wire.family.iter().any(|fam| &fam.id == *f))
            {
                return Err(DataError::entry(
                    FILE,
                    format_args!("expect rule for '{}'", rule.section),
                    format_args!("names unknown family '{missing}'"),
                ));
            }
        }
        Ok(Self {
            families: wire.family,
            rules: wire.expect,
        })
    }

    /// The most specific rule for a host: one naming the host (in its section or any), then the
    /// section's own rule, then the default (`*`).
    pub fn rule_for(&self, host: &str, section: Option<&str>) -> Option<&Expectation> {
        let in_section = |r: &&Expectation| r.section == "*" || Some(r.section.as_str()) == section;
        self.rules
            .iter()
            .filter(in_section)
            .find(|r| r.hosts.iter().any(|h| glob_match(h, host)))
            .or_else(|| {
                self.rules
                    .iter()
                    .find(|r| r.hosts.is_empty() && Some(r.section.as_str()) == section)
            })
            .or_else(|| {
                self.rules
                    .iter()
                    .find(|r| r.hosts.is_empty() && r.section == "*")
            })
    }

    /// Whether any of the CA names belongs to one of the rule's families.
    pub fn matches<'a>(
        &self,
        rule: &Expectation,
        mut ca_names: impl Iterator<Item = &'a str>,
    ) -> bool {
        let patterns: Vec<String> = self
            .families
            .iter()
            .filter(|f| rule.families.contains(&f.id))
            .flat_map(|f| f.names.iter().map(|n| n.to_ascii_lowercase()))
            .collect();
        ca_names.any(|name| {
            let lower = name.to_ascii_lowercase();
            patterns.iter().any(|p| lower.contains(p.as_str()))
        })
    }

    pub fn family_titles(&self, rule: &Expectation) -> Vec<&str> {
        self.families
            .iter()
            .filter(|f| rule.families.contains(&f.id))
            .map(|f| f.title.as_str())
            .collect()
    }
}
