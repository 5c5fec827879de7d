//! Reading a checkout of Apple's security_certificates data (`--apple-trust-store DIR`, and the
//! tool that derives the embedded JSON): certificates, constraints, EV roots, Apple's CA roots and
//! the CT log list.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{
    AppleTrustStore, CtLog, LogState, RemovedCert, RootKind, StoreError, StoreRoot,
    anchor_parts_are_sequences, hex, is_sha256_hex, sha256_hex,
};

impl AppleTrustStore {
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
}

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
pub(super) fn oid_list(
    path: &Path,
    what: &str,
    value: &serde_json::Value,
) -> Result<Vec<String>, StoreError> {
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
pub(super) fn is_cert_file_name(name: &str) -> bool {
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
pub(super) struct CertFacts {
    pub(super) cert_sha256: String,
    pub(super) name: String,
    pub(super) subject_der: Vec<u8>,
    pub(super) spki_der: Vec<u8>,
    pub(super) spki_sha256: String,
    pub(super) name_constraints: Option<Vec<u8>>,
    pub(super) not_after: i64,
}

impl CertFacts {
    pub(super) fn parse(path: &Path, der: &[u8]) -> Result<Self, StoreError> {
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
        if !anchor_parts_are_sequences(&subject_der, &spki_der, name_constraints.as_deref()) {
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
