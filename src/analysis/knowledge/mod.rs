//! The facts the verdict engine reasons with, loaded from the data files embedded in the binary
//! and checked as they load: Apple's pinning rules (`data/apple_pinning.toml`), known CA keys
//! (`data/apple_cas.toml`), interception products (`data/interception_products.toml`), the CA
//! families expected per catalog section (`data/expected_issuers.toml`), the signs of proxies and
//! the NTP kiss codes the service checks read (`data/service_signs.toml`), and who publishes each
//! catalog source (`data/catalog_sources.toml`). See docs/data-sources.md for their provenance.
//! Each table has its own module; a [`DataError`] names the file and the entry that is wrong.

mod cas;
mod expected;
mod pinning;
mod products;
mod services;
mod sources;

use serde::Deserialize;

pub use cas::{CaKind, KnownCa, KnownCas, Operator};
pub use expected::{Expectation, ExpectedIssuers, Family};
pub use pinning::{Domain, PinningDb, Policy, RuleSet};
pub use products::{CaNames, Product, ProductMatch, Products};
pub use services::{KissCode, ProxyHeader, ProxyServer, ServiceSigns};
pub use sources::{CatalogSources, Lister};

/// A data file that could not be read. Built-in data is checked by the tests, so this surfaces
/// only for a broken build.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct DataError {
    pub file: &'static str,
    /// What is wrong, starting with the entry it is in ("product Lab Box: …") where there is one.
    pub message: String,
}

impl DataError {
    /// An error in one entry of a table, e.g. `entry` = "product Lab Box".
    fn entry(
        file: &'static str,
        entry: impl std::fmt::Display,
        message: impl std::fmt::Display,
    ) -> Self {
        Self {
            file,
            message: format!("{entry}: {message}"),
        }
    }
}

/// Everything the engine knows beyond the chain itself.
#[derive(Debug)]
pub struct Knowledge {
    pub pinning: PinningDb,
    pub cas: KnownCas,
    pub products: Products,
    pub expected: ExpectedIssuers,
    /// What marks a proxy in an HTTP answer, and what NTP kiss codes mean.
    pub services: ServiceSigns,
    /// Who publishes each catalog source, as explanations name them.
    pub sources: CatalogSources,
}

impl Knowledge {
    pub fn builtin() -> Result<Self, DataError> {
        Ok(Self {
            pinning: PinningDb::builtin()?,
            cas: KnownCas::builtin()?,
            products: Products::builtin()?,
            expected: ExpectedIssuers::builtin()?,
            services: ServiceSigns::builtin()?,
            sources: CatalogSources::builtin()?,
        })
    }
}

/// Reads one TOML table; a syntax or shape error names the line it is on.
fn parse<T: for<'de> Deserialize<'de>>(file: &'static str, text: &str) -> Result<T, DataError> {
    toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        DataError {
            file,
            message: match line {
                Some(line) => format!("line {line}: {}", e.message()),
                None => e.message().to_owned(),
            },
        }
    })
}

/// Every table carries a format version; a file of another version is refused.
fn check_version(file: &'static str, got: u32, supported: u32) -> Result<(), DataError> {
    if got == supported {
        Ok(())
    } else {
        Err(DataError {
            file,
            message: format!("unsupported version {got}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tables_load() {
        let k = Knowledge::builtin();
        assert!(k.is_ok(), "{:?}", k.err());
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let err = parse::<toml::Table>("data/x.toml", "version = 1\n\n[[a]\n").err();
        let err = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with("data/x.toml: line 3: "), "{err}");
    }
}
