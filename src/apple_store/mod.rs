//! Apple's own trust store: the roots Apple devices trust (and for which policies), the roots Apple
//! removed, the EV roots, the public roots Apple's own CAs chain to, and Apple's CT log list. This is
//! the ground truth for "would an Apple device accept this chain", where webpki-roots is Mozilla's
//! view.
//!
//! The facts are derived from Apple's security_certificates data by `tools/derive_apple_trust_store.rs`
//! into `data/apple_trust_store.json`, which is embedded; `--apple-trust-store DIR` reads a newer
//! checkout of the same layout at run time through [`AppleTrustStore::load_dir`].
//!
//! Only facts are kept: subjects, public keys, hashes, policy OIDs and CT log keys; never whole
//! certificates.

mod checkout;
mod json;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// kSecPolicyAppleSSL: Apple's TLS policy, as trust settings name it without a side.
///
/// Apple's `SecPolicyOIDs` define kSecPolicyAppleSSL = 1.2.840.113635.100.1.3 and, for
/// constraints that name a side, kSecPolicyAppleSSLServer = ….3.1 and kSecPolicyAppleSSLClient =
/// ….3.2 (trustd folds both back to ….3 with a client/server flag). The `constraints.json` of
/// trust store 2025072000 never names ….3 itself: the two TLS roots it constrains (Apple Platform
/// TLS RSA/ECC Root CA - G1, in its `system` section) carry ….3.1 and ….3.2. So a root is a TLS
/// server anchor when its constraints name ….3 or ….3.1; ….3.2 alone would allow client
/// authentication only.
pub const POLICY_APPLE_SSL: &str = "1.2.840.113635.100.1.3";
/// kSecPolicyAppleSSLServer: Apple's TLS policy for server authentication.
pub const POLICY_APPLE_SSL_SERVER: &str = "1.2.840.113635.100.1.3.1";
/// kSecPolicyAppleSSLClient: Apple's TLS policy for client authentication (not a server anchor).
pub const POLICY_APPLE_SSL_CLIENT: &str = "1.2.840.113635.100.1.3.2";

/// Version of the JSON form written by [`AppleTrustStore::to_json`].
const JSON_FORMAT: u32 = 1;

/// The embedded facts, written by `tools/derive_apple_trust_store.rs`.
const EMBEDDED_JSON: &str = include_str!("../../data/apple_trust_store.json");

/// Where a root sits in Apple's store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RootKind {
    /// `certificates/roots/`: a system root.
    System,
    /// `certificates/platform/`: an Apple platform root.
    Platform,
    /// `certificates/custom/`: trusted only for the policies its constraints name.
    Custom,
}

impl RootKind {
    /// The folder under `certificates/` that holds roots of this kind, which is also the section of
    /// `constraints.json` that constrains them.
    pub fn folder(self) -> &'static str {
        match self {
            RootKind::System => "roots",
            RootKind::Platform => "platform",
            RootKind::Custom => "custom",
        }
    }

    fn constraints_section(self) -> &'static str {
        match self {
            RootKind::System => "system",
            RootKind::Platform => "platform",
            RootKind::Custom => "custom",
        }
    }
}

/// One root of Apple's store, as facts.
///
/// A certificate Apple places in two folders (the Apple Platform roots sit in `roots/` and
/// `platform/`, GTS Root R1 and R4 in `roots/` and `custom/`) is two `StoreRoot`s, one per kind,
/// each with the constraints of its own section of `constraints.json`.
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
    /// The DER value of the root's nameConstraints extension (the NameConstraints SEQUENCE, with
    /// its header), if any.
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
    ///
    /// A system root (`roots/`) without constraints is trusted for every policy, TLS included. Any
    /// root whose constraints name Apple's SSL policy ([`POLICY_APPLE_SSL`]) or its server side
    /// ([`POLICY_APPLE_SSL_SERVER`]) is trusted for TLS. Platform and custom roots are anchors only
    /// for the policies their constraints name: without one of those two they are not TLS anchors,
    /// constrained or not (custom roots without constraints serve policies that ask for them by
    /// name, such as qualified website certificates).
    pub fn trusted_for_tls(&self) -> bool {
        if self.kind == RootKind::System && self.policies.is_empty() {
            return true;
        }
        self.policies
            .iter()
            .any(|p| p == POLICY_APPLE_SSL || p == POLICY_APPLE_SSL_SERVER)
    }

    /// This root as a webpki trust anchor: the *contents* of its subject Name, SPKI and
    /// NameConstraints SEQUENCEs, as `webpki::anchor_from_trusted_cert` gives them. `None` when one
    /// of them is not a DER SEQUENCE, which [`AppleTrustStore::load_dir`] and
    /// [`AppleTrustStore::from_json`] rule out.
    pub fn tls_anchor(&self) -> Option<rustls_pki_types::TrustAnchor<'static>> {
        let subject = sequence_contents(&self.subject_der)?;
        let spki = sequence_contents(&self.spki_der)?;
        let name_constraints = match &self.name_constraints {
            Some(nc) => Some(sequence_contents(nc)?.to_vec().into()),
            None => None,
        };
        Some(rustls_pki_types::TrustAnchor {
            subject: subject.to_vec().into(),
            subject_public_key_info: spki.to_vec().into(),
            name_constraints,
        })
    }
}

/// A root (or CA) Apple removed from its store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovedCert {
    pub cert_sha256: String,
    pub name: String,
    /// SHA-256 of its DER SubjectPublicKeyInfo, lower-case hex.
    pub spki_sha256: String,
    /// From `removed/intermediates/`: an intermediate CA certificate rather than a root.
    pub intermediate: bool,
}

/// Apple's trust data, as facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppleTrustStore {
    /// The trust store version (config/AssetVersion.plist VersionNumber).
    pub version: u64,
    /// Where the data came from, for reports ("embedded" or the directory given).
    pub source: String,
    /// Sorted by kind, then certificate SHA-256.
    pub roots: Vec<StoreRoot>,
    /// Roots first, then intermediates; each sorted by certificate SHA-256.
    pub removed: Vec<RemovedCert>,
    /// SHA-256 (lower-case hex) of the public roots Apple's own CAs chain to
    /// (TrustSupplementalsAsset/AppleCertificateAuthorities.plist). Sorted.
    pub apple_ca_roots: Vec<String>,
    /// Apple's CT log list, sorted by operator, description, then log id.
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

impl StoreError {
    fn new(file: impl AsRef<Path>, message: impl Into<String>) -> Self {
        StoreError {
            file: file.as_ref().display().to_string(),
            message: message.into(),
        }
    }
}

impl AppleTrustStore {
    /// The data embedded in this binary (parsed once, then cloned).
    pub fn embedded() -> Result<Self, StoreError> {
        static EMBEDDED: OnceLock<Result<AppleTrustStore, StoreError>> = OnceLock::new();
        match EMBEDDED.get_or_init(|| {
            AppleTrustStore::from_json(EMBEDDED_JSON, "embedded").map_err(|e| StoreError {
                file: "data/apple_trust_store.json (embedded)".into(),
                message: e.message,
            })
        }) {
            Ok(store) => Ok(store.clone()),
            Err(e) => Err(StoreError {
                file: e.file.clone(),
                message: e.message.clone(),
            }),
        }
    }

    /// Roots trusted for TLS, as webpki trust anchors (one per root where
    /// [`StoreRoot::trusted_for_tls`]).
    pub fn tls_anchors(&self) -> Vec<rustls_pki_types::TrustAnchor<'static>> {
        self.roots
            .iter()
            .filter(|r| r.trusted_for_tls())
            .filter_map(StoreRoot::tls_anchor)
            .collect()
    }

    /// The root with this SPKI SHA-256 (lower-case hex), over all kinds. When several roots carry
    /// the key (one certificate in two folders, or a reissued root), the one trusted for TLS is
    /// preferred, then the system root.
    pub fn root_by_spki(&self, spki_sha256: &str) -> Option<&StoreRoot> {
        self.roots
            .iter()
            .filter(|r| r.spki_sha256.eq_ignore_ascii_case(spki_sha256))
            .min_by_key(|r| (!r.trusted_for_tls(), r.kind))
    }

    /// The removed certificate with this SPKI SHA-256 (lower-case hex), roots before
    /// intermediates. A key Apple removed may still be in the store under another certificate:
    /// ask [`Self::root_by_spki`] first.
    pub fn removed_by_spki(&self, spki_sha256: &str) -> Option<&RemovedCert> {
        self.removed
            .iter()
            .find(|r| r.spki_sha256.eq_ignore_ascii_case(spki_sha256))
    }

    /// The system roots (`certificates/roots/`).
    pub fn system_roots(&self) -> impl Iterator<Item = &StoreRoot> {
        self.roots.iter().filter(|r| r.kind == RootKind::System)
    }

    /// Whether this certificate SHA-256 (hex) is one of the public roots Apple's own CAs chain to.
    pub fn is_apple_ca_root(&self, cert_sha256: &str) -> bool {
        self.apple_ca_roots
            .iter()
            .any(|h| h.eq_ignore_ascii_case(cert_sha256))
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

impl LogState {
    fn from_list_key(key: &str) -> Option<Self> {
        Some(match key {
            "pending" => LogState::Pending,
            "qualified" => LogState::Qualified,
            "usable" => LogState::Usable,
            "readonly" => LogState::ReadOnly,
            "retired" => LogState::Retired,
            "rejected" => LogState::Rejected,
            _ => return None,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Bytes.

/// Whether a root's subject, key and name constraints are each one DER SEQUENCE, as a trust anchor
/// needs them (checked for a checkout and for the embedded JSON alike).
fn anchor_parts_are_sequences(
    subject: &[u8],
    spki: &[u8],
    name_constraints: Option<&[u8]>,
) -> bool {
    sequence_contents(subject).is_some()
        && sequence_contents(spki).is_some()
        && name_constraints.is_none_or(|nc| sequence_contents(nc).is_some())
}

/// The contents of a DER SEQUENCE that spans all of `der`: what webpki keeps of names, keys and
/// name constraints.
fn sequence_contents(der: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = der.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (len_bytes, rest) = rest.split_at(n);
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    (rest.len() == len).then_some(rest)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            // Writing to a String cannot fail.
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let digit = |c: u8| char::from(c).to_digit(16);
            Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::checkout::{CertFacts, is_cert_file_name, oid_list};
    use super::*;

    fn root(kind: RootKind, policies: &[&str]) -> StoreRoot {
        StoreRoot {
            cert_sha256: "00".repeat(32),
            name: "Test".into(),
            subject_der: vec![0x30, 0x00],
            spki_der: vec![0x30, 0x00],
            spki_sha256: sha256_hex(&[0x30, 0x00]),
            name_constraints: None,
            kind,
            policies: policies.iter().map(|s| s.to_string()).collect(),
            ev_policies: Vec::new(),
            not_after: 0,
        }
    }

    #[test]
    fn trusted_for_tls_follows_kind_and_policies() {
        // An unconstrained system root is trusted for everything.
        assert!(root(RootKind::System, &[]).trusted_for_tls());
        // Constrained system roots: only with the SSL policy or its server side.
        assert!(root(RootKind::System, &[POLICY_APPLE_SSL]).trusted_for_tls());
        assert!(
            root(
                RootKind::System,
                &["1.2.840.113635.100.1.2", POLICY_APPLE_SSL_SERVER]
            )
            .trusted_for_tls()
        );
        assert!(!root(RootKind::System, &[POLICY_APPLE_SSL_CLIENT]).trusted_for_tls());
        assert!(
            !root(
                RootKind::System,
                &["1.2.840.113635.100.1.2", "1.2.840.113635.100.1.16"]
            )
            .trusted_for_tls()
        );
        // A longer OID that merely starts with the SSL one is another policy.
        assert!(!root(RootKind::System, &["1.2.840.113635.100.1.33"]).trusted_for_tls());
        // Platform and custom roots: never by default.
        assert!(!root(RootKind::Platform, &[]).trusted_for_tls());
        assert!(!root(RootKind::Custom, &[]).trusted_for_tls());
        assert!(!root(RootKind::Custom, &["1.2.840.113635.100.1.123"]).trusted_for_tls());
        assert!(root(RootKind::Platform, &[POLICY_APPLE_SSL_SERVER]).trusted_for_tls());
        assert!(root(RootKind::Custom, &[POLICY_APPLE_SSL]).trusted_for_tls());
    }

    fn ca_der(with_name_constraints: bool) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Anchor Test Root");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "pinscope tests");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        if with_name_constraints {
            params.name_constraints = Some(rcgen::NameConstraints {
                permitted_subtrees: vec![rcgen::GeneralSubtree::DnsName("example.com".into())],
                excluded_subtrees: vec![rcgen::GeneralSubtree::DnsName("bad.example.com".into())],
            });
        }
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn store_root_from(der: &[u8]) -> StoreRoot {
        let facts = CertFacts::parse(Path::new("test.cer"), der).unwrap();
        StoreRoot {
            cert_sha256: facts.cert_sha256,
            name: facts.name,
            subject_der: facts.subject_der,
            spki_der: facts.spki_der,
            spki_sha256: facts.spki_sha256,
            name_constraints: facts.name_constraints,
            kind: RootKind::System,
            policies: Vec::new(),
            ev_policies: Vec::new(),
            not_after: facts.not_after,
        }
    }

    #[test]
    fn anchor_encoding_matches_webpki() {
        for with_nc in [false, true] {
            let der = ca_der(with_nc);
            let root = store_root_from(&der);
            assert_eq!(root.name, "Anchor Test Root");
            assert_eq!(root.name_constraints.is_some(), with_nc);
            let ours = root.tls_anchor().unwrap();
            let cert = rustls_pki_types::CertificateDer::from(der.clone());
            let theirs = webpki::anchor_from_trusted_cert(&cert).unwrap();
            assert_eq!(ours.subject.as_ref(), theirs.subject.as_ref());
            assert_eq!(
                ours.subject_public_key_info.as_ref(),
                theirs.subject_public_key_info.as_ref()
            );
            assert_eq!(
                ours.name_constraints.as_ref().map(|d| d.as_ref().to_vec()),
                theirs
                    .name_constraints
                    .as_ref()
                    .map(|d| d.as_ref().to_vec()),
            );
            // The stored forms keep their SEQUENCE headers; the anchor drops them.
            assert_eq!(root.subject_der[0], 0x30);
            assert_ne!(root.subject_der.len(), ours.subject.as_ref().len());
        }
    }

    #[test]
    fn sequence_contents_reads_short_and_long_lengths() {
        assert_eq!(sequence_contents(&[0x30, 0x00]), Some(&[][..]));
        assert_eq!(sequence_contents(&[0x30, 0x01, 0x05]), Some(&[0x05][..]));
        let mut long = vec![0x30, 0x81, 0x80];
        long.extend(std::iter::repeat_n(7, 0x80));
        assert_eq!(sequence_contents(&long).map(<[u8]>::len), Some(0x80));
        assert_eq!(sequence_contents(&[0x31, 0x00]), None);
        assert_eq!(sequence_contents(&[0x30, 0x02, 0x05]), None);
        assert_eq!(sequence_contents(&[0x30, 0x80]), None);
        assert_eq!(sequence_contents(&[]), None);
    }

    #[test]
    fn json_round_trip_and_tamper_detection() {
        let mut store = AppleTrustStore {
            version: 7,
            source: "test".into(),
            roots: vec![store_root_from(&ca_der(true))],
            removed: vec![RemovedCert {
                cert_sha256: "ab".repeat(32),
                name: "Gone".into(),
                spki_sha256: "cd".repeat(32),
                intermediate: false,
            }],
            apple_ca_roots: vec!["ef".repeat(32)],
            ct_logs: Vec::new(),
            ct_log_list_version: "1".into(),
        };
        let key = b"not really a key".to_vec();
        let log_id: [u8; 32] = Sha256::digest(&key).into();
        store.ct_logs.push(CtLog {
            log_id,
            key_der: key,
            description: "Test log".into(),
            operator: "Tester".into(),
            state: LogState::ReadOnly,
            state_since: Some(1_700_000_000),
            temporal_interval: Some((1, 2)),
        });
        let json = store.to_json();
        assert_eq!(json, store.to_json(), "deterministic");
        let back = AppleTrustStore::from_json(&json, "test").unwrap();
        assert_eq!(back, store);
        assert_eq!(back.tls_anchors().len(), 1);

        let tampered = json.replacen(&store.roots[0].spki_sha256, &"0".repeat(64), 1);
        let err = AppleTrustStore::from_json(&tampered, "tampered.json").unwrap_err();
        assert_eq!(err.file, "tampered.json");
        assert!(err.message.contains("spki_sha256"), "{err}");
        let err = AppleTrustStore::from_json("{", "broken.json").unwrap_err();
        assert!(err.to_string().starts_with("broken.json: "), "{err}");
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00abFF"), Some(vec![0x00, 0xab, 0xff]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn cert_file_names() {
        for yes in ["a.cer", "B.CRT", "x y.der", "r.pem", "IPSServidores.CRT"] {
            assert!(is_cert_file_name(yes), "{yes}");
        }
        for no in [
            "README",
            "README.md",
            ".DS_Store",
            ".hidden.cer",
            "notes.txt",
        ] {
            assert!(!is_cert_file_name(no), "{no}");
        }
    }

    #[test]
    fn oids_are_trimmed_and_checked() {
        let p = Path::new("c.json");
        let v = serde_json::json!([" 1.2.3", "1.10", "1.2.3", "1.9"]);
        assert_eq!(oid_list(p, "x", &v).unwrap(), ["1.2.3", "1.9", "1.10"]);
        assert!(oid_list(p, "x", &serde_json::json!(["1..2"])).is_err());
        assert!(oid_list(p, "x", &serde_json::json!(["abc"])).is_err());
        assert!(oid_list(p, "x", &serde_json::json!("1.2")).is_err());
    }
}
