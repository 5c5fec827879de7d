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

const PRODUCTS_FILE: &str = "data/interception_products.toml";

/// An SSL-inspection product (or a tool or adware that behaves like one).
#[derive(Clone, Debug)]
pub struct Product {
    pub name: String,
    pub kind: String,
    /// Default CA names, each matched against a CA's CN and, separately, each of its O values as
    /// whole words (see [`Products::identify`]).
    pub names: Vec<String>,
    /// A regex the whole CN of an appliance's default CA matches (e.g. a unit's serial number).
    pub cn_regex: Option<String>,
    /// Required with `cn_regex` when set: an O value of the same CA must carry these words.
    pub cn_regex_org: Option<String>,
    pub spki_sha256: Vec<String>,
    /// Where the default names (or keys) come from.
    pub source: String,
    pub note: Option<String>,
    /// `names`, each split into lower-case words.
    name_words: Vec<Vec<String>>,
    /// `cn_regex`, anchored at both ends.
    cn_matcher: Option<Regex>,
    /// `cn_regex_org`, split into lower-case words.
    org_words: Option<Vec<String>>,
}

/// The interception products pinscope can name.
#[derive(Debug)]
pub struct Products {
    pub products: Vec<Product>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductsWire {
    version: u32,
    product: Vec<ProductWire>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductWire {
    name: String,
    kind: String,
    #[serde(default)]
    names: Vec<String>,
    cn_regex: Option<String>,
    cn_regex_org: Option<String>,
    #[serde(default)]
    spki_sha256: Vec<String>,
    source: String,
    note: Option<String>,
}

/// How a product was recognised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProductMatch {
    /// A CA in the chain has the product's key.
    Key { ca: String },
    /// A CA in the chain, or the issuer named by the top certificate, carries the product's name:
    /// `ca` is the CN or O value that matched, `pattern` the default name (or CN rule) it matched.
    Name { ca: String, pattern: String },
}

/// A CA's names as products are matched on: its CN and its O values, kept apart. For the issuer a
/// chain names but does not present, this is all pinscope knows of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaNames<'a> {
    /// The common name; `None` when the name has no CN.
    pub cn: Option<&'a str>,
    /// The organisation values, in order.
    pub org: &'a [String],
}

impl<'a> CaNames<'a> {
    /// The subject's names of a certificate.
    pub fn subject_of(cert: &'a CertFacts) -> Self {
        Self {
            cn: real_cn(&cert.subject_cn, &cert.summary.subject),
            org: &cert.subject_o,
        }
    }

    /// The names a certificate gives its issuer.
    pub fn issuer_of(cert: &'a CertFacts) -> Self {
        Self {
            cn: real_cn(&cert.issuer_cn, &cert.summary.issuer),
            org: &cert.issuer_o,
        }
    }
}

/// `CertFacts` falls back to the whole DN when a name has no CN (so people see something);
/// product names are never matched against a whole DN, so that fallback counts as no CN.
fn real_cn<'a>(cn: &'a str, dn: &str) -> Option<&'a str> {
    (!cn.is_empty() && cn != dn).then_some(cn)
}

/// The alphanumeric runs of `s`, lower-cased: what whole-word matching compares.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether the words of `pattern` occur in `value`, in sequence and as whole words.
fn has_words(value: &[String], pattern: &[String]) -> bool {
    !pattern.is_empty() && value.windows(pattern.len()).any(|w| w == pattern)
}

fn product_error(product: &str, message: String) -> DataError {
    DataError {
        file: PRODUCTS_FILE,
        message: format!("product {product}: {message}"),
    }
}

impl Product {
    fn from_wire(w: ProductWire) -> Result<Self, DataError> {
        let err = |message: String| product_error(&w.name, message);
        if w.source.trim().is_empty() {
            return Err(err("'source' is empty".into()));
        }
        let mut name_words = Vec::with_capacity(w.names.len());
        for n in &w.names {
            let ws = words(n);
            if ws.is_empty() {
                return Err(err(format!("name pattern '{n}' has no letters or digits")));
            }
            name_words.push(ws);
        }
        let cn_matcher = match &w.cn_regex {
            Some(re) => Some(
                Regex::new(&format!("^(?:{re})$"))
                    .map_err(|e| err(format!("cn_regex '{re}': {e}")))?,
            ),
            None => None,
        };
        let org_words = match (&w.cn_regex_org, &w.cn_regex) {
            (Some(_), None) => return Err(err("cn_regex_org is set without cn_regex".into())),
            (Some(org), Some(_)) => {
                let ws = words(org);
                if ws.is_empty() {
                    return Err(err(format!(
                        "cn_regex_org '{org}' has no letters or digits"
                    )));
                }
                Some(ws)
            }
            (None, _) => None,
        };
        if let Some(bad) = w
            .spki_sha256
            .iter()
            .find(|k| k.len() != 64 || !k.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        {
            return Err(err(format!(
                "spki_sha256 '{bad}' is not 64 lower-case hex digits"
            )));
        }
        if w.names.is_empty() && w.cn_regex.is_none() && w.spki_sha256.is_empty() {
            return Err(err(
                "no names, cn_regex or spki_sha256 to recognise it by".into()
            ));
        }
        Ok(Self {
            name: w.name,
            kind: w.kind,
            names: w.names,
            cn_regex: w.cn_regex,
            cn_regex_org: w.cn_regex_org,
            spki_sha256: w.spki_sha256,
            source: w.source,
            note: w.note,
            name_words,
            cn_matcher,
            org_words,
        })
    }

    /// The default name this CA carries, if any: (the CN or O value that matched, the pattern).
    fn name_match(&self, ca: &CaNames<'_>) -> Option<ProductMatch> {
        let values = ca.cn.into_iter().chain(ca.org.iter().map(String::as_str));
        for value in values {
            let value_words = words(value);
            if let Some((pattern, _)) = self
                .names
                .iter()
                .zip(&self.name_words)
                .find(|(_, p)| has_words(&value_words, p))
            {
                return Some(ProductMatch::Name {
                    ca: value.to_owned(),
                    pattern: pattern.clone(),
                });
            }
        }
        let (matcher, cn) = (self.cn_matcher.as_ref()?, ca.cn?);
        // A regex that fails at run time (backtracking limit) is no match.
        if !matcher.is_match(cn).unwrap_or(false) {
            return None;
        }
        let pattern = match (&self.org_words, &self.cn_regex_org) {
            (Some(org_words), Some(org)) => {
                if !ca.org.iter().any(|o| has_words(&words(o), org_words)) {
                    return None;
                }
                format!(
                    "CN matching /{}/ under O={org}",
                    self.cn_regex.as_deref().unwrap_or("")
                )
            }
            _ => format!("CN matching /{}/", self.cn_regex.as_deref().unwrap_or("")),
        };
        Some(ProductMatch::Name {
            ca: cn.to_owned(),
            pattern,
        })
    }
}

impl Products {
    fn parse(text: &str) -> Result<Self, DataError> {
        let wire: ProductsWire = parse(PRODUCTS_FILE, text)?;
        if wire.version != 2 {
            return Err(DataError {
                file: PRODUCTS_FILE,
                message: format!("unsupported version {}", wire.version),
            });
        }
        let products = wire
            .product
            .into_iter()
            .map(Product::from_wire)
            .collect::<Result<_, _>>()?;
        Ok(Self { products })
    }

    /// Names the product behind a chain. `cas` are the CA certificates presented, from the leaf's
    /// issuer up; `unsent_issuer` the names of the issuer the top certificate names but the chain
    /// does not carry (`None` when the top certificate is self-issued).
    ///
    /// Keys are checked first, in every presented CA: a key cannot be copied. Then names, CA by CA
    /// (the unsent issuer last): a product's default name matches a CA's CN, or one of its O
    /// values, when the pattern's words occur in it in sequence as whole words (case-insensitive,
    /// bounded by anything that is not a letter or digit), so "Sophos" names "Sophos_SSL_CA" but
    /// not "Philosophos Internal CA"; CN and O are compared separately, never the whole DN. An
    /// appliance's default CA is matched by `cn_regex` on the whole CN, with an O carrying
    /// `cn_regex_org` when that is set.
    pub fn identify<'a>(
        &'a self,
        cas: &[&CertFacts],
        unsent_issuer: Option<CaNames<'_>>,
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
        cas.iter()
            .map(|c| CaNames::subject_of(c))
            .chain(unsent_issuer)
            .find_map(|names| {
                self.products
                    .iter()
                    .find_map(|p| p.name_match(&names).map(|m| (p, m)))
            })
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

// Tests of the interception-products table (kept last, after every item of the module).
#[cfg(test)]
mod product_tests {
    use super::*;

    const HEADER: &str = "version = 2\n";

    fn product(body: &str) -> String {
        format!(
            "{HEADER}[[product]]\nname = \"Lab Box\"\nkind = \"firewall\"\nsource = \"test\"\n{body}"
        )
    }

    #[test]
    fn builtin_products_load() {
        let products = Products::parse(PRODUCTS).expect("built-in products parse");
        assert!(
            products
                .products
                .iter()
                .all(|p| !p.source.trim().is_empty())
        );
    }

    #[test]
    fn a_bad_cn_regex_names_the_product() {
        let err = Products::parse(&product("cn_regex = \"FG[0-9\"\ncn_regex_org = \"Lab\"\n"))
            .expect_err("an unclosed class does not compile");
        assert_eq!(err.file, PRODUCTS_FILE);
        assert!(err.message.contains("product Lab Box"), "{err}");
        assert!(err.message.contains("cn_regex"), "{err}");
    }

    #[test]
    fn cn_regex_org_needs_cn_regex() {
        let err = Products::parse(&product("cn_regex_org = \"Lab\"\n"))
            .expect_err("an O rule with no CN rule");
        assert!(err.message.contains("product Lab Box"), "{err}");
    }

    #[test]
    fn source_is_required() {
        let text = format!(
            "{HEADER}[[product]]\nname = \"Lab Box\"\nkind = \"firewall\"\nnames = [\"Lab Box CA\"]\n"
        );
        let err = Products::parse(&text).expect_err("no source");
        assert!(err.message.contains("source"), "{err}");
    }

    #[test]
    fn unknown_fields_and_versions_are_refused() {
        assert!(Products::parse(&product("names = [\"x\"]\nnames_regex = \"x\"\n")).is_err());
        let old = product("names = [\"Lab Box CA\"]\n").replace("version = 2", "version = 1");
        assert!(Products::parse(&old).is_err());
    }

    #[test]
    fn a_pattern_without_words_is_refused() {
        let err = Products::parse(&product("names = [\"--\"]\n")).expect_err("no words");
        assert!(err.message.contains("product Lab Box"), "{err}");
    }

    #[test]
    fn whole_words_in_sequence() {
        let p = |s: &str| words(s);
        assert!(has_words(&p("Sophos SSL CA_C123"), &p("Sophos")));
        assert!(has_words(&p("Sophos_SSL_CA"), &p("Sophos SSL CA")));
        assert!(!has_words(&p("Philosophos Internal CA"), &p("Sophos")));
        assert!(!has_words(&p("Sophosticated"), &p("Sophos")));
        assert!(has_words(
            &p("avast! Web/Mail Shield Root"),
            &p("Avast Web/Mail Shield")
        ));
        assert!(!has_words(&p("SSL CA Sophos"), &p("Sophos SSL CA")));
    }
}
