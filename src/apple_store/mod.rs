//! Apple's own trust store: the roots Apple devices trust (and for which policies), the roots Apple
//! removed, the EV roots, the public roots Apple's own CAs chain to, and Apple's CT log list. This is
//! the ground truth for "would an Apple device accept this chain", where webpki-roots is Mozilla's
//! view.
//!
//! The facts are derived from Apple's security_certificates data by `tools/derive_apple_trust_store.rs`
//! into `data/apple_trust_store.json`, which is embedded; `--apple-trust-store DIR` reads a newer
//! checkout of the same layout at run time through [`AppleTrustStore::load_dir`].

use std::path::Path;

use serde::Serialize;

/// Where a root sits in Apple's store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RootKind {
    /// `certificates/roots/`: a system root.
    System,
    /// `certificates/platform/`: an Apple platform root.
    Platform,
    /// `certificates/custom/`: trusted only for the policies its constraints name.
    Custom,
}

/// One root of Apple's store, as facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreRoot {
    /// SHA-256 of the certificate's DER, lower-case hex.
    pub cert_sha256: String,
    /// A readable subject name (CN, else O, else the whole name).
    pub name: String,
    /// The DER subject Name, with its SEQUENCE header.
    pub subject_der: Vec<u8>,
    /// The DER SubjectPublicKeyInfo, with its SEQUENCE header.
    pub spki_der: Vec<u8>,
    /// SHA-256 of `spki_der`, lower-case hex.
    pub spki_sha256: String,
    /// The DER value of the root's nameConstraints extension, if any.
    pub name_constraints: Option<Vec<u8>>,
    pub kind: RootKind,
    /// Apple policy OIDs this root is constrained to (constraints.json); empty: unconstrained.
    pub policies: Vec<String>,
    /// EV policy OIDs (EVRoots.json).
    pub ev_policies: Vec<String>,
    /// notAfter, Unix seconds.
    pub not_after: i64,
}

impl StoreRoot {
    /// Whether Apple devices accept this root as an anchor for TLS server authentication.
    pub fn trusted_for_tls(&self) -> bool {
        todo!("helper: apple store")
    }
}

/// A root (or CA) Apple removed from its store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovedCert {
    pub cert_sha256: String,
    pub name: String,
    /// SHA-256 of its DER SubjectPublicKeyInfo, lower-case hex.
    pub spki_sha256: String,
}

/// Apple's trust data, as facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppleTrustStore {
    /// The trust store version (config/AssetVersion.plist VersionNumber).
    pub version: u64,
    /// Where the data came from, for reports ("embedded" or the directory given).
    pub source: String,
    pub roots: Vec<StoreRoot>,
    pub removed: Vec<RemovedCert>,
    /// SHA-256 (lower-case hex) of the public roots Apple's own CAs chain to
    /// (TrustSupplementalsAsset/AppleCertificateAuthorities.plist).
    pub apple_ca_roots: Vec<String>,
    /// Apple's CT log list.
    pub ct_logs: Vec<CtLog>,
    /// The log list's version string.
    pub ct_log_list_version: String,
}

/// Why a trust store directory (or the embedded data) could not be read: names the file.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct StoreError {
    pub file: String,
    pub message: String,
}

impl AppleTrustStore {
    /// The data embedded in this binary.
    pub fn embedded() -> Result<Self, StoreError> {
        todo!("helper: apple store")
    }

    /// Roots trusted for TLS, as webpki trust anchors.
    pub fn tls_anchors(&self) -> Vec<rustls_pki_types::TrustAnchor<'static>> {
        todo!("helper: apple store")
    }

    pub fn root_by_spki(&self, spki_sha256: &str) -> Option<&StoreRoot> {
        let _ = spki_sha256;
        todo!("helper: apple store")
    }

    pub fn removed_by_spki(&self, spki_sha256: &str) -> Option<&RemovedCert> {
        let _ = spki_sha256;
        todo!("helper: apple store")
    }

    /// Reads a checkout of Apple's security_certificates data (the layout of
    /// `../shared/reference/apple-trust-store/`).
    pub fn load_dir(dir: &Path) -> Result<Self, StoreError> {
        let _ = dir;
        todo!("helper: apple store")
    }
}
/// One log from Apple's CT log list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtLog {
    /// The log's id: SHA-256 of its DER SubjectPublicKeyInfo.
    pub log_id: [u8; 32],
    /// The log's DER SubjectPublicKeyInfo.
    pub key_der: Vec<u8>,
    pub description: String,
    /// The operator's name; Apple's policy counts distinct operators.
    pub operator: String,
    pub state: LogState,
    /// When the log entered its current state (Unix seconds), when the list says.
    pub state_since: Option<i64>,
    /// For sharded logs: the certificates' notAfter range it accepts (Unix seconds, start
    /// inclusive, end exclusive).
    pub temporal_interval: Option<(i64, i64)>,
}

/// A log's state in the log list (schema v3+ states).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogState {
    Pending,
    Qualified,
    Usable,
    #[serde(rename = "readonly")]
    ReadOnly,
    Retired,
    Rejected,
}
