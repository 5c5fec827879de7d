//! Who publishes the sources catalog rows come from (`data/catalog_sources.toml`), as the
//! explanations name them.

use serde::Deserialize;

use super::{DataError, check_version, parse};

const FILE: &str = "data/catalog_sources.toml";
const TEXT: &str = include_str!("../../../data/catalog_sources.toml");

/// A publisher of catalog sources.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lister {
    /// As the explanation writes it ("Iru (Kandji)").
    pub name: String,
    /// A row whose source id starts with one of these is this publisher's.
    #[serde(default)]
    pub source_prefixes: Vec<String>,
    /// So is a row in one of these catalog sections.
    #[serde(default)]
    pub sections: Vec<String>,
}

/// The table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSources {
    version: u32,
    /// The publisher of a row no lister claims.
    pub default: String,
    #[serde(rename = "lister", default)]
    pub listers: Vec<Lister>,
}

impl CatalogSources {
    /// The table embedded in the binary.
    pub(super) fn builtin() -> Result<Self, DataError> {
        Self::parse(TEXT)
    }

    fn parse(text: &str) -> Result<Self, DataError> {
        let table: Self = parse(FILE, text)?;
        check_version(FILE, table.version, 1)?;
        if table.default.trim().is_empty() {
            return Err(DataError {
                file: FILE,
                message: "'default' is empty".into(),
            });
        }
        for l in &table.listers {
            let entry = format!("lister '{}'", l.name);
            if l.name.trim().is_empty() {
                return Err(DataError::entry(FILE, &entry, "'name' is empty"));
            }
            if l.source_prefixes.is_empty() && l.sections.is_empty() {
                return Err(DataError::entry(
                    FILE,
                    entry,
                    "neither source_prefixes nor sections: it would claim no row",
                ));
            }
            if l.source_prefixes
                .iter()
                .chain(&l.sections)
                .any(|s| s.trim().is_empty())
            {
                return Err(DataError::entry(
                    FILE,
                    entry,
                    "an empty source prefix or section",
                ));
            }
        }
        Ok(table)
    }

    /// Who lists a row of this source and section.
    pub fn lister(&self, source: &str, section: &str) -> &str {
        self.listers
            .iter()
            .find(|l| {
                l.source_prefixes
                    .iter()
                    .any(|p| source.starts_with(p.as_str()))
                    || l.sections.iter().any(|s| s == section)
            })
            .map_or(self.default.as_str(), |l| l.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_attributed_as_before() {
        let table = CatalogSources::builtin();
        assert!(table.is_ok(), "{:?}", table.err());
        let Ok(table) = table else { return };
        assert_eq!(
            table.lister("iru-network", "device-management"),
            "Iru (Kandji)"
        );
        assert_eq!(table.lister("apple-enterprise", "kandji"), "Iru (Kandji)");
        assert_eq!(
            table.lister("apns-networking", "apns"),
            "the APNs networking note"
        );
        assert_eq!(table.lister("apple-enterprise", "device-setup"), "Apple");
        assert_eq!(table.lister("my-notes", "custom"), "Apple");
    }

    #[test]
    fn a_lister_that_claims_nothing_is_named() {
        let text = "version = 1\ndefault = \"Apple\"\n[[lister]]\nname = \"Nobody\"\n";
        let err = CatalogSources::parse(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            err,
            "data/catalog_sources.toml: lister 'Nobody': neither source_prefixes nor sections: it would claim no row"
        );
    }
}
