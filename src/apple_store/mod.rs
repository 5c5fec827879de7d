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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
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

    /// Reads a checkout of Apple's security_certificates data (the layout of
    /// `../shared/reference/apple-trust-store/`).
    ///
    /// Certificates are the files named `*.cer`, `*.crt`, `*.der` or `*.pem` (DER, or PEM); other
    /// files (README, `.DS_Store`, …) are skipped, but a certificate file that does not parse is an
    /// error. `removed/` and `removed/intermediates/` are read; `removed/reissued/` and
    /// `removed/invalid/` are not, as they hold earlier issues of roots whose keys Apple still
    /// trusts under a newer certificate. The `test-*` sections of `constraints.json` constrain
    /// Apple's internal test roots, which the store does not ship, and are ignored.
    pub fn load_dir(dir: &Path) -> Result<Self, StoreError> {
        if !dir.exists() {
            return Err(StoreError::new(dir, "no such directory"));
        }
        if !dir.is_dir() {
            return Err(StoreError::new(
                dir,
                "not a directory (expected a checkout of Apple's security_certificates data)",
            ));
        }
        let version = read_asset_version(&dir.join("config/AssetVersion.plist"))?;
        let certs = dir.join("certificates");
        let constraints = read_constraints(&certs.join("constraints.json"))?;
        let ev = read_ev_roots(&certs.join("EVRoots.json"))?;

        let mut roots = Vec::new();
        for kind in [RootKind::System, RootKind::Platform, RootKind::Custom] {
            let section = constraints.get(kind.constraints_section());
            for (path, der) in read_cert_files(&certs.join(kind.folder()))? {
                let facts = CertFacts::parse(&path, &der)?;
                let policies = section
                    .and_then(|s| s.get(&facts.cert_sha256))
                    .cloned()
                    .unwrap_or_default();
                let ev_policies = ev.get(&facts.cert_sha256).cloned().unwrap_or_default();
                roots.push(StoreRoot {
                    cert_sha256: facts.cert_sha256,
                    name: facts.name,
                    subject_der: facts.subject_der,
                    spki_der: facts.spki_der,
                    spki_sha256: facts.spki_sha256,
                    name_constraints: facts.name_constraints,
                    kind,
                    policies,
                    ev_policies,
                    not_after: facts.not_after,
                });
            }
        }
        roots.sort_by(|a, b| (a.kind, &a.cert_sha256).cmp(&(b.kind, &b.cert_sha256)));
        roots.dedup_by(|a, b| a.kind == b.kind && a.cert_sha256 == b.cert_sha256);

        let mut removed = Vec::new();
        for (folder, intermediate) in [
            (certs.join("removed"), false),
            (certs.join("removed/intermediates"), true),
        ] {
            for (path, der) in read_cert_files(&folder)? {
                let facts = CertFacts::parse(&path, &der)?;
                removed.push(RemovedCert {
                    cert_sha256: facts.cert_sha256,
                    name: facts.name,
                    spki_sha256: facts.spki_sha256,
                    intermediate,
                });
            }
        }
        removed.sort_by(|a, b| {
            (a.intermediate, &a.cert_sha256).cmp(&(b.intermediate, &b.cert_sha256))
        });
        removed.dedup_by(|a, b| a.intermediate == b.intermediate && a.cert_sha256 == b.cert_sha256);

        let apple_ca_roots = read_apple_ca_roots(
            &dir.join("TrustSupplementalsAsset/AppleCertificateAuthorities.plist"),
        )?;
        let (ct_logs, ct_log_list_version) =
            read_log_list(&dir.join("certificate_transparency/log_list.json"))?;

        Ok(AppleTrustStore {
            version,
            source: dir.display().to_string(),
            roots,
            removed,
            apple_ca_roots,
            ct_logs,
            ct_log_list_version,
        })
    }

    /// The facts as JSON (pretty, deterministic; DER in hex, CT log keys and ids in base64), the
    /// form of `data/apple_trust_store.json`. `source` is not part of it.
    pub fn to_json(&self) -> String {
        let doc = JsonStore {
            format: JSON_FORMAT,
            version: self.version,
            ct_log_list_version: self.ct_log_list_version.clone(),
            roots: self
                .roots
                .iter()
                .map(|r| JsonRoot {
                    cert_sha256: r.cert_sha256.clone(),
                    name: r.name.clone(),
                    kind: r.kind,
                    subject: hex(&r.subject_der),
                    spki: hex(&r.spki_der),
                    spki_sha256: r.spki_sha256.clone(),
                    name_constraints: r.name_constraints.as_deref().map(hex),
                    policies: r.policies.clone(),
                    ev_policies: r.ev_policies.clone(),
                    not_after: r.not_after,
                })
                .collect(),
            removed: self
                .removed
                .iter()
                .map(|r| JsonRemoved {
                    cert_sha256: r.cert_sha256.clone(),
                    name: r.name.clone(),
                    spki_sha256: r.spki_sha256.clone(),
                    intermediate: r.intermediate,
                })
                .collect(),
            apple_ca_roots: self.apple_ca_roots.clone(),
            ct_logs: self
                .ct_logs
                .iter()
                .map(|l| JsonLog {
                    log_id: BASE64.encode(l.log_id),
                    key: BASE64.encode(&l.key_der),
                    description: l.description.clone(),
                    operator: l.operator.clone(),
                    state: l.state,
                    state_since: l.state_since,
                    temporal_interval: l.temporal_interval,
                })
                .collect(),
        };
        // Serialising plain strings, numbers and vectors to a String cannot fail.
        let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
        out.push('\n');
        out
    }

    /// Reads the JSON form of [`Self::to_json`]; `source` names it in errors and in reports. Hashes
    /// are checked against the bytes they describe, so a hand-edited file is caught.
    pub fn from_json(json: &str, source: &str) -> Result<Self, StoreError> {
        let err = |message: String| StoreError {
            file: source.to_string(),
            message,
        };
        let doc: JsonStore = serde_json::from_str(json).map_err(|e| err(format!("{e}")))?;
        if doc.format != JSON_FORMAT {
            return Err(err(format!(
                "format {} is not the supported format {JSON_FORMAT}",
                doc.format
            )));
        }
        let mut roots = Vec::with_capacity(doc.roots.len());
        for r in doc.roots {
            let what = |field: &str| format!("root {} ({}): {field}", r.cert_sha256, r.name);
            let subject_der = unhex(&r.subject).ok_or_else(|| err(what("subject is not hex")))?;
            let spki_der = unhex(&r.spki).ok_or_else(|| err(what("spki is not hex")))?;
            let name_constraints = match &r.name_constraints {
                Some(h) => Some(unhex(h).ok_or_else(|| err(what("name_constraints is not hex")))?),
                None => None,
            };
            if !is_sha256_hex(&r.cert_sha256) {
                return Err(err(what("cert_sha256 is not a SHA-256 in lower-case hex")));
            }
            if sha256_hex(&spki_der) != r.spki_sha256 {
                return Err(err(what("spki_sha256 is not the SHA-256 of spki")));
            }
            let der_ok = sequence_contents(&subject_der).is_some()
                && sequence_contents(&spki_der).is_some()
                && name_constraints
                    .as_deref()
                    .is_none_or(|nc| sequence_contents(nc).is_some());
            if !der_ok {
                return Err(err(what(
                    "subject, spki or name_constraints is not a DER SEQUENCE",
                )));
            }
            roots.push(StoreRoot {
                cert_sha256: r.cert_sha256,
                name: r.name,
                subject_der,
                spki_der,
                spki_sha256: r.spki_sha256,
                name_constraints,
                kind: r.kind,
                policies: r.policies,
                ev_policies: r.ev_policies,
                not_after: r.not_after,
            });
        }
        let mut removed = Vec::with_capacity(doc.removed.len());
        for r in doc.removed {
            if !is_sha256_hex(&r.cert_sha256) || !is_sha256_hex(&r.spki_sha256) {
                return Err(err(format!(
                    "removed {} ({}): hashes must be SHA-256 in lower-case hex",
                    r.cert_sha256, r.name
                )));
            }
            removed.push(RemovedCert {
                cert_sha256: r.cert_sha256,
                name: r.name,
                spki_sha256: r.spki_sha256,
                intermediate: r.intermediate,
            });
        }
        if let Some(bad) = doc.apple_ca_roots.iter().find(|h| !is_sha256_hex(h)) {
            return Err(err(format!(
                "apple_ca_roots: '{bad}' is not a SHA-256 in lower-case hex"
            )));
        }
        let mut ct_logs = Vec::with_capacity(doc.ct_logs.len());
        for l in doc.ct_logs {
            let what = |field: &str| format!("CT log '{}': {field}", l.description);
            let key_der = BASE64
                .decode(&l.key)
                .map_err(|e| err(what(&format!("key is not base64 ({e})"))))?;
            let log_id = BASE64
                .decode(&l.log_id)
                .map_err(|e| err(what(&format!("log_id is not base64 ({e})"))))?;
            let log_id: [u8; 32] = log_id
                .try_into()
                .map_err(|_| err(what("log_id is not 32 bytes")))?;
            if Sha256::digest(&key_der).as_slice() != log_id {
                return Err(err(what("log_id is not the SHA-256 of key")));
            }
            ct_logs.push(CtLog {
                log_id,
                key_der,
                description: l.description,
                operator: l.operator,
                state: l.state,
                state_since: l.state_since,
                temporal_interval: l.temporal_interval,
            });
        }
        Ok(AppleTrustStore {
            version: doc.version,
            source: source.to_string(),
            roots,
            removed,
            apple_ca_roots: doc.apple_ca_roots,
            ct_logs,
            ct_log_list_version: doc.ct_log_list_version,
        })
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
// The JSON form.

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonStore {
    format: u32,
    version: u64,
    ct_log_list_version: String,
    roots: Vec<JsonRoot>,
    removed: Vec<JsonRemoved>,
    apple_ca_roots: Vec<String>,
    ct_logs: Vec<JsonLog>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRoot {
    cert_sha256: String,
    name: String,
    kind: RootKind,
    /// DER Name, hex.
    subject: String,
    /// DER SubjectPublicKeyInfo, hex.
    spki: String,
    spki_sha256: String,
    name_constraints: Option<String>,
    policies: Vec<String>,
    ev_policies: Vec<String>,
    not_after: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRemoved {
    cert_sha256: String,
    name: String,
    spki_sha256: String,
    intermediate: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLog {
    /// base64.
    log_id: String,
    /// DER SubjectPublicKeyInfo, base64.
    key: String,
    description: String,
    operator: String,
    state: LogState,
    state_since: Option<i64>,
    temporal_interval: Option<(i64, i64)>,
}

// ---------------------------------------------------------------------------------------------
// Reading the checkout.

fn read_bytes(path: &Path) -> Result<Vec<u8>, StoreError> {
    std::fs::read(path).map_err(|e| StoreError::new(path, format!("cannot read: {e}")))
}

fn read_json(path: &Path) -> Result<serde_json::Value, StoreError> {
    let bytes = read_bytes(path)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| StoreError::new(path, format!("not valid JSON: {e}")))
}

fn read_plist(path: &Path) -> Result<plist::Value, StoreError> {
    let bytes = read_bytes(path)?;
    plist::Value::from_reader(std::io::Cursor::new(bytes))
        .map_err(|e| StoreError::new(path, format!("not a valid property list: {e}")))
}

/// `config/AssetVersion.plist`: the `VersionNumber` integer.
fn read_asset_version(path: &Path) -> Result<u64, StoreError> {
    let value = read_plist(path)?;
    let number = value
        .as_dictionary()
        .ok_or_else(|| StoreError::new(path, "expected a dictionary"))?
        .get("VersionNumber")
        .ok_or_else(|| StoreError::new(path, "no VersionNumber"))?;
    number
        .as_unsigned_integer()
        .or_else(|| number.as_string().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| StoreError::new(path, "VersionNumber is not a non-negative integer"))
}

/// A certificate SHA-256 key of Apple's JSON files (upper-case hex) as lower-case hex.
fn sha256_key(path: &Path, what: &str, key: &str) -> Result<String, StoreError> {
    let key = key.trim().to_ascii_lowercase();
    if is_sha256_hex(&key) {
        Ok(key)
    } else {
        Err(StoreError::new(
            path,
            format!("{what}: '{key}' is not a certificate SHA-256 in hex"),
        ))
    }
}

/// A list of OIDs, trimmed (Apple's files carry the odd stray space), validated, sorted by arc and
/// de-duplicated.
fn oid_list(path: &Path, what: &str, value: &serde_json::Value) -> Result<Vec<String>, StoreError> {
    let items = value
        .as_array()
        .ok_or_else(|| StoreError::new(path, format!("{what}: expected a list of OIDs")))?;
    let mut oids = Vec::with_capacity(items.len());
    for item in items {
        let oid = item
            .as_str()
            .map(str::trim)
            .filter(|s| is_dotted_oid(s))
            .ok_or_else(|| StoreError::new(path, format!("{what}: {item} is not an OID")))?;
        oids.push(oid.to_string());
    }
    oids.sort_by_key(|o| oid_arcs(o));
    oids.dedup();
    Ok(oids)
}

fn is_dotted_oid(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()))
        && s.contains('.')
}

fn oid_arcs(oid: &str) -> Vec<u128> {
    oid.split('.')
        .map(|a| a.parse().unwrap_or(u128::MAX))
        .collect()
}

/// `certificates/constraints.json`: section → certificate SHA-256 → policy OIDs.
type Constraints = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn read_constraints(path: &Path) -> Result<Constraints, StoreError> {
    let value = read_json(path)?;
    let sections = value
        .as_object()
        .ok_or_else(|| StoreError::new(path, "expected an object of sections"))?;
    let mut out = Constraints::new();
    for (section, entries) in sections {
        let entries = entries.as_object().ok_or_else(|| {
            StoreError::new(
                path,
                format!("section '{section}': expected an object of SHA-256 → OIDs"),
            )
        })?;
        let mut map = BTreeMap::new();
        for (hash, oids) in entries {
            let what = format!("section '{section}', {hash}");
            map.insert(sha256_key(path, &what, hash)?, oid_list(path, &what, oids)?);
        }
        out.insert(section.clone(), map);
    }
    Ok(out)
}

/// `certificates/EVRoots.json`: `EV_config`, certificate SHA-256 → EV policy OIDs.
fn read_ev_roots(path: &Path) -> Result<BTreeMap<String, Vec<String>>, StoreError> {
    let value = read_json(path)?;
    let config = value
        .get("EV_config")
        .and_then(serde_json::Value::as_object)
        .ok_or_else(|| StoreError::new(path, "no EV_config object"))?;
    let mut out = BTreeMap::new();
    for (hash, oids) in config {
        let what = format!("EV_config, {hash}");
        out.insert(sha256_key(path, &what, hash)?, oid_list(path, &what, oids)?);
    }
    Ok(out)
}

/// `TrustSupplementalsAsset/AppleCertificateAuthorities.plist`: an array of 32-byte SHA-256s.
fn read_apple_ca_roots(path: &Path) -> Result<Vec<String>, StoreError> {
    let value = read_plist(path)?;
    let items = value
        .as_array()
        .ok_or_else(|| StoreError::new(path, "expected an array of SHA-256 data"))?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item.as_data() {
            Some(d) if d.len() == 32 => out.push(hex(d)),
            _ => {
                return Err(StoreError::new(
                    path,
                    format!("item {i} is not a 32-byte SHA-256"),
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Whether a file name says it holds a certificate.
fn is_cert_file_name(name: &str) -> bool {
    if name.starts_with('.') {
        return false;
    }
    let Some((_, ext)) = name.rsplit_once('.') else {
        return false;
    };
    matches!(
        ext.to_ascii_lowercase().as_str(),
        "cer" | "crt" | "der" | "pem" | "cert"
    )
}

/// The certificate files directly in `dir`, sorted by name, with their DER (PEM decoded).
/// Subdirectories and files not named as certificates are skipped.
fn read_cert_files(dir: &Path) -> Result<Vec<(std::path::PathBuf, Vec<u8>)>, StoreError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| StoreError::new(dir, format!("cannot read: {e}")))?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::new(dir, format!("cannot list: {e}")))?;
        let path = entry.path();
        let name = entry.file_name();
        if !is_cert_file_name(&name.to_string_lossy()) || !path.is_file() {
            continue;
        }
        paths.push(path);
    }
    paths.sort();
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        let bytes = read_bytes(&path)?;
        let der = if bytes.starts_with(b"-----BEGIN") {
            use rustls_pki_types::pem::PemObject as _;
            rustls_pki_types::CertificateDer::from_pem_slice(&bytes)
                .map_err(|e| StoreError::new(&path, format!("not a PEM certificate: {e}")))?
                .to_vec()
        } else {
            bytes
        };
        out.push((path, der));
    }
    Ok(out)
}

/// What a certificate file tells.
struct CertFacts {
    cert_sha256: String,
    name: String,
    subject_der: Vec<u8>,
    spki_der: Vec<u8>,
    spki_sha256: String,
    name_constraints: Option<Vec<u8>>,
    not_after: i64,
}

impl CertFacts {
    fn parse(path: &Path, der: &[u8]) -> Result<Self, StoreError> {
        let (rest, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| StoreError::new(path, format!("not a DER X.509 certificate: {e}")))?;
        if !rest.is_empty() {
            return Err(StoreError::new(
                path,
                format!(
                    "{} bytes of trailing data after the certificate",
                    rest.len()
                ),
            ));
        }
        let tbs = &cert.tbs_certificate;
        let subject_der = tbs.subject.as_raw().to_vec();
        let spki_der = tbs.subject_pki.raw.to_vec();
        let name_constraints = tbs
            .extensions()
            .iter()
            .find(|e| e.oid == x509_parser::oid_registry::OID_X509_EXT_NAME_CONSTRAINTS)
            .map(|e| e.value.to_vec());
        let der_ok = sequence_contents(&subject_der).is_some()
            && sequence_contents(&spki_der).is_some()
            && name_constraints
                .as_deref()
                .is_none_or(|nc| sequence_contents(nc).is_some());
        if !der_ok {
            return Err(StoreError::new(
                path,
                "subject, public key or name constraints is not a DER SEQUENCE",
            ));
        }
        Ok(CertFacts {
            cert_sha256: sha256_hex(der),
            name: readable_name(&tbs.subject),
            spki_sha256: sha256_hex(&spki_der),
            subject_der,
            spki_der,
            name_constraints,
            not_after: tbs.validity.not_after.timestamp(),
        })
    }
}

/// CN, else O, else the whole name.
fn readable_name(name: &x509_parser::x509::X509Name<'_>) -> String {
    name.iter_common_name()
        .next()
        .and_then(attr_text)
        .or_else(|| name.iter_organization().next().and_then(attr_text))
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| name.to_string())
}

/// An attribute's text: the string types, BMPString (UTF-16) and TeletexString (read as Latin-1).
fn attr_text(attr: &x509_parser::x509::AttributeTypeAndValue<'_>) -> Option<String> {
    use x509_parser::der_parser::asn1_rs::Tag;
    if let Ok(s) = attr.as_str() {
        return Some(s.to_string());
    }
    let bytes = attr.as_slice();
    match attr.attr_value().tag() {
        Tag::BmpString if bytes.len().is_multiple_of(2) => char::decode_utf16(
            bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]])),
        )
        .collect::<Result<String, _>>()
        .ok(),
        Tag::T61String => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        _ => None,
    }
}

#[derive(Deserialize)]
struct RawLogList {
    version: Option<serde_json::Value>,
    operators: Vec<RawOperator>,
}

#[derive(Deserialize)]
struct RawOperator {
    name: String,
    #[serde(default)]
    logs: Vec<RawLog>,
    #[serde(default)]
    tiled_logs: Vec<RawLog>,
}

#[derive(Deserialize)]
struct RawLog {
    description: String,
    key: String,
    log_id: String,
    state: Option<BTreeMap<String, RawState>>,
    temporal_interval: Option<RawInterval>,
}

#[derive(Deserialize)]
struct RawState {
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct RawInterval {
    start_inclusive: String,
    end_exclusive: String,
}

fn rfc3339(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

/// `certificate_transparency/log_list.json` (schema v3 to v5): every log, tiled logs included.
fn read_log_list(path: &Path) -> Result<(Vec<CtLog>, String), StoreError> {
    let bytes = read_bytes(path)?;
    let list: RawLogList = serde_json::from_slice(&bytes)
        .map_err(|e| StoreError::new(path, format!("not a CT log list: {e}")))?;
    let version = match list.version {
        Some(serde_json::Value::String(s)) => s,
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => return Err(StoreError::new(path, "no version (string or number)")),
    };
    let mut logs = Vec::new();
    for op in list.operators {
        for raw in op.logs.into_iter().chain(op.tiled_logs) {
            let bad = |what: &str| {
                StoreError::new(
                    path,
                    format!("log '{}' of {}: {what}", raw.description, op.name),
                )
            };
            let key_der = BASE64
                .decode(raw.key.trim())
                .map_err(|e| bad(&format!("key is not base64 ({e})")))?;
            let log_id = BASE64
                .decode(raw.log_id.trim())
                .map_err(|e| bad(&format!("log_id is not base64 ({e})")))?;
            let log_id: [u8; 32] = log_id
                .try_into()
                .map_err(|v: Vec<u8>| bad(&format!("log_id is {} bytes, not 32", v.len())))?;
            if Sha256::digest(&key_der).as_slice() != log_id {
                return Err(bad("log_id is not the SHA-256 of its key"));
            }
            let state_map = raw.state.as_ref().ok_or_else(|| bad("no state"))?;
            let mut states = state_map.iter();
            let (state_key, state_value) = match (states.next(), states.next()) {
                (Some(one), None) => one,
                _ => return Err(bad("state must name exactly one state")),
            };
            let state = LogState::from_list_key(state_key)
                .ok_or_else(|| bad(&format!("unknown state '{state_key}'")))?;
            let state_since = match &state_value.timestamp {
                Some(t) => Some(
                    rfc3339(t)
                        .ok_or_else(|| bad(&format!("state timestamp '{t}' is not RFC 3339")))?,
                ),
                None => None,
            };
            let temporal_interval = match &raw.temporal_interval {
                Some(i) => {
                    let start = rfc3339(&i.start_inclusive).ok_or_else(|| {
                        bad(&format!(
                            "temporal_interval start '{}' is not RFC 3339",
                            i.start_inclusive
                        ))
                    })?;
                    let end = rfc3339(&i.end_exclusive).ok_or_else(|| {
                        bad(&format!(
                            "temporal_interval end '{}' is not RFC 3339",
                            i.end_exclusive
                        ))
                    })?;
                    Some((start, end))
                }
                None => None,
            };
            logs.push(CtLog {
                log_id,
                key_der,
                description: raw.description.clone(),
                operator: op.name.clone(),
                state,
                state_since,
                temporal_interval,
            });
        }
    }
    logs.sort_by(|a, b| {
        (&a.operator, &a.description, a.log_id).cmp(&(&b.operator, &b.description, b.log_id))
    });
    logs.dedup_by(|a, b| a.log_id == b.log_id && a.operator == b.operator);
    Ok((logs, version))
}

// ---------------------------------------------------------------------------------------------
// Bytes.

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
