//! Interception products (`data/interception_products.toml`).

use fancy_regex::Regex;
use serde::Deserialize;

use super::{DataError, check_version, parse};
use crate::analysis::chain::CertFacts;

const FILE: &str = "data/interception_products.toml";
const TEXT: &str = include_str!("../../../data/interception_products.toml");

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
    DataError::entry(FILE, format_args!("product {product}"), message)
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
    /// The table embedded in the binary.
    pub(super) fn builtin() -> Result<Self, DataError> {
        Self::parse(TEXT)
    }

    fn parse(text: &str) -> Result<Self, DataError> {
        let wire: ProductsWire = parse(FILE, text)?;
        check_version(FILE, wire.version, 2)?;
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
        let products = Products::parse(TEXT).expect("built-in products parse");
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
        assert_eq!(err.file, FILE);
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
