//! The facts the verdict engine reasons with, loaded from the data files embedded in the binary:
//! Apple's pinning rules (`data/apple_pinning.toml`), known CA keys (`data/apple_cas.toml`),
//! interception products (`data/interception_products.toml`) and the CA families expected per
//! catalog section (`data/expected_issuers.toml`). See docs/data-sources.md for their provenance.

use std::collections::HashSet;

use fancy_regex::Regex;
use serde::Deserialize;

use super::chain::CertFacts;
use crate::catalog::glob_match;

const PINNING: &str = include_str!("../../data/apple_pinning.toml");
const CAS: &str = include_str!("../../data/apple_cas.toml");
const PRODUCTS: &str = include_str!("../../data/interception_products.toml");
const EXPECTED: &str = include_str!("../../data/expected_issuers.toml");

/// A data file that could not be read. Built-in data is checked by the tests, so this surfaces
/// only for a broken build.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct DataError {
    pub file: &'static str,
    pub message: String,
}

/// Everything the engine knows beyond the chain itself.
#[derive(Debug)]
pub struct Knowledge {
    pub pinning: PinningDb,
    pub cas: KnownCas,
    pub products: Products,
    pub expected: ExpectedIssuers,
}

impl Knowledge {
    pub fn builtin() -> Result<Self, DataError> {
        Ok(Self {
            pinning: PinningDb::parse(PINNING)?,
            cas: KnownCas::parse(CAS)?,
            products: Products::parse(PRODUCTS)?,
            expected: ExpectedIssuers::parse(EXPECTED)?,
        })
    }
}

fn parse<T: for<'de> Deserialize<'de>>(file: &'static str, text: &str) -> Result<T, DataError> {
    toml::from_str(text).map_err(|e| DataError {
        file,
        message: e.message().to_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// Apple's pinning rules

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

const PINNING_FILE: &str = "data/apple_pinning.toml";

impl PinningDb {
    fn parse(text: &str) -> Result<Self, DataError> {
        let wire: PinningWire = parse(PINNING_FILE, text)?;
        if wire.version != 1 {
            return Err(DataError {
                file: PINNING_FILE,
                message: format!("unsupported version {}", wire.version),
            });
        }
        let mut policies = Vec::with_capacity(wire.policy.len());
        for p in wire.policy {
            let mut domains = Vec::with_capacity(p.domains.len());
            for d in p.domains {
                // Apple compiles these case-insensitively and searches anywhere in the label.
                let regex =
                    Regex::new(&format!("(?i){}", d.label_regex)).map_err(|e| DataError {
                        file: PINNING_FILE,
                        message: format!("policy {}: label_regex '{}': {e}", p.name, d.label_regex),
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

// ---------------------------------------------------------------------------------------------
// Known CA keys

/// Whether a known CA is a root or an intermediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaKind {
    Root,
    Intermediate,
}

/// Who operates a known CA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operator {
    Apple,
    Public,
}

/// A CA identified by its key.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownCa {
    pub name: String,
    pub kind: CaKind,
    pub operator: Operator,
    pub spki_sha256: Option<String>,
    #[serde(default)]
    pub cert_sha256: Vec<String>,
    #[serde(default)]
    pub apple_root: bool,
    #[serde(default)]
    pub trusted_by_apple: bool,
    #[serde(default)]
    pub issuers: Vec<String>,
    #[serde(default)]
    pub intermediate_marker: bool,
    pub source: String,
}

/// The table of known CA keys.
#[derive(Debug)]
pub struct KnownCas {
    pub cas: Vec<KnownCa>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CasWire {
    version: u32,
    ca: Vec<KnownCa>,
}

impl KnownCas {
    fn parse(text: &str) -> Result<Self, DataError> {
        let wire: CasWire = parse("data/apple_cas.toml", text)?;
        if wire.version != 1 {
            return Err(DataError {
                file: "data/apple_cas.toml",
                message: format!("unsupported version {}", wire.version),
            });
        }
        Ok(Self { cas: wire.ca })
    }

    pub fn by_spki(&self, spki_sha256: &str) -> Option<&KnownCa> {
        self.cas
            .iter()
            .find(|c| c.spki_sha256.as_deref() == Some(spki_sha256))
    }

    /// Known CAs whose name is this (case-insensitive).
    pub fn by_name<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a KnownCa> + 'a {
        self.cas
            .iter()
            .filter(move |c| c.name.eq_ignore_ascii_case(name))
    }

    /// A key that may anchor a device's trust decision when it appears in a presented chain:
    /// Apple's own CAs, and the roots Apple's trust store holds.
    pub fn is_trusted_key(&self, spki_sha256: &str) -> bool {
        self.by_spki(spki_sha256).is_some_and(|c| {
            c.operator == Operator::Apple || (c.kind == CaKind::Root && c.trusted_by_apple)
        })
    }

    pub fn is_apple_root(&self, spki_sha256: &str) -> bool {
        self.by_spki(spki_sha256).is_some_and(|c| c.apple_root)
    }

    /// The keys of the certificates whose SHA-256 figures are listed (Apple's AnchorSHA256 names
    /// anchor certificates; a trust store may hold the same key in another certificate).
    pub fn spkis_for_certs(&self, cert_sha256: &[String]) -> HashSet<&str> {
        self.cas
            .iter()
            .filter(|c| c.cert_sha256.iter().any(|h| cert_sha256.contains(h)))
            .filter_map(|c| c.spki_sha256.as_deref())
            .collect()
    }

    /// Names of the CAs whose certificates are listed.
    pub fn names_for_certs(&self, cert_sha256: &[String]) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .cas
            .iter()
            .filter(|c| c.cert_sha256.iter().any(|h| cert_sha256.contains(h)))
            .map(|c| c.name.as_str())
            .collect();
        names.dedup();
        names
    }
}

// ---------------------------------------------------------------------------------------------
// Interception products

/// An SSL-inspection product (or a tool or adware that behaves like one).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub name: String,
    pub kind: String,
    /// Case-insensitive substrings of a CA's CN or O.
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub spki_sha256: Vec<String>,
    pub note: Option<String>,
}

#[derive(Debug)]
pub struct Products {
    pub products: Vec<Product>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductsWire {
    version: u32,
    product: Vec<Product>,
}

/// How a product was recognised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProductMatch {
    /// A CA in the chain has the product's key.
    Key { ca: String },
    /// A CA in the chain, or the issuer named by the top certificate, carries the product's name.
    Name { ca: String, pattern: String },
}

impl Products {
    fn parse(text: &str) -> Result<Self, DataError> {
        let wire: ProductsWire = parse("data/interception_products.toml", text)?;
        if wire.version != 1 {
            return Err(DataError {
                file: "data/interception_products.toml",
                message: format!("unsupported version {}", wire.version),
            });
        }
        Ok(Self {
            products: wire.product,
        })
    }

    /// Names the product behind a chain. Keys are checked before names: a key cannot be copied.
    /// `cas` are the CA certificates presented; `issuer_names` the CN/O of issuers named but not
    /// presented.
    pub fn identify<'a>(
        &'a self,
        cas: &[&CertFacts],
        issuer_names: &[&str],
    ) -> Option<(&'a Product, ProductMatch)> {
        for ca in cas {
            if let Some(p) = self
                .products
                .iter()
                .find(|p| p.spki_sha256.contains(&ca.summary.spki_sha256))
            {
                return Some((
                    p,
                    ProductMatch::Key {
                        ca: ca.subject_cn.clone(),
                    },
                ));
            }
        }
        let candidates = cas
            .iter()
            .flat_map(|c| c.names())
            .chain(issuer_names.iter().copied());
        for name in candidates {
            let lower = name.to_ascii_lowercase();
            for p in &self.products {
                if let Some(pattern) = p
                    .names
                    .iter()
                    .find(|pat| lower.contains(&pat.to_ascii_lowercase()))
                {
                    return Some((
                        p,
                        ProductMatch::Name {
                            ca: name.to_owned(),
                            pattern: pattern.clone(),
                        },
                    ));
                }
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Expected issuers

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
    fn parse(text: &str) -> Result<Self, DataError> {
        let file = "data/expected_issuers.toml";
        let wire: ExpectedWire = parse(file, text)?;
        if wire.version != 1 {
            return Err(DataError {
                file,
                message: format!("unsupported version {}", wire.version),
            });
        }
        for rule in &wire.expect {
            if let Some(missing) = rule
                .families
                .iter()
                .find(|f| !wire.family.iter().any(|fam| &fam.id == *f))
            {
                return Err(DataError {
                    file,
                    message: format!(
                        "expect rule for '{}' names unknown family '{missing}'",
                        rule.section
                    ),
                });
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
