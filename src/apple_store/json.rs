//! The JSON form of the store (`data/apple_trust_store.json`, which is embedded): written by
//! `tools/derive_apple_trust_store.rs` through [`AppleTrustStore::to_json`], read back with every
//! hash checked against the bytes it describes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    AppleTrustStore, CtLog, JSON_FORMAT, LogState, RemovedCert, RootKind, StoreError, StoreRoot,
    anchor_parts_are_sequences, hex, is_sha256_hex, sha256_hex, unhex,
};

impl AppleTrustStore {
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
            if !anchor_parts_are_sequences(&subject_der, &spki_der, name_constraints.as_deref()) {
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
