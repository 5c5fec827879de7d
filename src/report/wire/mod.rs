//! The JSON wire format (`--format json` and `--format jsonl`), as its own types: what
//! docs/json-schema.md describes, field for field and in the same order. Writers convert results
//! into these types (`convert.rs`); every reader of saved results (`baseline save --from`,
//! `export --from`) deserialises them, so the schema is written down once.
//!
//! The types own their data and borrow nothing from the analysis: a field changes in the JSON only
//! when it changes here. Finding codes travel as their names (strings), so a report that names a
//! code this build does not know can still be read. Fields that a later schema version 1 added are
//! `#[serde(default)]` when read, so older reports stay readable.

mod convert;
pub mod restore;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::context::RunContext;
use crate::model::row::Transport;

pub use convert::{target, trailer};

/// Bumped when a field changes meaning or disappears; additions do not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole `--format json` document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub tool: String,
    pub version: String,
    pub schema_version: u32,
    pub started_at: String,
    pub finished_at: String,
    /// Where the run was made from, its route, and the stores and data that judged.
    #[serde(default)]
    pub context: RunContext,
    pub targets: Vec<Target>,
    pub summary: Summary,
}

/// The last line of `--format jsonl`: what the document puts around its targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trailer {
    pub summary: Summary,
    pub tool: String,
    pub version: String,
    pub schema_version: u32,
    pub started_at: String,
    pub finished_at: String,
    /// Whether the target lines include OCSP and CRL results.
    pub revocation_checked: bool,
    #[serde(default)]
    pub context: RunContext,
}

/// Counts per verdict, and the exit code they imply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub total: usize,
    /// One count per verdict name, every verdict present (zero included).
    #[serde(flatten)]
    pub counts: BTreeMap<String, usize>,
    pub exit_code: u8,
    pub interrupted: bool,
    pub deadline_passed: bool,
    pub not_probed: usize,
}

/// The path a PAC chose for a target (`route`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The PAC's path or URL.
    pub pac: String,
    /// `FindProxyForURL`'s whole answer.
    pub answer: String,
    /// The entry taken; `null` when none could be used.
    #[serde(default)]
    pub chosen: Option<String>,
    /// Entries tried first that could not be used.
    #[serde(default)]
    pub failed: Vec<RouteFailure>,
}

/// A PAC entry that could not be used, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteFailure {
    pub entry: String,
    pub detail: String,
}

/// One target: the objects in `targets`, and each target line of JSON Lines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub host: String,
    pub port: u16,
    #[serde(default = "tcp")]
    pub transport: Transport,
    #[serde(default)]
    pub section: Option<String>,
    #[serde(default)]
    pub representative: bool,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub legacy: bool,
    #[serde(default)]
    pub sni: Option<String>,
    #[serde(default)]
    pub proxy: Option<String>,
    /// With `--pac`: the PAC's answer and the entry taken (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    #[serde(default)]
    pub addresses: Vec<String>,
    #[serde(default)]
    pub address_used: Option<String>,
    pub verdict: Verdict,
    #[serde(default)]
    pub findings: Vec<Finding>,
    #[serde(default)]
    pub explanation: String,
    #[serde(default)]
    pub tls: Option<Tls>,
    #[serde(default)]
    pub anchor: Option<String>,
    #[serde(default)]
    pub anchor_spki_sha256: Option<String>,
    #[serde(default)]
    pub chain: Vec<Cert>,
    #[serde(default)]
    pub apple_pinning: Option<ApplePinning>,
    #[serde(default)]
    pub interception: Option<Interception>,
    #[serde(default)]
    pub trust_views: Option<TrustViews>,
    #[serde(default)]
    pub certificate_transparency: Option<CertificateTransparency>,
    #[serde(default)]
    pub service: Option<Service>,
    #[serde(default)]
    pub revocation: Vec<Revocation>,
    #[serde(default)]
    pub elapsed_ms: u64,
}

fn tcp() -> Transport {
    Transport::Tcp
}

impl Target {
    /// `host:port` with IPv6 literals bracketed.
    pub fn label(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Defines a wire enum written in snake_case, with its name as a string.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &[Self] = &[$(Self::$variant),+];

            /// The name as the JSON writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// The value the JSON writes as `name`.
            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == name)
            }
        }
    };
}

wire_enum! {
    /// A target's verdict (docs/verdicts.md).
    Verdict {
        Pass => "pass",
        Intercepted => "intercepted",
        Untrusted => "untrusted",
        Blocked => "blocked",
        Timeout => "timeout",
        DnsError => "dns_error",
        TlsError => "tls_error",
        ProxyError => "proxy_error",
        ProtocolError => "protocol_error",
        Skipped => "skipped",
    }
}

wire_enum! {
    /// How much a finding matters.
    Severity { Info => "info", Warning => "warning", Error => "error" }
}

wire_enum! {
    /// Where an SCT came from.
    SctSource { Embedded => "embedded", TlsExtension => "tls_extension", Ocsp => "ocsp" }
}

wire_enum! {
    /// What checking one SCT showed.
    SctStatus {
        Verified => "verified",
        InvalidSignature => "invalid_signature",
        UnknownLog => "unknown_log",
        LogNotAccepted => "log_not_accepted",
        FutureTimestamp => "future_timestamp",
        Malformed => "malformed",
        IssuerUnknown => "issuer_unknown",
    }
}

wire_enum! {
    /// Which of Apple's CT rules decided compliance.
    CtRoute { Embedded => "embedded", Delivered => "delivered" }
}

wire_enum! {
    /// Where a certificate's revocation status was asked.
    RevocationKind { Ocsp => "ocsp", Crl => "crl" }
}

wire_enum! {
    /// What one OCSP responder or CRL said about one certificate.
    RevocationStatus {
        Good => "good",
        Revoked => "revoked",
        Unknown => "unknown",
        Unreachable => "unreachable",
        Invalid => "invalid",
        NotChecked => "not_checked",
    }
}

/// One graded observation about a target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The finding's code (docs/json-schema.md lists them).
    pub code: String,
    pub severity: Severity,
    pub message: String,
}

/// The negotiated TLS parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tls {
    pub version: String,
    pub cipher_suite: String,
    #[serde(default)]
    pub alpn: Option<String>,
}

/// One presented certificate, described.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cert {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub sha256: String,
    pub spki_sha256: String,
    /// The subjectAltName's DNS names and IP addresses, in order.
    #[serde(default)]
    pub sans: Vec<String>,
    /// The public key's type and size.
    #[serde(default)]
    pub key: Option<Key>,
    /// The signature algorithm's name ("sha256WithRSAEncryption", "ecdsa-with-SHA384", or the
    /// dotted OID).
    #[serde(default)]
    pub signature_algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
}

/// A certificate's public key, described.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// `"rsa"`, `"ec"`, `"ed25519"`, or the algorithm's dotted OID.
    #[serde(rename = "type")]
    pub kind: String,
    /// RSA modulus size, EC field size; 0 when unknown.
    pub bits: u32,
    /// For EC keys, the curve ("P-256", "P-384", or its OID); otherwise null.
    #[serde(default)]
    pub curve: Option<String>,
}

/// Apple's pinning policy for the host and how the chain fares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplePinning {
    pub policy: String,
    pub source: String,
    pub satisfied: bool,
    pub rule_results: Vec<RuleResult>,
}

/// One rule set of a pinning policy, checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleResult {
    pub rule: String,
    pub passed: bool,
    pub failed_checks: Vec<String>,
}

/// Why a target is judged intercepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interception {
    pub product: Option<String>,
    pub anchor_subject: Option<String>,
    /// The finding codes that are evidence of interception.
    pub evidence: Vec<String>,
}

/// How Apple devices, public clients and this machine each see the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustViews {
    pub apple_devices: View,
    pub public_clients: View,
    pub this_machine: View,
}

/// Whether one store leads the chain to an anchor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    pub store: String,
    pub accepted: bool,
    pub anchor: Option<String>,
    pub reason: Option<String>,
}

/// Certificate Transparency, as Apple's policy reads the leaf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateTransparency {
    pub scts: Vec<Sct>,
    pub required: usize,
    pub verified: usize,
    pub operators: usize,
    pub operator_names: Vec<String>,
    pub compliant: bool,
    pub route: CtRoute,
    pub rule: String,
    pub lifetime_days: Option<i64>,
    pub notes: Vec<String>,
}

/// One SCT, checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sct {
    pub source: SctSource,
    pub log_id: String,
    pub log: Option<String>,
    pub operator: Option<String>,
    pub timestamp: Option<String>,
    pub status: SctStatus,
    pub detail: Option<String>,
}

/// What one OCSP responder or CRL said about one certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub kind: RevocationKind,
    pub url: String,
    pub certificate: String,
    pub certificate_sha256: String,
    pub status: RevocationStatus,
    pub detail: String,
    pub reason: Option<String>,
    pub revoked_at: Option<String>,
    pub this_update: Option<String>,
    pub next_update: Option<String>,
}

/// What a non-TLS service said, tagged by `protocol`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "lowercase")]
pub enum Service {
    Http(HttpAnswer),
    Ntp(NtpAnswer),
    Ssh(SshAnswer),
    Quic(QuicAnswer),
}

/// A plain-HTTP response: status line and headers (names lower-cased, in the order received).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpAnswer {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

/// An SNTP reply, measured against this machine's clock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NtpAnswer {
    pub stratum: u8,
    pub leap: u8,
    pub version: u8,
    pub reference_id: String,
    pub offset_ms: Option<f64>,
    pub round_trip_ms: Option<f64>,
}

/// The identification line an SSH server sends first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshAnswer {
    pub banner: String,
}

/// A QUIC Version Negotiation packet's versions, in the server's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuicAnswer {
    pub versions: Vec<u32>,
}
