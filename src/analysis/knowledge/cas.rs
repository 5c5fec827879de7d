//! Known CA keys (`data/apple_cas.toml`).

use std::collections::HashSet;

use serde::Deserialize;

use super::{DataError, check_version, parse};

const FILE: &str = "data/apple_cas.toml";
const TEXT: &str = include_str!("../../../data/apple_cas.toml");

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
    /// The table embedded in the binary.
    pub(super) fn builtin() -> Result<Self, DataError> {
        Self::parse(TEXT)
    }

    fn parse(text: &str) -> Result<Self, DataError> {
        let wire: CasWire = parse(FILE, text)?;
        check_version(FILE, wire.version, 1)?;
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
