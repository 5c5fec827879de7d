#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The JSON contract: real `--format json` output of `audit`, `inspect` and `catalog`, and the
//! baseline file `baseline save` writes, deserialised into a mirror of the schema in
//! docs/json-schema.md (and docs/baselines.md). Every struct denies unknown fields and every
//! nullable field must be present, so a field added, removed or renamed without updating the
//! documentation (and this mirror) fails here. Values are checked too: hashes, times, the documented
//! sets of verdicts, finding codes and severities, the cross-field rules (`interception` exactly for
//! `intercepted`, `service` exactly for the non-TLS probes that answered, …), and the summary
//! against the targets and the process's exit code. The lists of codes and verdicts, and each fixed
//! severity, are also read back from docs/json-schema.md, so the page cannot drift either.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use rcgen::{CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair};
use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use common::*;

// ---------------------------------------------------------------------------------------------
// The mirror of docs/json-schema.md
// ---------------------------------------------------------------------------------------------

/// A field that must be present and may be `null`. serde treats a missing `Option` field as `None`;
/// with `deserialize_with` a missing field is an error instead, which is what a contract wants.
fn nullable<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    tool: String,
    version: String,
    schema_version: u32,
    started_at: String,
    finished_at: String,
    context: RunContext,
    targets: Vec<Target>,
    summary: Summary,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunContext {
    #[serde(deserialize_with = "nullable")]
    host_name: Option<String>,
    local_addresses: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    proxy: Option<ProxyUsed>,
    /// Present only with `--pac`.
    #[serde(default)]
    pac: Option<ProxyUsed>,
    trust_stores: Vec<TrustStoreUsed>,
    data: Vec<DataUsed>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Route {
    pac: String,
    answer: String,
    #[serde(deserialize_with = "nullable")]
    chosen: Option<String>,
    failed: Vec<RouteFailure>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFailure {
    entry: String,
    detail: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProxyUsed {
    url: String,
    from: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustStoreUsed {
    view: String,
    source: String,
    roots: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataUsed {
    name: String,
    version: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Target {
    host: String,
    port: u16,
    transport: Transport,
    #[serde(deserialize_with = "nullable")]
    section: Option<String>,
    representative: bool,
    #[serde(deserialize_with = "nullable")]
    pattern: Option<String>,
    legacy: bool,
    #[serde(deserialize_with = "nullable")]
    sni: Option<String>,
    #[serde(deserialize_with = "nullable")]
    proxy: Option<String>,
    /// Present only with `--pac`.
    #[serde(default)]
    route: Option<Route>,
    addresses: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    address_used: Option<String>,
    verdict: Verdict,
    findings: Vec<Finding>,
    explanation: String,
    #[serde(deserialize_with = "nullable")]
    tls: Option<Tls>,
    #[serde(deserialize_with = "nullable")]
    anchor: Option<String>,
    #[serde(deserialize_with = "nullable")]
    anchor_spki_sha256: Option<String>,
    chain: Vec<Cert>,
    #[serde(deserialize_with = "nullable")]
    apple_pinning: Option<ApplePinning>,
    #[serde(deserialize_with = "nullable")]
    interception: Option<Interception>,
    #[serde(deserialize_with = "nullable")]
    service: Option<Service>,
    revocation: Vec<Revocation>,
    #[serde(deserialize_with = "nullable")]
    trust_views: Option<TrustViews>,
    #[serde(deserialize_with = "nullable")]
    certificate_transparency: Option<CertificateTransparency>,
    elapsed_ms: u64,
}

/// The chain in each of the three views.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustViews {
    apple_devices: View,
    public_clients: View,
    this_machine: View,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct View {
    store: String,
    accepted: bool,
    #[serde(deserialize_with = "nullable")]
    anchor: Option<String>,
    #[serde(deserialize_with = "nullable")]
    reason: Option<String>,
}

/// Apple's CT policy applied to the leaf.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CertificateTransparency {
    scts: Vec<Sct>,
    required: usize,
    verified: usize,
    operators: usize,
    operator_names: Vec<String>,
    compliant: bool,
    route: CtRoute,
    rule: String,
    #[serde(deserialize_with = "nullable")]
    lifetime_days: Option<i64>,
    notes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum CtRoute {
    Embedded,
    Delivered,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Sct {
    source: SctSource,
    log_id: String,
    #[serde(deserialize_with = "nullable")]
    log: Option<String>,
    #[serde(deserialize_with = "nullable")]
    operator: Option<String>,
    #[serde(deserialize_with = "nullable")]
    timestamp: Option<String>,
    status: SctStatus,
    #[serde(deserialize_with = "nullable")]
    detail: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SctSource {
    Embedded,
    TlsExtension,
    Ocsp,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SctStatus {
    Verified,
    InvalidSignature,
    UnknownLog,
    LogNotAccepted,
    FutureTimestamp,
    IssuerUnknown,
    Malformed,
}

/// Apple's pinning policy for the host and how the chain fares under it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplePinning {
    policy: String,
    source: String,
    satisfied: bool,
    rule_results: Vec<RuleResult>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleResult {
    rule: String,
    passed: bool,
    failed_checks: Vec<String>,
}

/// Who intercepted, and on what evidence: present exactly for `intercepted` targets.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Interception {
    #[serde(deserialize_with = "nullable")]
    product: Option<String>,
    #[serde(deserialize_with = "nullable")]
    anchor_subject: Option<String>,
    evidence: Vec<Code>,
}

/// What a non-TLS service answered, tagged by `protocol`.
#[derive(Debug, Deserialize)]
#[serde(tag = "protocol", rename_all = "lowercase", deny_unknown_fields)]
enum Service {
    Http {
        status: u16,
        reason: String,
        /// `[name, value]` pairs, names in lower case, in the order received.
        headers: Vec<(String, String)>,
    },
    Ntp {
        stratum: u8,
        leap: u8,
        version: u8,
        reference_id: String,
        #[serde(deserialize_with = "nullable")]
        offset_ms: Option<f64>,
        #[serde(deserialize_with = "nullable")]
        round_trip_ms: Option<f64>,
    },
    Ssh {
        banner: String,
    },
    Quic {
        versions: Vec<u32>,
    },
}

impl Service {
    fn protocol(&self) -> &'static str {
        match self {
            Self::Http { .. } => "http",
            Self::Ntp { .. } => "ntp",
            Self::Ssh { .. } => "ssh",
            Self::Quic { .. } => "quic",
        }
    }
}

/// What one OCSP responder or CRL said about one certificate of the chain.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Revocation {
    kind: RevocationKind,
    url: String,
    certificate: String,
    certificate_sha256: String,
    status: RevocationStatus,
    detail: String,
    #[serde(deserialize_with = "nullable")]
    reason: Option<String>,
    #[serde(deserialize_with = "nullable")]
    revoked_at: Option<String>,
    #[serde(deserialize_with = "nullable")]
    this_update: Option<String>,
    #[serde(deserialize_with = "nullable")]
    next_update: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RevocationKind {
    Ocsp,
    Crl,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RevocationStatus {
    Good,
    Revoked,
    Unknown,
    Unreachable,
    Invalid,
    NotChecked,
}

impl RevocationStatus {
    /// The finding each status brings (`not_checked` brings none: it is no answer).
    fn code(self) -> Option<Code> {
        match self {
            Self::Good => Some(Code::RevocationGood),
            Self::Revoked => Some(Code::Revoked),
            Self::Unknown => Some(Code::RevocationUnknown),
            Self::Unreachable => Some(Code::RevocationUnreachable),
            Self::Invalid => Some(Code::RevocationInvalid),
            Self::NotChecked => None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tls {
    version: String,
    cipher_suite: String,
    #[serde(deserialize_with = "nullable")]
    alpn: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cert {
    subject: String,
    issuer: String,
    serial: String,
    not_before: String,
    not_after: String,
    sha256: String,
    spki_sha256: String,
    sans: Vec<String>,
    key: Option<Key>,
    signature_algorithm: Option<String>,
    /// Optional: present only for a certificate that could not be parsed.
    #[serde(default)]
    parse_error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Key {
    #[serde(rename = "type")]
    kind: String,
    bits: u32,
    curve: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Finding {
    code: Code,
    severity: Severity,
    message: String,
}

/// Every verdict count is always present, zero or not.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Summary {
    total: usize,
    pass: usize,
    intercepted: usize,
    untrusted: usize,
    blocked: usize,
    timeout: usize,
    dns_error: usize,
    tls_error: usize,
    proxy_error: usize,
    protocol_error: usize,
    skipped: usize,
    exit_code: i32,
    interrupted: bool,
    deadline_passed: bool,
    not_probed: usize,
}

impl Summary {
    fn count(&self, v: Verdict) -> usize {
        match v {
            Verdict::Pass => self.pass,
            Verdict::Intercepted => self.intercepted,
            Verdict::Untrusted => self.untrusted,
            Verdict::Blocked => self.blocked,
            Verdict::Timeout => self.timeout,
            Verdict::DnsError => self.dns_error,
            Verdict::TlsError => self.tls_error,
            Verdict::ProxyError => self.proxy_error,
            Verdict::ProtocolError => self.protocol_error,
            Verdict::Skipped => self.skipped,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    Pass,
    Intercepted,
    Untrusted,
    Blocked,
    Timeout,
    DnsError,
    TlsError,
    ProxyError,
    ProtocolError,
    Skipped,
}

const VERDICTS: [Verdict; 10] = [
    Verdict::Pass,
    Verdict::Intercepted,
    Verdict::Untrusted,
    Verdict::Blocked,
    Verdict::Timeout,
    Verdict::DnsError,
    Verdict::TlsError,
    Verdict::ProxyError,
    Verdict::ProtocolError,
    Verdict::Skipped,
];

impl Verdict {
    /// A failure that is not interception: exit code 3 when nothing is intercepted.
    fn is_failure(self) -> bool {
        !matches!(self, Self::Pass | Self::Intercepted | Self::Skipped)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Severity {
    Info,
    Warning,
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Code {
    // The chain.
    ChainValid,
    AnchorNativeOnly,
    AnchorInNoStore,
    IssuerSignatureMismatch,
    UnknownIssuer,
    Expired,
    NotYetValid,
    NameMismatch,
    ChainInvalid,
    PinningSatisfied,
    PinningFailed,
    AppleNamesCopied,
    LeafKeyEqualsIssuerKey,
    KnownInspectionProduct,
    MissingSct,
    TlsProfileMismatch,
    UnexpectedIssuer,
    MalformedCertificate,
    EmptyChain,
    UnexpectedUnknownIssuer,
    SctInvalid,
    RootRemovedByApple,
    PublicClientsRefuse,
    TransparentConnectionAllowed,
    WeakSignatureAlgorithm,
    WeakKey,
    NoServerAuthEku,
    ValidityTooLong,
    NameOnlyInCn,
    Precertificate,
    CtCompliant,
    CtNotCompliant,
    CtNotRequired,
    // The connection.
    ConnectionRefused,
    ConnectionReset,
    ConnectionClosed,
    Unreachable,
    Timeout,
    DnsFailure,
    DnsNxdomain,
    DnsServfail,
    DnsRefused,
    DnsNoAddresses,
    DnsNoAnswer,
    TlsAlert,
    NotTls,
    TlsProtocolError,
    IoError,
    NotProbed,
    Interrupted,
    AddressOutsideDocumentedNetwork,
    // Proxies.
    ProxyAuthRequired,
    ProxyRefused,
    ProxyUpstreamError,
    ProxyClosed,
    ProxyUnreachable,
    ProxyNotSupported,
    // The non-TLS probes.
    UnexpectedAnswer,
    HttpAnswered,
    TransparentProxy,
    BlockPage,
    NtpAnswered,
    ClockSkew,
    NtpUnsynchronised,
    SshBanner,
    QuicVersionNegotiation,
    NotVerified,
    // Baselines.
    PinMatch,
    PinRotation,
    PinMismatch,
    TlsProfileChanged,
    // Revocation.
    RevocationGood,
    Revoked,
    RevocationUnknown,
    RevocationUnreachable,
    RevocationInvalid,
}

/// Every code, for comparing with the documentation.
const CODES: [Code; 76] = [
    Code::ChainValid,
    Code::AnchorNativeOnly,
    Code::AnchorInNoStore,
    Code::IssuerSignatureMismatch,
    Code::UnknownIssuer,
    Code::Expired,
    Code::NotYetValid,
    Code::NameMismatch,
    Code::ChainInvalid,
    Code::PinningSatisfied,
    Code::PinningFailed,
    Code::AppleNamesCopied,
    Code::LeafKeyEqualsIssuerKey,
    Code::KnownInspectionProduct,
    Code::MissingSct,
    Code::TlsProfileMismatch,
    Code::UnexpectedIssuer,
    Code::MalformedCertificate,
    Code::EmptyChain,
    Code::UnexpectedUnknownIssuer,
    Code::SctInvalid,
    Code::RootRemovedByApple,
    Code::PublicClientsRefuse,
    Code::TransparentConnectionAllowed,
    Code::WeakSignatureAlgorithm,
    Code::WeakKey,
    Code::NoServerAuthEku,
    Code::ValidityTooLong,
    Code::NameOnlyInCn,
    Code::Precertificate,
    Code::CtCompliant,
    Code::CtNotCompliant,
    Code::CtNotRequired,
    Code::ConnectionRefused,
    Code::ConnectionReset,
    Code::ConnectionClosed,
    Code::Unreachable,
    Code::Timeout,
    Code::DnsFailure,
    Code::DnsNxdomain,
    Code::DnsServfail,
    Code::DnsRefused,
    Code::DnsNoAddresses,
    Code::DnsNoAnswer,
    Code::TlsAlert,
    Code::NotTls,
    Code::TlsProtocolError,
    Code::IoError,
    Code::NotProbed,
    Code::Interrupted,
    Code::AddressOutsideDocumentedNetwork,
    Code::ProxyAuthRequired,
    Code::ProxyRefused,
    Code::ProxyUpstreamError,
    Code::ProxyClosed,
    Code::ProxyUnreachable,
    Code::ProxyNotSupported,
    Code::UnexpectedAnswer,
    Code::HttpAnswered,
    Code::TransparentProxy,
    Code::BlockPage,
    Code::NtpAnswered,
    Code::ClockSkew,
    Code::NtpUnsynchronised,
    Code::SshBanner,
    Code::QuicVersionNegotiation,
    Code::NotVerified,
    Code::PinMatch,
    Code::PinRotation,
    Code::PinMismatch,
    Code::TlsProfileChanged,
    Code::RevocationGood,
    Code::Revoked,
    Code::RevocationUnknown,
    Code::RevocationUnreachable,
    Code::RevocationInvalid,
];

impl Code {
    /// The severity docs/json-schema.md gives each code. Fixed per code, except
    /// `tls_profile_mismatch`: an error (evidence of interception) on a chain devices refuse, a
    /// warning on a chain they accept (the target then carries `chain_valid`); and Apple's
    /// certificate requirements: errors, but warnings on a forged chain (`intercepted`). The match
    /// lists every code, so a new one cannot be added to the mirror without deciding its severity.
    fn severity(self, chain_accepted: bool, intercepted: bool) -> Severity {
        match self {
            Self::TlsProfileMismatch if chain_accepted => Severity::Warning,
            Self::TlsProfileMismatch => Severity::Error,
            Self::WeakSignatureAlgorithm
            | Self::WeakKey
            | Self::NoServerAuthEku
            | Self::ValidityTooLong
                if intercepted =>
            {
                Severity::Warning
            }
            Self::PublicClientsRefuse | Self::CtCompliant | Self::CtNotRequired => Severity::Info,
            Self::TransparentConnectionAllowed => Severity::Warning,
            Self::UnexpectedUnknownIssuer
            | Self::SctInvalid
            | Self::RootRemovedByApple
            | Self::WeakSignatureAlgorithm
            | Self::WeakKey
            | Self::NoServerAuthEku
            | Self::ValidityTooLong
            | Self::NameOnlyInCn
            | Self::Precertificate
            | Self::CtNotCompliant => Severity::Error,
            Self::ChainValid
            | Self::PinningSatisfied
            | Self::NotProbed
            | Self::HttpAnswered
            | Self::NtpAnswered
            | Self::SshBanner
            | Self::QuicVersionNegotiation
            | Self::NotVerified
            | Self::PinMatch
            | Self::PinRotation
            | Self::RevocationGood => Severity::Info,
            Self::MissingSct
            | Self::UnexpectedIssuer
            | Self::MalformedCertificate
            | Self::ProxyNotSupported
            | Self::AddressOutsideDocumentedNetwork
            | Self::TransparentProxy
            | Self::ClockSkew
            | Self::TlsProfileChanged
            | Self::RevocationUnknown
            | Self::RevocationUnreachable
            | Self::RevocationInvalid => Severity::Warning,
            Self::AnchorNativeOnly
            | Self::AnchorInNoStore
            | Self::IssuerSignatureMismatch
            | Self::UnknownIssuer
            | Self::Expired
            | Self::NotYetValid
            | Self::NameMismatch
            | Self::ChainInvalid
            | Self::PinningFailed
            | Self::AppleNamesCopied
            | Self::LeafKeyEqualsIssuerKey
            | Self::KnownInspectionProduct
            | Self::EmptyChain
            | Self::ConnectionRefused
            | Self::ConnectionReset
            | Self::ConnectionClosed
            | Self::Unreachable
            | Self::Timeout
            | Self::DnsFailure
            | Self::DnsNxdomain
            | Self::DnsServfail
            | Self::DnsRefused
            | Self::DnsNoAddresses
            | Self::DnsNoAnswer
            | Self::TlsAlert
            | Self::NotTls
            | Self::TlsProtocolError
            | Self::IoError
            | Self::Interrupted
            | Self::ProxyAuthRequired
            | Self::ProxyRefused
            | Self::ProxyUpstreamError
            | Self::ProxyClosed
            | Self::ProxyUnreachable
            | Self::UnexpectedAnswer
            | Self::BlockPage
            | Self::NtpUnsynchronised
            | Self::PinMismatch
            | Self::Revoked => Severity::Error,
        }
    }

    /// The severity when it does not depend on context.
    fn fixed_severity(self) -> Option<Severity> {
        let fixed = self.severity(false, false);
        (fixed == self.severity(true, true)).then_some(fixed)
    }

    /// The codes that are evidence of interception (as errors): any one of them makes the target
    /// `intercepted`, and no other verdict carries them (`tls_profile_mismatch` only as an error).
    fn is_evidence(self) -> bool {
        matches!(
            self,
            Self::AnchorNativeOnly
                | Self::AnchorInNoStore
                | Self::IssuerSignatureMismatch
                | Self::UnexpectedUnknownIssuer
                | Self::AppleNamesCopied
                | Self::LeafKeyEqualsIssuerKey
                | Self::SctInvalid
                | Self::KnownInspectionProduct
                | Self::TlsProfileMismatch
                | Self::PinMismatch
        )
    }

    /// The codes that mean a probe failed, and the verdict each one gives.
    fn failure_verdict(self) -> Option<Verdict> {
        match self {
            Self::ConnectionRefused
            | Self::ConnectionReset
            | Self::ConnectionClosed
            | Self::Unreachable
            | Self::IoError => Some(Verdict::Blocked),
            Self::Timeout => Some(Verdict::Timeout),
            Self::DnsFailure
            | Self::DnsNxdomain
            | Self::DnsServfail
            | Self::DnsRefused
            | Self::DnsNoAddresses
            | Self::DnsNoAnswer => Some(Verdict::DnsError),
            Self::TlsAlert | Self::NotTls | Self::TlsProtocolError => Some(Verdict::TlsError),
            Self::ProxyAuthRequired
            | Self::ProxyRefused
            | Self::ProxyUpstreamError
            | Self::ProxyClosed
            | Self::ProxyUnreachable => Some(Verdict::ProxyError),
            Self::UnexpectedAnswer => Some(Verdict::ProtocolError),
            _ => None,
        }
    }

    /// The protocol of the `service` object a code about a service answer comes with.
    fn service_protocol(self) -> Option<&'static str> {
        match self {
            Self::HttpAnswered | Self::TransparentProxy | Self::BlockPage => Some("http"),
            Self::NtpAnswered | Self::ClockSkew | Self::NtpUnsynchronised => Some("ntp"),
            Self::SshBanner => Some("ssh"),
            Self::QuicVersionNegotiation | Self::NotVerified => Some("quic"),
            _ => None,
        }
    }

    /// The code that says a service answered in its protocol (one per `service` object).
    fn is_service_answer(self) -> bool {
        matches!(
            self,
            Self::HttpAnswered | Self::NtpAnswered | Self::SshBanner | Self::QuicVersionNegotiation
        )
    }

    fn is_baseline(self) -> bool {
        matches!(
            self,
            Self::PinMatch | Self::PinRotation | Self::PinMismatch | Self::TlsProfileChanged
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Transport {
    Tcp,
    Udp,
    Ssh,
}

/// One row of `pinscope catalog --format json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogRow {
    host: String,
    port: u16,
    transport: Transport,
    section: String,
    sections: Vec<String>,
    description: String,
    os: Vec<String>,
    supports_proxy: ProxySupport,
    legacy: bool,
    representative: bool,
    #[serde(deserialize_with = "nullable")]
    pattern: Option<String>,
    source: String,
    sources: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    note: Option<String>,
    #[serde(deserialize_with = "nullable")]
    tls_max: Option<String>,
    tls_ciphers: Vec<String>,
    /// Optional: present only when the catalog row sets `probe`.
    #[serde(default)]
    probe: Option<Probe>,
    #[serde(deserialize_with = "nullable")]
    pinned_by: Option<String>,
    pinned_with: Vec<String>,
    networks: Vec<CatalogNetwork>,
    #[serde(deserialize_with = "nullable")]
    apple_pinning_policy: Option<String>,
}

/// A documented address block of a catalog row.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogNetwork {
    cidr: String,
    source: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ProxySupport {
    Yes,
    No,
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Probe {
    Http,
    Tls,
    Ntp,
    Quic,
    Ssh,
}

// The mirror of docs/baselines.md: the file `pinscope baseline save` writes.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineFile {
    pinscope_baseline: u32,
    created_at: String,
    tool_version: String,
    targets: Vec<BaselineTarget>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineTarget {
    host: String,
    port: u16,
    transport: Transport,
    recorded_at: String,
    chain: Vec<BaselinePosition>,
    anchor: BaselineAnchor,
    #[serde(deserialize_with = "nullable")]
    tls: Option<BaselineTls>,
    #[serde(deserialize_with = "nullable")]
    apple_pinning_policy: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselinePosition {
    position: usize,
    subject: String,
    spki_sha256: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineAnchor {
    #[serde(deserialize_with = "nullable")]
    subject: Option<String>,
    #[serde(deserialize_with = "nullable")]
    spki_sha256: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineTls {
    version: String,
    cipher_suite: String,
}

// ---------------------------------------------------------------------------------------------
// Checks shared by every document
// ---------------------------------------------------------------------------------------------

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_lower_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn rfc3339(field: &str, s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &Rfc3339)
        .unwrap_or_else(|e| panic!("{field} '{s}' is not RFC 3339: {e}"))
}

/// Parses stdout against the mirror and checks every documented invariant; returns the document.
fn parse_document(run: &Run) -> Document {
    let doc: Document = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout does not match the documented schema: {e}\nstdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        )
    });
    assert!(
        run.stdout.ends_with("}\n"),
        "one document, newline-terminated"
    );
    assert_eq!(doc.tool, "pinscope");
    assert_eq!(doc.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(doc.schema_version, 1);
    let started = rfc3339("started_at", &doc.started_at);
    let finished = rfc3339("finished_at", &doc.finished_at);
    assert!(started <= finished, "started_at after finished_at");
    assert!(!doc.targets.is_empty(), "a document always has targets");
    for t in &doc.targets {
        check_target(t);
    }
    check_summary(&doc, run.code);
    doc
}

fn check_target(t: &Target) {
    let label = format!("{}:{}", t.host, t.port);
    assert!(!t.host.is_empty(), "empty host");
    assert!(t.port > 0, "{label}: port 0");
    assert_eq!(
        t.host,
        t.host.to_ascii_lowercase(),
        "{label}: host not lower-case"
    );
    let has = |c: Code| t.findings.iter().any(|f| f.code == c);

    // Catalog fields.
    if t.representative {
        assert!(
            t.pattern.is_some(),
            "{label}: representative without pattern"
        );
    }
    if let Some(p) = &t.pattern {
        assert!(
            p.starts_with("*."),
            "{label}: pattern '{p}' is not a wildcard"
        );
    }
    if t.section.is_none() {
        assert!(
            !t.representative && !t.legacy && t.pattern.is_none(),
            "{label}: catalog flags set on a target with no catalog row"
        );
    }

    // Addresses.
    let addresses: Vec<IpAddr> = t
        .addresses
        .iter()
        .map(|a| {
            a.parse()
                .unwrap_or_else(|_| panic!("{label}: address '{a}' is not an IP address"))
        })
        .collect();
    if let Some(used) = &t.address_used {
        let used: IpAddr = used
            .parse()
            .unwrap_or_else(|_| panic!("{label}: address_used '{used}' is not an IP address"));
        assert!(
            addresses.contains(&used),
            "{label}: address_used {used} not among addresses {addresses:?}"
        );
    }

    // The proxy: an http://, https://, socks5:// or socks5h:// URL, never with credentials.
    if let Some(proxy) = &t.proxy {
        let (scheme, rest) = proxy.split_once("://").unwrap_or(("", proxy));
        assert!(
            ["http", "https", "socks5", "socks5h"].contains(&scheme),
            "{label}: proxy '{proxy}'"
        );
        if let Some((userinfo, _)) = rest.split_once('@') {
            assert_eq!(userinfo, "***", "{label}: credentials in proxy '{proxy}'");
        }
        assert!(
            t.service.is_none() || t.port == 80,
            "{label}: only TLS and port-80 targets use a proxy"
        );
    }
    // A route names the entry taken, which the PAC's answer contains, and never one that failed.
    if let Some(route) = &t.route
        && let Some(chosen) = &route.chosen
    {
        {
            assert!(
                route
                    .answer
                    .contains(chosen.split_whitespace().last().unwrap_or("")),
                "{label}: {route:?}"
            );
            assert!(
                route
                    .failed
                    .iter()
                    .all(|f| &f.entry != chosen && !f.detail.is_empty()),
                "{label}: {route:?}"
            );
            assert!(!route.pac.is_empty(), "{label}: {route:?}");
        }
    }
    if has(Code::ProxyNotSupported) {
        assert!(t.proxy.is_some(), "{label}: proxy_not_supported, no proxy");
    }

    // Findings: at least one, each with its documented severity and a message.
    assert!(!t.findings.is_empty(), "{label}: no findings");
    let chain_accepted = has(Code::ChainValid);
    for f in &t.findings {
        assert_eq!(
            f.severity,
            f.code
                .severity(chain_accepted, t.verdict == Verdict::Intercepted),
            "{label}: {:?} has an undocumented severity",
            f.code
        );
        assert!(!f.message.trim().is_empty(), "{label}: empty message");
    }
    assert!(
        !t.explanation.trim().is_empty(),
        "{label}: empty explanation"
    );

    // The three views: present exactly when a chain was judged; each view has an anchor exactly
    // when it accepts the chain, a reason exactly when it does not; Apple devices' view is the one
    // `chain_valid` speaks for.
    match &t.trust_views {
        Some(views) => {
            assert!(!t.chain.is_empty(), "{label}: trust_views without a chain");
            for (name, v) in [
                ("apple_devices", &views.apple_devices),
                ("public_clients", &views.public_clients),
                ("this_machine", &views.this_machine),
            ] {
                assert!(!v.store.is_empty(), "{label}: {name} names no store");
                assert_eq!(v.accepted, v.anchor.is_some(), "{label}: {name} anchor");
                assert_eq!(!v.accepted, v.reason.is_some(), "{label}: {name} reason");
            }
            if chain_accepted {
                assert!(
                    views.apple_devices.accepted,
                    "{label}: chain_valid, view refuses"
                );
            }
            if t.verdict == Verdict::Intercepted && !has(Code::PinMismatch) {
                assert!(
                    !views.apple_devices.accepted,
                    "{label}: intercepted on a chain devices accept"
                );
            }
        }
        None => assert!(
            t.chain.is_empty() || has(Code::ChainInvalid),
            "{label}: a judged chain without trust_views"
        ),
    }
    if let Some(ct) = &t.certificate_transparency {
        assert!(
            chain_accepted,
            "{label}: certificate_transparency without chain_valid"
        );
        assert!(
            ct.verified <= ct.scts.len(),
            "{label}: more verified than SCTs"
        );
        assert!(
            !ct.compliant || (ct.verified >= ct.required && ct.required > 0),
            "{label}: compliant with too few SCTs"
        );
        assert!(!ct.rule.is_empty(), "{label}: CT rule not named");
        assert_eq!(
            ct.operator_names.len(),
            ct.operators,
            "{label}: CT operators"
        );
    }

    // TLS parameters.
    if let Some(tls) = &t.tls {
        assert!(
            ["TLSv1.2", "TLSv1.3"].contains(&tls.version.as_str()),
            "{label}: TLS version '{}'",
            tls.version
        );
        assert!(!tls.cipher_suite.is_empty(), "{label}: empty cipher suite");
        if let Some(alpn) = &tls.alpn {
            assert!(!alpn.is_empty(), "{label}: empty ALPN");
        }
        assert!(!t.chain.is_empty(), "{label}: a handshake without a chain");
        assert!(
            t.address_used.is_some(),
            "{label}: a handshake without an address"
        );
    }

    // The chain, leaf first.
    for (i, c) in t.chain.iter().enumerate() {
        assert!(
            is_hex64(&c.sha256),
            "{label}: chain[{i}].sha256 '{}'",
            c.sha256
        );
        match &c.parse_error {
            None => {
                assert!(
                    is_hex64(&c.spki_sha256),
                    "{label}: chain[{i}].spki_sha256 '{}'",
                    c.spki_sha256
                );
                assert!(
                    is_lower_hex(&c.serial),
                    "{label}: chain[{i}].serial '{}'",
                    c.serial
                );
                let nb = rfc3339("not_before", &c.not_before);
                let na = rfc3339("not_after", &c.not_after);
                assert!(nb <= na, "{label}: chain[{i}] ends before it starts");
                let key = c
                    .key
                    .as_ref()
                    .expect("a parsed certificate's key is described");
                assert!(
                    ["rsa", "ec", "ed25519"].contains(&key.kind.as_str()) || key.kind.contains('.'),
                    "{label}: chain[{i}].key.type '{}'",
                    key.kind
                );
                assert_eq!(
                    key.curve.is_some(),
                    key.kind == "ec",
                    "{label}: chain[{i}].key"
                );
                assert!(
                    key.bits > 0 || key.kind.contains('.'),
                    "{label}: chain[{i}].key.bits"
                );
                assert!(
                    c.signature_algorithm
                        .as_deref()
                        .is_some_and(|a| !a.is_empty()),
                    "{label}: chain[{i}].signature_algorithm"
                );
                if i == 0 && t.verdict == Verdict::Pass && t.service.is_none() {
                    assert!(!c.sans.is_empty(), "{label}: a passing leaf names its host");
                }
                assert!(!c.subject.is_empty() && !c.issuer.is_empty());
            }
            Some(e) => {
                assert!(!e.is_empty(), "{label}: empty parse_error");
                assert!(
                    has(Code::MalformedCertificate),
                    "{label}: parse_error without finding"
                );
            }
        }
    }

    // The anchor's key: 64 hex characters, only with an anchor; a chain devices accept always has
    // one.
    if let Some(spki) = &t.anchor_spki_sha256 {
        assert!(is_hex64(spki), "{label}: anchor_spki_sha256 '{spki}'");
        assert!(t.anchor.is_some(), "{label}: an anchor key without anchor");
    }
    if chain_accepted {
        assert!(
            t.anchor.is_some() && t.anchor_spki_sha256.is_some(),
            "{label}: an accepted chain without anchor or its key"
        );
    }
    if t.chain.is_empty() {
        assert!(
            t.anchor.is_none() && t.anchor_spki_sha256.is_none(),
            "{label}: an anchor without a chain"
        );
    }

    // The verdict agrees with its findings, as documented.
    let evidence: Vec<Code> = t
        .findings
        .iter()
        .filter(|f| f.code.is_evidence() && f.severity == Severity::Error)
        .map(|f| f.code)
        .collect();
    assert_eq!(
        !evidence.is_empty(),
        t.verdict == Verdict::Intercepted,
        "{label}: evidence of interception {evidence:?} under verdict {:?}",
        t.verdict
    );
    match t.verdict {
        Verdict::Pass => {
            assert!(
                has(Code::ChainValid)
                    || has(Code::TransparentConnectionAllowed)
                    || t.service.is_some(),
                "{label}: pass without chain_valid, transparent_connection_allowed or a service answer"
            );
            assert!(
                t.findings.iter().all(|f| f.severity != Severity::Error),
                "{label}: pass with an error"
            );
            if t.service.is_none() {
                assert!(
                    !t.chain.is_empty() && t.anchor.is_some(),
                    "{label}: pass without anchor"
                );
            }
        }
        Verdict::Intercepted => assert!(!t.chain.is_empty(), "{label}: intercepted, no chain"),
        Verdict::Untrusted => {
            assert!(
                t.findings.iter().any(|f| f.severity == Severity::Error),
                "{label}: untrusted without an error"
            );
            assert!(!t.chain.is_empty() || has(Code::EmptyChain));
        }
        Verdict::Blocked
        | Verdict::Timeout
        | Verdict::DnsError
        | Verdict::TlsError
        | Verdict::ProxyError
        | Verdict::ProtocolError => {
            let own = t
                .findings
                .iter()
                .any(|f| f.code.failure_verdict() == Some(t.verdict));
            let service_failure = match t.verdict {
                Verdict::Blocked => has(Code::BlockPage),
                Verdict::ProtocolError => has(Code::NtpUnsynchronised),
                _ => false,
            };
            assert!(
                own || service_failure,
                "{label}: {:?} without its failure code",
                t.verdict
            );
            assert!(
                t.tls.is_none(),
                "{label}: a failed probe with TLS parameters"
            );
            if t.verdict == Verdict::DnsError {
                assert!(t.addresses.is_empty() && t.address_used.is_none());
            }
            if t.verdict == Verdict::ProxyError {
                assert!(t.proxy.is_some(), "{label}: proxy_error without a proxy");
            }
        }
        // Interrupted in flight: what the probe had seen stays (addresses, the address used).
        Verdict::Skipped if t.findings.first().map(|f| f.code) == Some(Code::Interrupted) => {
            assert!(t.tls.is_none(), "{label}: interrupted with TLS parameters");
        }
        Verdict::Skipped => {
            assert!(
                t.findings.len() == 1 && t.findings[0].code == Code::NotProbed,
                "{label}: skipped must carry exactly one not_probed (or first an interrupted) \
                 finding"
            );
            assert!(t.tls.is_none() && t.chain.is_empty() && t.anchor.is_none());
            assert!(t.addresses.is_empty() && t.address_used.is_none() && t.sni.is_none());
            assert!(t.apple_pinning.is_none() && t.service.is_none() && t.proxy.is_none());
            assert_eq!(t.elapsed_ms, 0, "{label}: skipped targets take no time");
        }
    }

    // service: exactly when a non-TLS service answered in its protocol; the codes about it go
    // with its protocol, and there is nothing of TLS.
    let answers: Vec<Code> = t
        .findings
        .iter()
        .map(|f| f.code)
        .filter(|c| c.is_service_answer())
        .collect();
    match &t.service {
        Some(service) => {
            assert_eq!(answers.len(), 1, "{label}: one service answer per target");
            assert_eq!(answers[0].service_protocol(), Some(service.protocol()));
            assert!(
                t.tls.is_none()
                    && t.chain.is_empty()
                    && t.sni.is_none()
                    && t.anchor.is_none()
                    && t.apple_pinning.is_none()
                    && t.interception.is_none()
                    && t.revocation.is_empty(),
                "{label}: a service answer with TLS fields"
            );
            assert!(t.address_used.is_some(), "{label}: who answered?");
            assert!(
                matches!(
                    t.verdict,
                    Verdict::Pass | Verdict::Blocked | Verdict::ProtocolError
                ),
                "{label}: service under {:?}",
                t.verdict
            );
            check_service(&label, service);
        }
        None => assert!(answers.is_empty(), "{label}: {answers:?} without service"),
    }
    for f in &t.findings {
        if let Some(protocol) = f.code.service_protocol() {
            assert_eq!(
                t.service.as_ref().map(Service::protocol),
                Some(protocol),
                "{label}: {:?} without a {protocol} answer",
                f.code
            );
        }
    }
    if has(Code::BlockPage) {
        assert_eq!(t.verdict, Verdict::Blocked, "{label}: block_page");
    }
    if has(Code::NtpUnsynchronised) {
        assert_eq!(t.verdict, Verdict::ProtocolError, "{label}: unsynchronised");
    }

    // apple_pinning: present when Apple pins the host and a chain was judged; its rule sets are
    // alternatives, numbered from 1, and it agrees with the pinning findings.
    match &t.apple_pinning {
        Some(p) => {
            assert!(
                !t.chain.is_empty(),
                "{label}: apple_pinning without a chain"
            );
            assert!(
                !p.policy.is_empty() && !p.source.is_empty(),
                "{label}: {p:?}"
            );
            assert!(
                !p.rule_results.is_empty(),
                "{label}: a policy without rule sets"
            );
            for (i, r) in p.rule_results.iter().enumerate() {
                assert!(
                    r.rule.starts_with(&format!("{}: ", i + 1)) && r.rule.len() > 3,
                    "{label}: rule_results[{i}].rule '{}'",
                    r.rule
                );
                assert_eq!(
                    r.passed,
                    r.failed_checks.is_empty(),
                    "{label}: rule_results[{i}] passed iff no check failed"
                );
                assert!(r.failed_checks.iter().all(|c| !c.trim().is_empty()));
            }
            assert_eq!(
                p.satisfied,
                p.rule_results.iter().any(|r| r.passed),
                "{label}: satisfied iff any rule set passed"
            );
            if p.satisfied {
                // A chain the device view refuses never reaches the pin: pinning_failed is
                // reported for it even when the presented certificates pass a rule set's checks.
                if has(Code::PinningFailed) {
                    assert!(
                        !has(Code::ChainValid) && !has(Code::PinningSatisfied),
                        "{label}: an accepted chain that satisfies its pin reported as failed"
                    );
                } else if matches!(t.verdict, Verdict::Pass | Verdict::Untrusted) {
                    assert!(has(Code::PinningSatisfied), "{label}: no pinning_satisfied");
                }
            } else {
                assert!(
                    has(Code::PinningFailed),
                    "{label}: not satisfied, no pinning_failed"
                );
                assert!(!has(Code::PinningSatisfied));
                assert_ne!(t.verdict, Verdict::Pass, "{label}: pass with a failed pin");
            }
        }
        None => assert!(
            !has(Code::PinningSatisfied) && !has(Code::PinningFailed),
            "{label}: a pinning finding without apple_pinning"
        ),
    }

    // interception: present exactly for intercepted targets; its evidence is the evidence codes
    // among the findings, in the findings' order, with missing_sct when it supports a forged
    // (refused) chain. On a chain devices accept, which only a baseline's pin_mismatch makes
    // intercepted, missing_sct is the Certificate Transparency reminder and is not evidence.
    match (&t.interception, t.verdict) {
        (Some(i), Verdict::Intercepted) => {
            let expected: Vec<Code> = t
                .findings
                .iter()
                .filter(|f| {
                    (f.code.is_evidence() && f.severity == Severity::Error)
                        || (f.code == Code::MissingSct && !chain_accepted)
                })
                .map(|f| f.code)
                .collect();
            assert_eq!(i.evidence, expected, "{label}: interception.evidence");
            assert_eq!(
                i.anchor_subject, t.anchor,
                "{label}: anchor_subject is the anchor"
            );
            if let Some(p) = &i.product {
                assert!(!p.is_empty(), "{label}: empty product");
            }
            assert_eq!(
                i.product.is_some(),
                has(Code::KnownInspectionProduct),
                "{label}: a product is named iff known_inspection_product is found"
            );
        }
        (None, Verdict::Intercepted) => panic!("{label}: intercepted without interception"),
        (Some(_), v) => panic!("{label}: interception under verdict {v:?}"),
        (None, _) => {}
    }

    // Failure codes appear only with their own verdict, or under intercepted (a middlebox that forged
    // a chain and then dropped the connection).
    for f in &t.findings {
        if let Some(v) = f.code.failure_verdict() {
            assert!(
                t.verdict == v || t.verdict == Verdict::Intercepted,
                "{label}: {:?} under verdict {:?}",
                f.code,
                t.verdict
            );
        }
    }

    // Baseline codes: at most one of match, rotation and mismatch, and only with a chain.
    let drift: Vec<Code> = t
        .findings
        .iter()
        .map(|f| f.code)
        .filter(|c| c.is_baseline() && *c != Code::TlsProfileChanged)
        .collect();
    assert!(drift.len() <= 1, "{label}: {drift:?}");
    if !drift.is_empty() || has(Code::TlsProfileChanged) {
        assert!(
            !t.chain.is_empty(),
            "{label}: a baseline comparison, no chain"
        );
    }
    if has(Code::TlsProfileChanged) {
        assert_eq!(drift.len(), 1, "{label}: tls_profile_changed alone");
    }
    if has(Code::PinRotation) {
        // A rotation is a pass, unless revocation (judged after the comparison) says revoked.
        assert!(
            t.verdict == Verdict::Pass || (t.verdict == Verdict::Untrusted && has(Code::Revoked)),
            "{label}: a rotation under {:?}",
            t.verdict
        );
    }

    check_revocation(t);
}

fn check_service(label: &str, service: &Service) {
    match service {
        Service::Http {
            status,
            reason: _,
            headers,
        } => {
            assert!(
                (100..=599).contains(status),
                "{label}: HTTP status {status}"
            );
            for (name, _) in headers {
                assert!(!name.is_empty(), "{label}: empty header name");
                assert_eq!(name, &name.to_ascii_lowercase(), "{label}: header {name}");
            }
        }
        Service::Ntp {
            stratum: _,
            leap,
            version,
            reference_id: _,
            offset_ms,
            round_trip_ms,
        } => {
            assert!(*leap <= 3, "{label}: leap {leap}");
            assert!(*version <= 7, "{label}: version {version}");
            if let Some(o) = offset_ms {
                assert!(o.is_finite(), "{label}: offset {o}");
            }
            if let Some(rtt) = round_trip_ms {
                assert!(rtt.is_finite() && *rtt >= 0.0, "{label}: round trip {rtt}");
            }
        }
        Service::Ssh { banner } => {
            assert!(banner.starts_with("SSH-"), "{label}: banner '{banner}'");
        }
        Service::Quic { versions } => {
            assert!(!versions.is_empty(), "{label}: no versions");
        }
    }
}

/// `revocation`: one entry per OCSP or CRL source of a certificate of the chain, each with its
/// finding (none for `not_checked`), RFC 3339 times or null.
fn check_revocation(t: &Target) {
    let label = format!("{}:{}", t.host, t.port);
    if !t.revocation.is_empty() {
        assert!(!t.chain.is_empty(), "{label}: revocation without a chain");
    }
    for (i, e) in t.revocation.iter().enumerate() {
        let what = format!("{label}: revocation[{i}]");
        assert!(!e.url.is_empty() && !e.certificate.is_empty(), "{what}");
        assert!(!e.detail.trim().is_empty(), "{what}: empty detail");
        assert!(
            is_hex64(&e.certificate_sha256),
            "{what}: certificate_sha256"
        );
        assert!(
            t.chain.iter().any(|c| c.sha256 == e.certificate_sha256),
            "{what}: not about a certificate of the chain"
        );
        for (field, value) in [
            ("revoked_at", &e.revoked_at),
            ("this_update", &e.this_update),
            ("next_update", &e.next_update),
        ] {
            if let Some(v) = value {
                rfc3339(field, v);
            }
        }
        assert_eq!(
            e.revoked_at.is_some(),
            e.status == RevocationStatus::Revoked,
            "{what}: revoked_at exactly for revoked"
        );
        if e.reason.is_some() {
            assert_eq!(e.status, RevocationStatus::Revoked, "{what}: reason");
        }
        if e.next_update.is_some() {
            assert!(e.this_update.is_some(), "{what}: next_update alone");
        }
        if e.status == RevocationStatus::Good {
            assert!(e.this_update.is_some(), "{what}: good without thisUpdate");
        }
        let _ = e.kind;
    }
    // Each answer has its finding, and only answers have one.
    for code in [
        Code::RevocationGood,
        Code::Revoked,
        Code::RevocationUnknown,
        Code::RevocationUnreachable,
        Code::RevocationInvalid,
    ] {
        let statuses = t
            .revocation
            .iter()
            .filter(|e| e.status.code() == Some(code))
            .count();
        let findings = t.findings.iter().filter(|f| f.code == code).count();
        assert_eq!(statuses, findings, "{label}: {code:?} findings and entries");
    }
    if t.revocation
        .iter()
        .any(|e| e.status == RevocationStatus::Revoked)
    {
        assert_ne!(t.verdict, Verdict::Pass, "{label}: a revoked chain passed");
    }
}

fn check_summary(doc: &Document, process_code: i32) {
    let s = &doc.summary;
    assert_eq!(s.total, doc.targets.len(), "summary.total");
    let sum: usize = VERDICTS.iter().map(|v| s.count(*v)).sum();
    assert_eq!(sum, s.total, "the verdict counts add up to total");
    // These runs are neither interrupted nor cut short (tests/robustness.rs covers those).
    assert!(!s.interrupted && !s.deadline_passed, "summary.interrupted");
    assert_eq!(s.not_probed, 0, "summary.not_probed");
    let mut seen: BTreeMap<Verdict, usize> = BTreeMap::new();
    for t in &doc.targets {
        *seen.entry(t.verdict).or_default() += 1;
    }
    for v in VERDICTS {
        assert_eq!(
            s.count(v),
            seen.get(&v).copied().unwrap_or(0),
            "summary count of {v:?}"
        );
    }
    let failed: usize = VERDICTS
        .iter()
        .filter(|v| v.is_failure())
        .map(|v| s.count(*v))
        .sum();
    let expected = if s.intercepted > 0 {
        1
    } else if failed > 0 {
        3
    } else {
        0
    };
    assert_eq!(
        s.exit_code, expected,
        "summary.exit_code follows the documented rule"
    );
    assert_eq!(
        s.exit_code, process_code,
        "summary.exit_code is the process's exit code"
    );
}

impl Document {
    fn target(&self, host: &str, port: u16) -> &Target {
        self.targets
            .iter()
            .find(|t| t.host == host && t.port == port)
            .unwrap_or_else(|| panic!("{host}:{port} missing: {self:#?}"))
    }
}

impl Target {
    fn codes(&self) -> Vec<Code> {
        self.findings.iter().map(|f| f.code).collect()
    }

    fn finding(&self, code: Code) -> &Finding {
        self.findings
            .iter()
            .find(|f| f.code == code)
            .unwrap_or_else(|| panic!("no {code:?}: {self:#?}"))
    }
}

// ---------------------------------------------------------------------------------------------
// audit: TLS
// ---------------------------------------------------------------------------------------------

#[test]
fn audit_with_a_real_handshake_matches_the_schema() {
    let lab = Lab::new();
    // A host Apple does not pin: devices use their trust store, so a publicly valid chain passes.
    let host = "deviceenrollment.apple.com";
    let port = tls_server(&lab.public.leaf(&[host], true));
    let run = lab.audit(&[(host, port)], &[]);
    assert_eq!(
        run.code, 0,
        "warnings do not change the exit code: {}",
        run.stderr
    );
    let doc = parse_document(&run);
    assert_eq!(doc.targets.len(), 1);
    let t = doc.target(host, port);
    assert_eq!(t.verdict, Verdict::Pass);
    // The lab server's port is not the catalog row's, so no CA family is expected of it; the lab
    // root is not in Apple's store, so Certificate Transparency is not required either.
    assert_eq!(t.codes(), [Code::ChainValid]);
    assert!(t.apple_pinning.is_none(), "Apple does not pin {host}");
    assert!(t.interception.is_none() && t.service.is_none());
    assert!(t.proxy.is_none(), "no proxy was given");
    assert!(
        t.revocation.is_empty(),
        "the lab leaf names no OCSP or CRL URL"
    );
    assert_eq!(t.transport, Transport::Tcp);
    assert_eq!(t.sni.as_deref(), Some(host));
    assert_eq!(t.addresses, ["127.0.0.1"]);
    assert_eq!(t.address_used.as_deref(), Some("127.0.0.1"));
    let tls = t
        .tls
        .as_ref()
        .expect("a completed handshake has a tls object");
    assert_eq!(tls.version, "TLSv1.3");
    assert!(
        tls.cipher_suite.starts_with("TLS13_"),
        "{}",
        tls.cipher_suite
    );
    assert_eq!(t.anchor.as_deref(), Some("Lab Public Root"));
    assert_eq!(t.chain.len(), 2, "leaf and the root the server sent");
    assert_eq!(
        t.anchor_spki_sha256.as_deref(),
        Some(t.chain[1].spki_sha256.as_str()),
        "the anchor's key is the root's"
    );
    assert!(t.chain[0].subject.contains(host), "{}", t.chain[0].subject);
    assert!(t.chain[0].issuer.contains("Lab Public Root"));
    assert_eq!(t.chain[0].issuer, t.chain[1].subject, "leaf first");
    assert!(t.chain.iter().all(|c| c.parse_error.is_none()));
    assert!(
        !run.stdout.contains("parse_error"),
        "parse_error is left out for certificates that parse"
    );
    // The lab port is not the host's catalog port, so no catalog row applies.
    assert!(t.section.is_none());

    // The run states its vantage, its route and what judged it.
    let c = &doc.context;
    assert!(
        c.host_name.as_deref().is_some_and(|h| !h.is_empty()),
        "{c:?}"
    );
    assert_eq!(c.local_addresses, ["127.0.0.1"], "{c:?}");
    assert!(c.proxy.is_none());
    let views: Vec<&str> = c.trust_stores.iter().map(|s| s.view.as_str()).collect();
    assert_eq!(views, ["apple_devices", "public_clients", "this_machine"]);
    assert!(
        c.trust_stores[0]
            .source
            .starts_with("Apple's trust store (version ")
    );
    assert!(c.trust_stores.iter().all(|s| s.roots > 0), "{c:?}");
    let data: Vec<&str> = c.data.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        data,
        [
            "Apple trust store",
            "Apple CT log list",
            "Apple pinning database",
            "catalog"
        ]
    );
    assert!(c.data[0].version.ends_with("(embedded)"), "{c:?}");
}

#[test]
fn audit_of_a_failed_target_matches_the_schema() {
    let lab = Lab::new();
    let host = "vpp.itunes.apple.com";
    let port = closed_port();
    let run = lab.audit(&[(host, port)], &[]);
    assert_eq!(run.code, 3, "stderr: {}", run.stderr);
    let doc = parse_document(&run);
    let t = doc.target(host, port);
    assert_eq!(t.verdict, Verdict::Blocked);
    assert_eq!(t.codes(), [Code::ConnectionRefused]);
    assert_eq!(t.findings[0].severity, Severity::Error);
    assert!(t.tls.is_none(), "no handshake, no tls object");
    assert!(t.chain.is_empty(), "no chain was presented");
    assert!(t.anchor.is_none() && t.anchor_spki_sha256.is_none());
    assert!(t.revocation.is_empty() && t.service.is_none());
    assert!(
        t.address_used.is_none(),
        "no address accepted the connection"
    );
    assert_eq!(t.addresses, ["127.0.0.1"]);
    assert_eq!(doc.summary.blocked, 1);
}

#[test]
fn audit_through_a_pac_names_the_route_and_the_pac() {
    let lab = Lab::new();
    let host = "vpp.itunes.apple.com";
    let port = closed_port();
    let dead = closed_port();
    let dir = tempfile::tempdir().unwrap();
    let pac = dir.path().join("proxy.pac");
    std::fs::write(
        &pac,
        format!("function FindProxyForURL(u, h) {{ return 'PROXY 127.0.0.1:{dead}; DIRECT'; }}"),
    )
    .unwrap();
    let run = lab.audit(&[(host, port)], &[&format!("--pac={}", pac.display())]);
    assert_eq!(run.code, 3, "stderr: {}", run.stderr);
    let doc = parse_document(&run);
    let t = doc.target(host, port);
    assert_eq!(t.verdict, Verdict::Blocked);
    let route = t.route.as_ref().expect("a route with --pac");
    assert_eq!(route.pac, pac.display().to_string());
    assert_eq!(route.answer, format!("PROXY 127.0.0.1:{dead}; DIRECT"));
    assert_eq!(route.chosen.as_deref(), Some("DIRECT"));
    assert_eq!(route.failed.len(), 1);
    assert_eq!(route.failed[0].entry, format!("PROXY 127.0.0.1:{dead}"));
    assert!(t.proxy.is_none());
    let named = doc.context.pac.as_ref().expect("context.pac");
    assert_eq!(
        (named.url.as_str(), named.from.as_str()),
        (route.pac.as_str(), "--pac")
    );
}

#[test]
fn audit_with_mixed_verdicts_sums_up_and_exits_with_the_worst() {
    let lab = Lab::new();
    let good = tls_server(&lab.public.leaf(&["mdmenrollment.apple.com"], true));
    let forged = tls_server(&lab.inspection.leaf(&["albert.apple.com"], true));
    let not_tls = http_server();
    let closed = closed_port();
    let run = lab.audit(
        &[
            ("mdmenrollment.apple.com", good),
            ("albert.apple.com", forged),
            ("xp.apple.com", not_tls),
            ("vpp.itunes.apple.com", closed),
        ],
        &[],
    );
    assert_eq!(run.code, 1, "stderr: {}", run.stderr);
    let doc = parse_document(&run);
    assert_eq!(doc.summary.total, 4);
    assert_eq!(doc.summary.pass, 1);
    assert_eq!(doc.summary.intercepted, 1);
    assert_eq!(doc.summary.tls_error, 1);
    assert_eq!(doc.summary.blocked, 1);
    assert_eq!(doc.summary.exit_code, 1);

    let forged = doc.target("albert.apple.com", forged);
    assert_eq!(forged.verdict, Verdict::Intercepted);
    assert_eq!(forged.anchor.as_deref(), Some("Corp SSL Inspection CA"));
    assert_eq!(
        forged.anchor_spki_sha256.as_deref(),
        Some(forged.chain[1].spki_sha256.as_str()),
        "the key of the CA that signed the forgery"
    );
    assert!(forged.codes().contains(&Code::AnchorNativeOnly));
    assert!(forged.tls.is_some());
    let interception = forged.interception.as_ref().expect("intercepted");
    assert_eq!(interception.product, None, "the lab CA is no known product");
    assert_eq!(
        interception.anchor_subject.as_deref(),
        Some("Corp SSL Inspection CA")
    );
    assert_eq!(
        interception.evidence,
        [Code::AnchorNativeOnly, Code::MissingSct]
    );
    assert!(forged.apple_pinning.is_none(), "Apple does not pin albert");

    let not_tls = doc.target("xp.apple.com", not_tls);
    assert_eq!(not_tls.verdict, Verdict::TlsError);
    assert_eq!(not_tls.codes(), [Code::NotTls]);
    assert!(not_tls.tls.is_none() && not_tls.chain.is_empty());

    // Targets come out in the order given.
    let order: Vec<&str> = doc.targets.iter().map(|t| t.host.as_str()).collect();
    assert_eq!(
        order,
        [
            "mdmenrollment.apple.com",
            "albert.apple.com",
            "xp.apple.com",
            "vpp.itunes.apple.com"
        ]
    );
}

#[test]
fn audit_of_a_pinned_host_reports_the_pin_it_fails() {
    // A chain every browser would accept (here: valid against the lab's public root), on a host
    // Apple pins to its own root: devices refuse it, and no evidence says it was forged.
    let lab = Lab::new();
    let host = "gdmf.apple.com";
    let port = tls_server(&lab.public.leaf(&[host], true));
    let run = lab.audit(&[(host, port)], &[]);
    assert_eq!(run.code, 3, "stderr: {}", run.stderr);
    let doc = parse_document(&run);
    let t = doc.target(host, port);
    assert_eq!(t.verdict, Verdict::Untrusted);
    assert_eq!(t.codes(), [Code::ChainValid, Code::PinningFailed]);
    let pin = t.apple_pinning.as_ref().expect("gdmf.apple.com is pinned");
    assert_eq!(pin.policy, "Pallas");
    assert!(!pin.satisfied);
    let rule = &pin.rule_results[0];
    assert!(!rule.passed);
    assert!(
        rule.failed_checks[0].starts_with("anchor: "),
        "{:?}",
        rule.failed_checks
    );
    assert!(t.interception.is_none(), "untrusted, not intercepted");
}

/// A leaf whose issuer is a self-signed CA with the given name, sent along (an unknown CA that
/// presents itself).
fn named_ca_leaf(cn: &str, org: &str, host: &str) -> Leaf {
    Ca::root_with(cn, org, Vec::new()).leaf(&[host], true)
}

#[test]
fn every_chain_finding_code_is_emitted_with_its_documented_severity() {
    // One audit, one server per kind of evidence; parse_document checks each finding's severity
    // against the documented one, and the interception object of every intercepted target.
    let lab = Lab::new();
    let copied = {
        // Apple's names and marker on keys that are not Apple's.
        let root = Ca::root_with("Apple Root CA", "Apple Inc.", Vec::new());
        let intermediate = root.intermediate(
            "Apple Server Authentication CA",
            "Apple Inc.",
            vec![marker("1.2.840.113635.100.6.2.12")],
        );
        let leaf = intermediate.leaf_with(
            &["gsa.apple.com"],
            vec![marker("1.2.840.113635.100.6.27.2")],
            vec![&intermediate],
        );
        tls_server(&leaf)
    };
    let unexpected = tls_server(&lab.public.leaf(&["albert.apple.com"], true));
    let reused =
        tls_server(&Ca::root("Corporate Proxy CA").leaf_reusing_ca_key(&["swscan.apple.com"]));
    let product = tls_server(&named_ca_leaf(
        "Zscaler Root CA",
        "Zscaler Inc.",
        "deviceenrollment.apple.com",
    ));
    // Iru's device domains speak at most TLS 1.2 (the catalog's tls_max); the lab server speaks
    // 1.3, and its chain's issuer is not sent and is in no store, though it carries the name of the
    // CA family the domains are served under (so the TLS version alone is the evidence).
    let kandji_host = "0a1b2c3d.devices.us-1.kandji.io";
    let kandji =
        tls_server(&Ca::root_with("R11", "Let's Encrypt", Vec::new()).leaf(&[kandji_host], false));
    // An issuer that is not sent, in no store, and of no family that issues for the host: a
    // gateway's own CA.
    let gateway = tls_server(&Ca::root("Corp Gateway CA").leaf(&["iprofiles.apple.com"], false));
    // The same on a chain devices accept: the server changed, nothing forged; a warning.
    let kandji_api = "0a1b2c3d.web-api.kandji.io";
    let kandji_genuine = tls_server(&lab.public.leaf(&[kandji_api], true));
    let entry = |host: &str, port: u16| {
        format!(
            "[[entry]]\nhosts = [\"{host}\"]\nports = [{port}]\ntransport = \"tcp\"\n\
             section = \"kandji\"\nsource = \"iru-network\"\ntls_max = \"1.2\"\n"
        )
    };
    // albert.apple.com and iprofiles.apple.com on the lab ports are catalog rows, so their CA
    // families are expected.
    let apple_row = |host: &str, port: u16| {
        format!(
            "[[entry]]\nhosts = [\"{host}\"]\nports = [{port}]\ntransport = \"tcp\"\n\
             section = \"device-setup\"\nsource = \"apple-enterprise\"\n"
        )
    };
    let albert = format!(
        "{}{}",
        apple_row("albert.apple.com", unexpected),
        apple_row("iprofiles.apple.com", gateway)
    );
    let catalog = lab.scratch.file(
        "kandji.toml",
        &format!(
            "version = 1\n{}{}{albert}",
            entry(kandji_host, kandji),
            entry(kandji_api, kandji_genuine)
        ),
    );
    let catalog = format!("--catalog={}", catalog.display());
    let run = lab.audit(
        &[
            ("gsa.apple.com", copied),
            ("albert.apple.com", unexpected),
            ("swscan.apple.com", reused),
            ("deviceenrollment.apple.com", product),
            ("iprofiles.apple.com", gateway),
            (kandji_host, kandji),
            (kandji_api, kandji_genuine),
        ],
        &[&catalog],
    );
    assert_eq!(run.code, 1, "stderr: {}", run.stderr);
    let doc = parse_document(&run);

    let t = doc.target("gsa.apple.com", copied);
    assert_eq!(t.verdict, Verdict::Intercepted);
    assert!(t.codes().contains(&Code::AppleNamesCopied), "{t:#?}");
    assert!(t.codes().contains(&Code::PinningFailed), "{t:#?}");
    assert_eq!(t.apple_pinning.as_ref().unwrap().policy, "GS");

    let t = doc.target("albert.apple.com", unexpected);
    assert_eq!(t.verdict, Verdict::Pass);
    assert!(t.codes().contains(&Code::UnexpectedIssuer), "{t:#?}");

    let t = doc.target("swscan.apple.com", reused);
    assert_eq!(t.verdict, Verdict::Intercepted);
    assert!(t.codes().contains(&Code::LeafKeyEqualsIssuerKey), "{t:#?}");

    let t = doc.target("deviceenrollment.apple.com", product);
    assert_eq!(t.verdict, Verdict::Intercepted);
    assert!(t.codes().contains(&Code::KnownInspectionProduct), "{t:#?}");
    let interception = t.interception.as_ref().unwrap();
    assert_eq!(interception.product.as_deref(), Some("Zscaler"));
    assert_eq!(
        interception.anchor_subject.as_deref(),
        Some("Zscaler Root CA")
    );

    // tls_profile_mismatch depends on the chain: an error (evidence) on one devices refuse...
    let t = doc.target(kandji_host, kandji);
    assert_eq!(t.section.as_deref(), Some("kandji"));
    assert_eq!(t.tls.as_ref().unwrap().version, "TLSv1.3");
    assert_eq!(t.verdict, Verdict::Intercepted);
    assert_eq!(
        t.codes(),
        [
            Code::UnknownIssuer,
            Code::TlsProfileMismatch,
            Code::MissingSct
        ]
    );
    assert_eq!(
        t.finding(Code::TlsProfileMismatch).severity,
        Severity::Error
    );
    assert_eq!(
        t.interception.as_ref().unwrap().evidence,
        [Code::TlsProfileMismatch, Code::MissingSct]
    );
    // The issuer was not sent and is in no store: its name is known, its key is not.
    assert_eq!(t.anchor.as_deref(), Some("R11"));
    assert!(t.anchor_spki_sha256.is_none(), "{t:#?}");

    // ... and a warning on one they accept.
    let t = doc.target(kandji_api, kandji_genuine);
    assert_eq!(t.verdict, Verdict::Pass, "{t:#?}");
    assert_eq!(
        t.finding(Code::TlsProfileMismatch).severity,
        Severity::Warning
    );
    assert!(t.interception.is_none());

    let t = doc.target("iprofiles.apple.com", gateway);
    assert_eq!(t.verdict, Verdict::Intercepted, "{t:#?}");
    assert!(t.codes().contains(&Code::UnexpectedUnknownIssuer), "{t:#?}");

    let seen: Vec<Code> = doc.targets.iter().flat_map(Target::codes).collect();
    for code in [
        Code::UnexpectedUnknownIssuer,
        Code::PinningFailed,
        Code::AppleNamesCopied,
        Code::LeafKeyEqualsIssuerKey,
        Code::KnownInspectionProduct,
        Code::MissingSct,
        Code::TlsProfileMismatch,
        Code::UnexpectedIssuer,
        Code::UnknownIssuer,
    ] {
        assert!(seen.contains(&code), "{code:?} not emitted");
    }
}

#[test]
fn catalog_section_audit_with_skipped_rows_matches_the_schema() {
    // Every name on 443, 80 and UDP 123 resolves to loopback, where nothing is expected to listen
    // on those ports: nothing leaves the machine. The NTP rows are probed (blocked or timeout).
    let run = pinscope([
        "audit",
        "--section=device-setup",
        "--resolve=*:443:127.0.0.1",
        "--resolve=*:80:127.0.0.1",
        "--resolve=*:123:127.0.0.1",
        "--timeout=2",
        "--format=json",
    ]);
    assert!(
        run.code == 0 || run.code == 3,
        "code {}: {}",
        run.code,
        run.stderr
    );
    let doc = parse_document(&run);

    let catalog = pinscope(["catalog", "--section=device-setup", "--format=json"]);
    assert_eq!(catalog.code, 0, "{}", catalog.stderr);
    let rows: Vec<CatalogRow> = serde_json::from_str(&catalog.stdout).unwrap();
    assert_eq!(doc.targets.len(), rows.len(), "one target per catalog row");
    for (t, row) in doc.targets.iter().zip(&rows) {
        assert_eq!((t.host.as_str(), t.port), (row.host.as_str(), row.port));
        assert_eq!(t.transport, row.transport);
        assert_eq!(t.section.as_deref(), Some(row.section.as_str()));
        assert_eq!(t.representative, row.representative);
        assert_eq!(t.pattern, row.pattern);
        assert_eq!(t.legacy, row.legacy);
    }

    let udp: Vec<&Target> = doc
        .targets
        .iter()
        .filter(|t| t.transport == Transport::Udp)
        .collect();
    assert!(
        !udp.is_empty(),
        "device-setup lists the NTP hosts on UDP 123"
    );
    for t in &udp {
        assert_eq!(t.port, 123);
        assert!(
            matches!(t.verdict, Verdict::Blocked | Verdict::Timeout),
            "{t:#?}"
        );
        assert!(t.sni.is_none() && t.service.is_none() && t.tls.is_none());
        assert_eq!(t.addresses, ["127.0.0.1"]);
    }
    assert!(
        doc.targets.iter().all(|t| t.verdict != Verdict::Skipped),
        "every device-setup row has a concrete name and a probe"
    );

    // A catalog wildcard with no concrete name is listed, and skipped.
    let run = pinscope(["audit", "--host=*.apzones.com", "--format=json"]);
    assert_eq!(run.code, 0, "skipped targets do not fail a run");
    let doc = parse_document(&run);
    assert_eq!(doc.targets.len(), 1);
    let t = &doc.targets[0];
    assert_eq!(t.host, "*.apzones.com");
    assert_eq!(t.pattern.as_deref(), Some("*.apzones.com"));
    assert!(!t.representative);
    assert_eq!(t.verdict, Verdict::Skipped);
    assert_eq!(t.findings[0].severity, Severity::Info);
    assert!(t.revocation.is_empty());
    assert_eq!(doc.summary.skipped, 1);
}

// ---------------------------------------------------------------------------------------------
// audit: the non-TLS probes (`service`)
// ---------------------------------------------------------------------------------------------

#[test]
fn service_answers_match_the_schema_per_protocol() {
    let mut lab = LabCatalog::new();
    let http_ok =
        HttpServer::fixed(b"HTTP/1.1 200 OK\r\nServer: lab\r\nContent-Length: 7\r\n\r\nSuccess")
            .port;
    let http_squid =
        HttpServer::fixed(b"HTTP/1.1 200 OK\r\nVia: 1.1 squid\r\nX-Cache: MISS from proxy.corp\r\nContent-Length: 0\r\n\r\n").port;
    let http_redirect = HttpServer::fixed(
        b"HTTP/1.1 302 Found\r\nLocation: http://blockpage.example/deny\r\nContent-Length: 0\r\n\r\n",
    ).port;
    let http_smtp = HttpServer::fixed(b"220 mail.lab.example ESMTP ready\r\n").port;
    let ntp_good = sntp_server(GOOD_SNTP);
    let ntp_skewed = sntp_server(Sntp {
        stratum: 2,
        reference: [192, 0, 2, 1],
        skew_secs: 30,
        ..GOOD_SNTP
    });
    let ntp_kiss = sntp_server(Sntp {
        leap: 3,
        stratum: 0,
        reference: *b"RATE",
        no_time: true,
        ..GOOD_SNTP
    });
    let ssh = banner_server(b"SSH-2.0-OpenSSH_9.6\r\n", Duration::from_secs(5));
    let quic = quic_vn_server(&[0x0000_0001, 0x6b33_43cf]);
    lab.add("http-ok.lab.example", http_ok, "tcp", "probe = \"http\"");
    lab.add(
        "http-proxy.lab.example",
        http_squid,
        "tcp",
        "probe = \"http\"",
    );
    lab.add(
        "captive.lab.example",
        http_redirect,
        "tcp",
        "probe = \"http\"",
    );
    lab.add(
        "http-smtp.lab.example",
        http_smtp,
        "tcp",
        "probe = \"http\"",
    );
    lab.add("ntp-good.lab.example", ntp_good, "udp", "probe = \"ntp\"");
    lab.add(
        "ntp-skewed.lab.example",
        ntp_skewed,
        "udp",
        "probe = \"ntp\"",
    );
    lab.add("ntp-kiss.lab.example", ntp_kiss, "udp", "probe = \"ntp\"");
    lab.add("sftp.lab.example", ssh, "ssh", "");
    lab.add("quic.lab.example", quic, "udp", "probe = \"quic\"");
    let run = lab.audit(&["--timeout=3".into()]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let doc = parse_document(&run);
    assert_eq!(doc.summary.blocked, 1);
    assert_eq!(doc.summary.protocol_error, 2);

    let t = doc.target("http-ok.lab.example", http_ok);
    assert_eq!(
        (t.verdict, t.codes()),
        (Verdict::Pass, vec![Code::HttpAnswered])
    );
    let Some(Service::Http {
        status,
        reason,
        headers,
    }) = &t.service
    else {
        panic!("{t:#?}")
    };
    assert_eq!((*status, reason.as_str()), (200, "OK"));
    assert_eq!(headers[0], ("server".to_owned(), "lab".to_owned()));

    let t = doc.target("http-proxy.lab.example", http_squid);
    assert_eq!(t.verdict, Verdict::Pass);
    assert_eq!(
        t.finding(Code::TransparentProxy).severity,
        Severity::Warning
    );

    let t = doc.target("captive.lab.example", http_redirect);
    assert_eq!(t.verdict, Verdict::Blocked);
    assert_eq!(t.finding(Code::BlockPage).severity, Severity::Error);
    assert!(matches!(t.service, Some(Service::Http { status: 302, .. })));

    // Something that is not HTTP answered: no service object, the failure's code.
    let t = doc.target("http-smtp.lab.example", http_smtp);
    assert_eq!(t.verdict, Verdict::ProtocolError);
    assert_eq!(t.codes(), [Code::UnexpectedAnswer]);
    assert!(t.service.is_none() && t.address_used.is_some());

    let t = doc.target("ntp-good.lab.example", ntp_good);
    assert_eq!(
        (t.verdict, t.codes()),
        (Verdict::Pass, vec![Code::NtpAnswered])
    );
    let Some(Service::Ntp {
        stratum,
        reference_id,
        offset_ms,
        round_trip_ms,
        ..
    }) = &t.service
    else {
        panic!("{t:#?}")
    };
    assert_eq!((*stratum, reference_id.as_str()), (1, "GPS"));
    assert!(offset_ms.unwrap().abs() < 1000.0 && round_trip_ms.is_some());

    let t = doc.target("ntp-skewed.lab.example", ntp_skewed);
    assert_eq!(t.verdict, Verdict::Pass);
    assert_eq!(t.finding(Code::ClockSkew).severity, Severity::Warning);

    let t = doc.target("ntp-kiss.lab.example", ntp_kiss);
    assert_eq!(t.verdict, Verdict::ProtocolError);
    assert_eq!(t.finding(Code::NtpUnsynchronised).severity, Severity::Error);
    let Some(Service::Ntp {
        stratum: 0,
        offset_ms: None,
        round_trip_ms: None,
        reference_id,
        ..
    }) = &t.service
    else {
        panic!("a kiss-of-death carries no time: {t:#?}")
    };
    assert_eq!(reference_id, "RATE");

    let t = doc.target("sftp.lab.example", ssh);
    assert_eq!(
        (t.verdict, t.codes()),
        (Verdict::Pass, vec![Code::SshBanner])
    );
    assert!(matches!(&t.service, Some(Service::Ssh { banner }) if banner == "SSH-2.0-OpenSSH_9.6"));
    assert_eq!(t.transport, Transport::Ssh);

    let t = doc.target("quic.lab.example", quic);
    assert_eq!(t.verdict, Verdict::Pass);
    assert_eq!(
        t.codes(),
        [Code::QuicVersionNegotiation, Code::NotVerified],
        "QUIC says what it did not check"
    );
    assert!(
        matches!(&t.service, Some(Service::Quic { versions }) if versions == &[1, 0x6b33_43cf])
    );
}

// ---------------------------------------------------------------------------------------------
// audit: DNS and proxies
// ---------------------------------------------------------------------------------------------

#[test]
fn each_dns_answer_has_its_code_under_dns_error() {
    let dns = DnsServer::start(&[
        ("servfail.pinscope.test", Zone::rcode(2)),
        ("refused.pinscope.test", Zone::rcode(5)),
        ("notimp.pinscope.test", Zone::rcode(4)),
        ("nodata.pinscope.test", Zone::rcode(0)),
        ("silent.pinscope.test", Zone::silent()),
    ]);
    let cases = [
        ("nxdomain.pinscope.test", Code::DnsNxdomain),
        ("servfail.pinscope.test", Code::DnsServfail),
        ("refused.pinscope.test", Code::DnsRefused),
        ("nodata.pinscope.test", Code::DnsNoAddresses),
        ("silent.pinscope.test", Code::DnsNoAnswer),
        ("notimp.pinscope.test", Code::DnsFailure),
    ];
    let mut args = vec![
        "audit".to_string(),
        dns.flag(),
        "--timeout=2".into(),
        "--format=json".into(),
    ];
    args.extend(cases.iter().map(|(h, _)| format!("{h}:443")));
    let run = pinscope(&args);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let doc = parse_document(&run);
    assert_eq!(doc.summary.dns_error, cases.len());
    for (host, code) in cases {
        let t = doc.target(host, 443);
        assert_eq!(t.verdict, Verdict::DnsError, "{t:#?}");
        assert_eq!(t.codes(), [code], "{host}");
        assert!(t.findings[0].message.starts_with("resolve: "), "{t:#?}");
    }
}

#[test]
fn proxied_targets_name_the_proxy_without_credentials() {
    let scratch = Scratch::new();
    let public = Ca::root("Lab Public Root");
    let roots = format!(
        "--public-roots={}",
        scratch.file("public.pem", &public.pem).display()
    );
    // A row the source says does not work through proxies, reached through a tunnelling proxy.
    let host = "proxied.lab.example";
    let port = tls_server(&public.leaf(&[host], true));
    let mut lab = LabCatalog::new();
    lab.add(host, port, "tcp", "supports_proxy = \"no\"");
    let proxy = tunnelling_proxy();
    let run = lab.audit(&[
        format!("--proxy=http://alice:s3cret@127.0.0.1:{proxy}"),
        "--no-revocation".into(),
        roots,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !run.stdout.contains("s3cret") && !run.stdout.contains("alice"),
        "credentials leaked"
    );
    let doc = parse_document(&run);
    let t = doc.target(host, port);
    assert_eq!(t.verdict, Verdict::Pass, "{t:#?}");
    assert_eq!(
        t.proxy.as_deref(),
        Some(format!("http://***@127.0.0.1:{proxy}").as_str())
    );
    assert_eq!(
        t.finding(Code::ProxyNotSupported).severity,
        Severity::Warning
    );
    // This machine connected to the proxy, not to the target.
    assert_eq!(t.addresses, ["127.0.0.1"]);
    assert_eq!(t.sni.as_deref(), Some(host));

    // Every way a proxy refuses the tunnel is a proxy_error with its own code.
    for (reply, code) in [
        (
            &b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"[..],
            Code::ProxyAuthRequired,
        ),
        (b"HTTP/1.1 403 Forbidden\r\n\r\n", Code::ProxyRefused),
        (
            b"HTTP/1.1 502 Bad Gateway\r\n\r\n",
            Code::ProxyUpstreamError,
        ),
        (
            b"HTTP/1.1 200 Connection established\r\n\r\n",
            Code::ProxyClosed,
        ),
    ] {
        let proxy = scripted_proxy(reply);
        let run = pinscope([
            "audit".to_string(),
            "albert.apple.com".into(),
            format!("--proxy=http://127.0.0.1:{proxy}"),
            "--no-revocation".into(),
            "--timeout=5".into(),
            "--format=json".into(),
        ]);
        assert_eq!(run.code, 3, "{code:?}: {}", run.stderr);
        let doc = parse_document(&run);
        let t = &doc.targets[0];
        assert_eq!(t.verdict, Verdict::ProxyError, "{t:#?}");
        assert_eq!(t.findings[0].code, code, "{t:#?}");
        assert!(t.findings[0].message.starts_with("proxy: "), "{t:#?}");
        assert_eq!(
            t.proxy.as_deref(),
            Some(format!("http://127.0.0.1:{proxy}").as_str())
        );
        assert!(t.chain.is_empty() && t.tls.is_none());
        assert_eq!(doc.summary.proxy_error, 1);
    }

    // A proxy that refuses the connection itself is the proxy's fault, named as such: not
    // `blocked`, which would send the user looking at the target.
    let dead = closed_port();
    let run = pinscope([
        "audit".to_string(),
        "albert.apple.com".into(),
        format!("--proxy=http://user:secret@127.0.0.1:{dead}"),
        "--no-revocation".into(),
        "--timeout=5".into(),
        "--format=json".into(),
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let doc = parse_document(&run);
    let t = &doc.targets[0];
    assert_eq!(t.verdict, Verdict::ProxyError, "{t:#?}");
    assert_eq!(t.findings[0].code, Code::ProxyUnreachable, "{t:#?}");
    let named = format!("the proxy http://***@127.0.0.1:{dead}");
    assert!(t.findings[0].message.contains(&named), "{t:#?}");
    assert!(t.explanation.contains(&named), "{t:#?}");
    assert!(!run.stdout.contains("secret"));
    let route = doc.context.proxy.as_ref().expect("the route is stated");
    assert_eq!(route.url, format!("http://***@127.0.0.1:{dead}"));
    assert_eq!(route.from, "--proxy");
}

// ---------------------------------------------------------------------------------------------
// audit: revocation
// ---------------------------------------------------------------------------------------------

#[test]
fn revocation_entries_match_the_schema_for_every_status() {
    let lab = Ca::root("Revocation Lab Root");
    let good = lab.crl(&[], false);
    let stale = lab.crl(&[], true);
    let revoked = lab.crl(&[2], false);
    let server = HttpServer::answering(move |head| match request_path(head) {
        "/good.crl" => http_response("200 OK", "application/pkix-crl", &good),
        "/stale.crl" => http_response("200 OK", "application/pkix-crl", &stale),
        "/revoked.crl" => http_response("200 OK", "application/pkix-crl", &revoked),
        _ => http_response(
            "200 OK",
            "text/html",
            b"<html><head><title>Blocked</title></head></html>",
        ),
    });
    let url = |path: &str| server.url(path);
    let https = "https://ocsp.pinscope.test/".to_owned();
    let unreachable = format!("http://127.0.0.1:{}/", closed_port());
    let host = "deviceenrollment.apple.com";
    let checked = tls_server(&lab.revocable_leaf(
        host,
        1,
        &[https.clone(), unreachable.clone()],
        &[url("/good.crl"), url("/stale.crl"), url("/block")],
    ));
    let listed = tls_server(&lab.revocable_leaf(host, 2, &[], &[url("/revoked.crl")]));
    let scratch = Scratch::new();
    let run = pinscope([
        "audit".to_string(),
        format!("{host}:{checked}"),
        format!("{host}:{listed}"),
        resolve(host, checked),
        resolve(host, listed),
        format!(
            "--public-roots={}",
            scratch.file("roots.pem", &lab.pem).display()
        ),
        "--timeout=5".into(),
        "--format=json".into(),
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let doc = parse_document(&run);

    let t = doc.target(host, checked);
    assert_eq!(t.verdict, Verdict::Pass, "{t:#?}");
    let status = |url: &str| {
        let e = t
            .revocation
            .iter()
            .find(|e| e.url == url)
            .unwrap_or_else(|| panic!("no entry for {url}: {:#?}", t.revocation));
        (e.kind, e.status)
    };
    assert_eq!(
        status(&https),
        (RevocationKind::Ocsp, RevocationStatus::NotChecked)
    );
    assert_eq!(
        status(&unreachable),
        (RevocationKind::Ocsp, RevocationStatus::Unreachable)
    );
    assert_eq!(
        status(&url("/good.crl")),
        (RevocationKind::Crl, RevocationStatus::Good)
    );
    assert_eq!(
        status(&url("/stale.crl")),
        (RevocationKind::Crl, RevocationStatus::Unknown)
    );
    assert_eq!(
        status(&url("/block")),
        (RevocationKind::Crl, RevocationStatus::Invalid)
    );
    let good = t
        .revocation
        .iter()
        .find(|e| e.url == url("/good.crl"))
        .unwrap();
    assert_eq!(good.certificate, host);
    assert_eq!(good.certificate_sha256, t.chain[0].sha256);
    assert!(good.this_update.is_some() && good.next_update.is_some());
    assert!(good.reason.is_none() && good.revoked_at.is_none());
    // "Not checked" is never "good": it brings no finding at all.
    assert_eq!(t.revocation.len(), 5);
    let revocation_findings = t
        .findings
        .iter()
        .filter(|f| format!("{:?}", f.code).contains("Revocation"))
        .count();
    assert_eq!(revocation_findings, 4, "{t:#?}");

    let t = doc.target(host, listed);
    assert_eq!(t.verdict, Verdict::Untrusted, "a revoked leaf is refused");
    let e = &t.revocation[0];
    assert_eq!(
        (e.kind, e.status),
        (RevocationKind::Crl, RevocationStatus::Revoked)
    );
    assert_eq!(e.reason.as_deref(), Some("keyCompromise"));
    assert!(e.revoked_at.is_some());
    assert_eq!(t.finding(Code::Revoked).severity, Severity::Error);
}

// ---------------------------------------------------------------------------------------------
// Baselines: the file `baseline save` writes, and what `audit --baseline` reports
// ---------------------------------------------------------------------------------------------

fn parse_baseline(text: &str) -> BaselineFile {
    let b: BaselineFile = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("the baseline does not match docs/baselines.md: {e}\n{text}"));
    assert_eq!(b.pinscope_baseline, 1);
    assert_eq!(b.tool_version, env!("CARGO_PKG_VERSION"));
    rfc3339("created_at", &b.created_at);
    for t in &b.targets {
        let label = format!("{}:{}", t.host, t.port);
        rfc3339("recorded_at", &t.recorded_at);
        assert!(!t.chain.is_empty(), "{label}: a baseline entry has a chain");
        for (i, p) in t.chain.iter().enumerate() {
            assert_eq!(p.position, i, "{label}: positions count from 0, leaf first");
            assert!(is_hex64(&p.spki_sha256), "{label}: {}", p.spki_sha256);
            assert!(!p.subject.is_empty());
        }
        if let Some(k) = &t.anchor.spki_sha256 {
            assert!(is_hex64(k), "{label}: anchor key {k}");
        }
        if let Some(tls) = &t.tls {
            assert!(tls.version.starts_with("TLSv") && !tls.cipher_suite.is_empty());
        }
        let _ = (&t.apple_pinning_policy, t.transport);
    }
    b
}

#[test]
fn baseline_files_and_drift_findings_match_the_schema() {
    let service = Ca::root("Service CA");
    let other = Ca::root("Another Public CA");
    let scratch = Scratch::new();
    let roots = format!(
        "--public-roots={}",
        scratch
            .file("public.pem", &format!("{}{}", service.pem, other.pem))
            .display()
    );
    let host = "deviceenrollment.apple.com";
    let (port, server) = swappable_tls_server(&service.leaf(&[host], true));
    let run = |args: &[String]| {
        let mut all = args.to_vec();
        all.extend([
            format!("{host}:{port}"),
            resolve(host, port),
            "--no-revocation".into(),
            roots.clone(),
            "--format=json".into(),
        ]);
        pinscope(&all)
    };

    // `baseline save` audits (its report is the usual document) and writes the file.
    let file = scratch.path("baseline.json");
    let saved = run(&["baseline".into(), "save".into(), file.display().to_string()]);
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let audit = parse_document(&saved);
    let baseline = parse_baseline(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(baseline.targets.len(), 1);
    let entry = &baseline.targets[0];
    let t = &audit.targets[0];
    assert_eq!((entry.host.as_str(), entry.port), (host, port));
    assert_eq!(entry.transport, Transport::Tcp);
    assert_eq!(entry.recorded_at, audit.finished_at);
    assert_eq!(entry.chain.len(), t.chain.len());
    for (p, c) in entry.chain.iter().zip(&t.chain) {
        assert_eq!((&p.subject, &p.spki_sha256), (&c.subject, &c.spki_sha256));
    }
    assert_eq!(entry.anchor.subject, t.anchor);
    assert_eq!(entry.anchor.spki_sha256, t.anchor_spki_sha256);
    let tls = entry.tls.as_ref().unwrap();
    assert_eq!(tls.version, t.tls.as_ref().unwrap().version);
    assert_eq!(tls.cipher_suite, t.tls.as_ref().unwrap().cipher_suite);
    assert!(
        entry.apple_pinning_policy.is_none(),
        "Apple does not pin it"
    );

    // The same keys: pin_match.
    let with = format!("--baseline={}", file.display());
    let doc = parse_document(&run(&["audit".into(), with.clone()]));
    let t = &doc.targets[0];
    assert_eq!(t.verdict, Verdict::Pass);
    assert_eq!(t.finding(Code::PinMatch).severity, Severity::Info);

    // Another TLS profile on record: tls_profile_changed, a warning next to the key comparison.
    let mut edited: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    edited["targets"][0]["tls"]["cipher_suite"] = "TLS13_CHACHA20_POLY1305_SHA256".into();
    let changed = scratch.file("changed.json", &edited.to_string());
    let doc = parse_document(&run(&[
        "audit".into(),
        format!("--baseline={}", changed.display()),
    ]));
    let t = &doc.targets[0];
    assert_eq!(t.verdict, Verdict::Pass);
    assert_eq!(
        t.finding(Code::TlsProfileChanged).severity,
        Severity::Warning
    );
    assert!(t.codes().contains(&Code::PinMatch));

    // A new leaf key under the same anchor key: pin_rotation, still a pass.
    server.swap(&service.leaf(&[host], true));
    let doc = parse_document(&run(&["audit".into(), with.clone()]));
    let t = &doc.targets[0];
    assert_eq!(t.verdict, Verdict::Pass);
    assert_eq!(t.finding(Code::PinRotation).severity, Severity::Info);

    // A chain from another public CA: pin_mismatch, evidence of a substitution, although the chain
    // alone would pass. Its missing_sct is the CT reminder of a genuine chain, not evidence.
    server.swap(&other.leaf(&[host], true));
    let substituted = run(&["audit".into(), with]);
    assert_eq!(substituted.code, 1);
    let doc = parse_document(&substituted);
    let t = &doc.targets[0];
    assert_eq!(t.verdict, Verdict::Intercepted);
    assert!(t.codes().contains(&Code::ChainValid));
    assert_eq!(t.finding(Code::PinMismatch).severity, Severity::Error);
    assert_eq!(
        t.interception.as_ref().unwrap().evidence,
        [Code::PinMismatch]
    );
}

// ---------------------------------------------------------------------------------------------
// inspect
// ---------------------------------------------------------------------------------------------

#[test]
fn inspect_output_matches_the_schema() {
    let lab = Lab::new();
    let host = "gdmf.apple.com";
    let run = lab.inspect(&lab.inspection.leaf(&[host], true).pem, host);
    assert_eq!(run.code, 1, "stderr: {}", run.stderr);
    let doc = parse_document(&run);
    assert_eq!(doc.targets.len(), 1);
    let t = &doc.targets[0];
    assert_eq!((t.host.as_str(), t.port), (host, 443));
    assert_eq!(t.verdict, Verdict::Intercepted);
    assert_eq!(
        t.codes(),
        [
            Code::AnchorNativeOnly,
            Code::MissingSct,
            Code::PinningFailed
        ]
    );
    // Apple pins gdmf.apple.com: the forged chain is held to the pin too, check by check.
    let pin = t.apple_pinning.as_ref().expect("gdmf.apple.com is pinned");
    assert_eq!(pin.policy, "Pallas");
    assert!(!pin.satisfied);
    assert!(pin.rule_results.iter().all(|r| !r.failed_checks.is_empty()));
    let interception = t.interception.as_ref().expect("intercepted");
    assert_eq!(
        interception.evidence,
        [Code::AnchorNativeOnly, Code::MissingSct]
    );
    assert_eq!(
        interception.anchor_subject.as_deref(),
        Some("Corp SSL Inspection CA")
    );
    assert!(t.tls.is_none(), "inspect makes no connection");
    assert!(t.proxy.is_none() && t.service.is_none());
    assert!(t.revocation.is_empty(), "inspect fetches no OCSP or CRL");
    assert_eq!(t.chain.len(), 2, "the chain from the file");
    assert!(t.anchor_spki_sha256.is_some());
    assert!(t.sni.is_none() && t.addresses.is_empty() && t.address_used.is_none());
    assert_eq!(t.elapsed_ms, 0);
    // gdmf.apple.com:443 is in the catalog, so its row's fields are filled in.
    assert!(t.section.is_some());
    assert_eq!(doc.started_at, doc.finished_at);
}

#[test]
fn inspect_of_a_real_apple_chain_reports_the_satisfied_pin() {
    let Some(reference) = reference() else { return };
    let pki = |name: &str| {
        reference
            .join("apple-pki")
            .join(format!("{name}.cer"))
            .display()
            .to_string()
    };
    let run = pinscope([
        "inspect".to_string(),
        pki("gsa"),
        pki("AppleServerAuthentication"),
        "--host=gsa.apple.com".into(),
        "--at=2018-06-01T00:00:00Z".into(),
        "--format=json".into(),
    ]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let doc = parse_document(&run);
    let t = &doc.targets[0];
    assert_eq!(t.verdict, Verdict::Pass);
    // Apple Root CA is in Apple's store, not in Mozilla's: information, not a failure.
    assert_eq!(
        t.codes(),
        [
            Code::ChainValid,
            Code::PublicClientsRefuse,
            Code::PinningSatisfied
        ]
    );
    assert_eq!(t.anchor.as_deref(), Some("Apple Root CA"));
    // Up to the known key of Apple's intermediate: the anchor key is Apple Root CA's, which was
    // not presented.
    let anchor_key = t.anchor_spki_sha256.as_deref().unwrap();
    assert!(t.chain.iter().all(|c| c.spki_sha256 != anchor_key));
    let pin = t.apple_pinning.as_ref().expect("gsa.apple.com is pinned");
    assert_eq!(pin.policy, "GS");
    assert_eq!(pin.source, "CertificatePinning.plist");
    assert!(pin.satisfied);
    assert!(
        pin.rule_results
            .iter()
            .any(|r| r.passed && r.failed_checks.is_empty())
    );
    assert!(t.interception.is_none());
}

#[test]
fn inspect_at_a_time_before_the_chain_is_valid_reports_it() {
    let lab = Lab::new();
    let host = "albert.apple.com";
    let chain = lab
        .scratch
        .file("chain.pem", &lab.public.leaf(&[host], true).pem);
    // The lab certificates start one day ago; judge them ten days ago.
    let at = (OffsetDateTime::now_utc() - time::Duration::days(10))
        .replace_nanosecond(0)
        .unwrap()
        .format(&Rfc3339)
        .unwrap();
    let mut args = vec![
        "inspect".to_string(),
        chain.display().to_string(),
        format!("--host={host}"),
        format!("--at={at}"),
        "--format=json".into(),
    ];
    args.extend(lab.trust());
    let run = pinscope(&args);
    assert_eq!(run.code, 3, "stderr: {}", run.stderr);
    let doc = parse_document(&run);
    let t = &doc.targets[0];
    assert_eq!(t.verdict, Verdict::Untrusted);
    assert!(t.codes().contains(&Code::NotYetValid), "{t:#?}");
    assert_eq!(t.anchor.as_deref(), Some("Lab Public Root"));
}

// ---------------------------------------------------------------------------------------------
// catalog
// ---------------------------------------------------------------------------------------------

fn check_catalog_rows(rows: &[CatalogRow]) {
    assert!(!rows.is_empty());
    let mut keys = std::collections::HashSet::new();
    for r in rows {
        let label = format!("{}:{}/{:?}", r.host, r.port, r.transport);
        assert!(
            keys.insert((r.host.clone(), r.port, r.transport)),
            "{label}: listed twice"
        );
        assert!(r.port > 0, "{label}");
        assert_eq!(r.host, r.host.to_ascii_lowercase(), "{label}");
        for n in &r.networks {
            assert!(n.cidr.contains('/'), "{label}: network '{}'", n.cidr);
            assert!(!n.source.is_empty(), "{label}: network without a source");
        }
        assert_eq!(
            r.sections.first(),
            Some(&r.section),
            "{label}: primary section first"
        );
        assert_eq!(
            r.sources.first(),
            Some(&r.source),
            "{label}: primary source first"
        );
        if r.representative {
            assert!(
                r.pattern.is_some(),
                "{label}: representative without pattern"
            );
        }
        if let Some(p) = &r.pattern {
            assert!(p.starts_with("*."), "{label}: pattern {p}");
        }
        if r.host.starts_with("*.") {
            assert_eq!(r.pattern.as_deref(), Some(r.host.as_str()), "{label}");
            assert!(!r.representative, "{label}");
        }
        if let Some(n) = &r.note {
            assert!(!n.is_empty(), "{label}: empty note");
        }
        assert!(r.os.iter().all(|o| !o.is_empty()), "{label}");
        assert_eq!(
            r.description,
            r.description.trim(),
            "{label}: untrimmed description"
        );
        if let Some(v) = &r.tls_max {
            assert!(
                ["1.0", "1.1", "1.2", "1.3"].contains(&v.as_str()),
                "{label}: tls_max '{v}'"
            );
        }
        for c in &r.tls_ciphers {
            assert!(
                c.starts_with("TLS_") && !c.starts_with("TLS13_"),
                "{label}: tls_ciphers '{c}' is not a TLS 1.2 suite name"
            );
        }
        if let Some(p) = r.probe {
            let udp = matches!(p, Probe::Ntp | Probe::Quic);
            assert_eq!(udp, r.transport == Transport::Udp, "{label}: probe {p:?}");
        }
        match &r.pinned_by {
            Some(who) => assert!(!who.is_empty(), "{label}: empty pinned_by"),
            None => assert!(r.pinned_with.is_empty(), "{label}: pinned_with, no pinner"),
        }
        assert!(
            !r.pinned_with.contains(&r.host),
            "{label}: pinned with itself"
        );
        if let Some(p) = &r.apple_pinning_policy {
            assert!(!p.is_empty(), "{label}: empty apple_pinning_policy");
            assert!(
                !r.host.starts_with("*."),
                "{label}: a wildcard has no policy"
            );
        }
    }
    for r in rows {
        // Apple pins by host name, so every port of a host has the same policy.
        for o in rows.iter().filter(|o| o.host == r.host) {
            assert_eq!(
                r.apple_pinning_policy, o.apple_pinning_policy,
                "{}: policy differs between ports",
                r.host
            );
        }
        // Hosts pinned together name each other.
        for other in &r.pinned_with {
            let o = rows
                .iter()
                .find(|o| &o.host == other)
                .unwrap_or_else(|| panic!("{}: pinned with unlisted {other}", r.host));
            assert!(
                o.pinned_with.contains(&r.host),
                "{other} does not name {}",
                r.host
            );
            assert_eq!(o.pinned_by, r.pinned_by);
        }
    }
}

fn catalog_policy<'a>(rows: &'a [CatalogRow], host: &str) -> Option<&'a str> {
    rows.iter()
        .find(|r| r.host == host)
        .unwrap_or_else(|| panic!("{host} not in the catalog"))
        .apple_pinning_policy
        .as_deref()
}

#[test]
fn catalog_json_matches_the_row_schema() {
    let run = pinscope(["catalog", "--format=json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows: Vec<CatalogRow> = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("catalog JSON does not match the documented schema: {e}"));
    check_catalog_rows(&rows);
    assert!(rows.len() > 100, "only {} rows", rows.len());
    assert!(rows.iter().any(|r| r.transport == Transport::Udp));
    assert!(rows.iter().any(|r| r.transport == Transport::Ssh));
    assert!(rows.iter().any(|r| r.legacy));
    assert!(rows.iter().any(|r| r.representative));
    assert!(rows.iter().any(|r| r.supports_proxy == ProxySupport::Yes));
    assert!(rows.iter().any(|r| r.supports_proxy == ProxySupport::No));
    assert!(
        rows.iter()
            .any(|r| r.supports_proxy == ProxySupport::Unknown)
    );
    // Without tenant values, no template row is listed.
    assert!(rows.iter().all(|r| !r.host.contains('{')));
    // APNs rows carry Apple's 17.0.0.0/8, with their source; CDN-served rows nothing.
    let courier = rows
        .iter()
        .find(|r| r.host == "courier.push.apple.com" && r.port == 5223)
        .unwrap();
    assert_eq!(courier.networks[0].cidr, "17.0.0.0/8");
    assert_eq!(courier.networks[0].source, "apns-networking");
    let gdmf = rows.iter().find(|r| r.host == "gdmf.apple.com").unwrap();
    assert!(gdmf.networks.is_empty());
    // Pinned and unpinned hosts the other tests rely on.
    assert_eq!(catalog_policy(&rows, "gdmf.apple.com"), Some("Pallas"));
    assert_eq!(catalog_policy(&rows, "gsa.apple.com"), Some("GS"));
    for host in [
        "albert.apple.com",
        "deviceenrollment.apple.com",
        "mdmenrollment.apple.com",
    ] {
        assert_eq!(catalog_policy(&rows, host), None, "{host}");
    }
    // The built-in rows are probed by transport and port; none needs `probe`.
    assert!(rows.iter().all(|r| r.probe.is_none()));
    assert!(
        !run.stdout.contains("\"probe\""),
        "probe is left out when not set"
    );
    assert!(
        rows.iter()
            .all(|r| r.tls_max.is_none() && r.tls_ciphers.is_empty() && r.pinned_by.is_none()),
        "only the tenant's device domains carry tls_max, tls_ciphers and pinned_by"
    );
    // Let's Encrypt's CRL hosts, for Iru: 443 as Iru lists them, and 80, where the CRLs are.
    for name in [
        "r10", "r11", "r12", "r13", "r14", "e5", "e6", "e7", "e8", "e9",
    ] {
        let host = format!("{name}.c.lencr.org");
        for port in [80, 443] {
            let row = rows
                .iter()
                .find(|r| r.host == host && r.port == port)
                .unwrap_or_else(|| panic!("{host}:{port} not in the catalog"));
            assert_eq!(row.pattern.as_deref(), Some("*.c.lencr.org"));
            assert!(row.representative);
        }
    }
}

#[test]
fn catalog_json_with_kandji_tenant_values_matches_the_row_schema() {
    let run = pinscope([
        "catalog",
        "--section=kandji",
        "--kandji-tenant=0a1b2c3d",
        "--kandji-subdomain=acme",
        "--region=us",
        "--format=json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows: Vec<CatalogRow> = serde_json::from_str(&run.stdout).unwrap();
    check_catalog_rows(&rows);
    let device = rows
        .iter()
        .find(|r| r.host == "0a1b2c3d.web-api.kandji.io")
        .expect("the tenant's device domain");
    assert_eq!(device.supports_proxy, ProxySupport::No);
    // Iru lists TLS 1.0-1.2 for the device domains, not 1.3, and the Kandji Agent pins both.
    let domains = [
        "0a1b2c3d.web-api.kandji.io",
        "0a1b2c3d.devices.us-1.kandji.io",
    ];
    for (i, host) in domains.iter().enumerate() {
        let row = rows.iter().find(|r| r.host == *host).unwrap();
        assert_eq!(row.tls_max.as_deref(), Some("1.2"), "{host}");
        assert!(!row.tls_ciphers.is_empty(), "{host}");
        assert_eq!(row.pinned_by.as_deref(), Some("Kandji Agent"), "{host}");
        assert_eq!(row.pinned_with, [domains[1 - i]], "{host}");
    }
    assert_eq!(
        rows.iter().filter(|r| r.tls_max.is_some()).count(),
        2,
        "only the device domains carry tls_max"
    );
    assert!(rows.iter().any(|r| r.host == "acme.iru.com"));
    assert!(
        rows.iter()
            .all(|r| r.sections.iter().any(|s| s == "kandji"))
    );
}

#[test]
fn catalog_json_carries_the_probe_a_row_sets() {
    let mut lab = LabCatalog::new();
    lab.add("proxy.lab.example", 8080, "tcp", "probe = \"http\"");
    lab.add("time.lab.example", 1123, "udp", "probe = \"ntp\"");
    lab.add("files.lab.example", 22, "ssh", "");
    let run = pinscope([
        "catalog".to_string(),
        lab.flag(),
        "--section=lab".into(),
        "--format=json".into(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows: Vec<CatalogRow> = serde_json::from_str(&run.stdout).unwrap();
    check_catalog_rows(&rows);
    let probes: Vec<Option<Probe>> = rows.iter().map(|r| r.probe).collect();
    assert_eq!(probes, [Some(Probe::Http), Some(Probe::Ntp), None]);
}

// ---------------------------------------------------------------------------------------------
// The documentation lists what the mirror lists
// ---------------------------------------------------------------------------------------------

/// The first cell (a `code`) and second cell of each row of the table under `heading`.
fn doc_table(heading: &str) -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json-schema.md");
    let text = std::fs::read_to_string(path).unwrap();
    let start = text
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("docs/json-schema.md has no '{heading}'"));
    let section = &text[start + heading.len() + 2..];
    let end = section.find("\n## ").unwrap_or(section.len());
    section[..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].trim_matches('`').to_owned(), cells[2].to_owned())
        })
        .collect()
}

#[test]
fn the_documented_codes_verdicts_and_severities_are_the_mirrors() {
    let documented = doc_table("## Finding codes");
    let mut seen = Vec::new();
    for (name, severity) in &documented {
        let code: Code = serde_json::from_value(serde_json::json!(name))
            .unwrap_or_else(|_| panic!("docs/json-schema.md documents an unknown code '{name}'"));
        assert!(!seen.contains(&code), "{name} documented twice");
        seen.push(code);
        match code.fixed_severity() {
            Some(fixed) => {
                let want = format!("{fixed:?}").to_lowercase();
                assert_eq!(severity, &want, "{name}: documented severity");
            }
            None => assert!(
                severity.contains("error") && severity.contains("warning"),
                "{name}: the context-dependent severity is described"
            ),
        }
    }
    for code in CODES {
        assert!(
            seen.contains(&code),
            "{code:?} is not in docs/json-schema.md"
        );
    }
    assert_eq!(seen.len(), CODES.len());

    let verdicts: Vec<Verdict> = doc_table("## Verdicts")
        .iter()
        .map(|(name, _)| serde_json::from_value(serde_json::json!(name)).unwrap())
        .collect();
    assert_eq!(verdicts, VERDICTS, "the verdict table");
}

// ---------------------------------------------------------------------------------------------
// The mirror itself is strict
// ---------------------------------------------------------------------------------------------

/// A change made to real output that the mirror must reject.
type Edit = fn(&mut serde_json::Value);

fn rejects(what: &str, value: &serde_json::Value, edit: Edit) {
    let mut changed = value.clone();
    edit(&mut changed);
    assert!(
        serde_json::from_value::<Document>(changed).is_err(),
        "the mirror accepted {what}"
    );
}

#[test]
fn the_mirror_rejects_added_and_missing_fields() {
    // A forged chain on a pinned host: the document has both an apple_pinning and an interception
    // object to tamper with.
    let lab = Lab::new();
    let host = "gdmf.apple.com";
    let run = lab.inspect(&lab.inspection.leaf(&[host], true).pem, host);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(value["targets"][0]["apple_pinning"].is_object());
    assert!(value["targets"][0]["interception"].is_object());
    assert!(serde_json::from_value::<Document>(value.clone()).is_ok());

    let edits: [(&str, Edit); 20] = [
        ("an added top-level field", |v| {
            v["extra"] = serde_json::json!(1);
        }),
        ("an added target field", |v| {
            v["targets"][0]["extra"] = serde_json::json!(true);
        }),
        ("an added summary count", |v| {
            v["summary"]["other"] = serde_json::json!(0);
        }),
        ("a missing nullable field", |v| {
            v["targets"][0].as_object_mut().unwrap().remove("anchor");
        }),
        ("a missing anchor_spki_sha256", |v| {
            v["targets"][0]
                .as_object_mut()
                .unwrap()
                .remove("anchor_spki_sha256");
        }),
        ("a missing proxy", |v| {
            v["targets"][0].as_object_mut().unwrap().remove("proxy");
        }),
        ("a missing service", |v| {
            v["targets"][0].as_object_mut().unwrap().remove("service");
        }),
        ("a missing revocation", |v| {
            v["targets"][0]
                .as_object_mut()
                .unwrap()
                .remove("revocation");
        }),
        ("a missing summary count", |v| {
            v["summary"].as_object_mut().unwrap().remove("skipped");
        }),
        ("a missing proxy_error count", |v| {
            v["summary"].as_object_mut().unwrap().remove("proxy_error");
        }),
        ("a missing protocol_error count", |v| {
            v["summary"]
                .as_object_mut()
                .unwrap()
                .remove("protocol_error");
        }),
        ("an unknown verdict", |v| {
            v["targets"][0]["verdict"] = serde_json::json!("maybe");
        }),
        ("the removed tcp_connected code", |v| {
            v["targets"][0]["findings"][0]["code"] = serde_json::json!("tcp_connected");
        }),
        ("a missing apple_pinning", |v| {
            v["targets"][0]
                .as_object_mut()
                .unwrap()
                .remove("apple_pinning");
        }),
        ("a missing interception", |v| {
            v["targets"][0]
                .as_object_mut()
                .unwrap()
                .remove("interception");
        }),
        ("an added apple_pinning field", |v| {
            v["targets"][0]["apple_pinning"]["extra"] = serde_json::json!(1);
        }),
        ("an added rule result field", |v| {
            v["targets"][0]["apple_pinning"]["rule_results"][0]["extra"] = serde_json::json!(1);
        }),
        ("a missing interception product", |v| {
            v["targets"][0]["interception"]
                .as_object_mut()
                .unwrap()
                .remove("product");
        }),
        ("an added interception field", |v| {
            v["targets"][0]["interception"]["extra"] = serde_json::json!(1);
        }),
        ("an unknown evidence code", |v| {
            v["targets"][0]["interception"]["evidence"][0] = serde_json::json!("suspicious");
        }),
    ];
    for (what, edit) in edits {
        rejects(what, &value, edit);
    }

    // The service and revocation objects, as real output writes them, with the same strictness.
    let http =
        HttpServer::fixed(b"HTTP/1.1 200 OK\r\nServer: lab\r\nContent-Length: 0\r\n\r\n").port;
    let rev = Ca::root("Revocation Lab Root");
    let crl = rev.crl(&[], false);
    let crl_server =
        HttpServer::answering(move |_| http_response("200 OK", "application/pkix-crl", &crl));
    let tls_host = "deviceenrollment.apple.com";
    let tls = tls_server(&rev.revocable_leaf(tls_host, 1, &[], &[crl_server.url("/ca.crl")]));
    let scratch = Scratch::new();
    let mut catalog = LabCatalog::new();
    catalog.add("http.lab.example", http, "tcp", "probe = \"http\"");
    catalog.add(tls_host, tls, "tcp", "");
    let run = catalog.audit(&[
        "--timeout=5".into(),
        format!(
            "--public-roots={}",
            scratch.file("roots.pem", &rev.pem).display()
        ),
    ]);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(value["targets"][0]["service"].is_object(), "{value:#}");
    assert!(
        value["targets"][1]["revocation"][0].is_object(),
        "{value:#}"
    );
    parse_document(&run);
    let edits: [(&str, Edit); 9] = [
        ("an unknown protocol", |v| {
            v["targets"][0]["service"]["protocol"] = serde_json::json!("gopher");
        }),
        ("a service without protocol", |v| {
            v["targets"][0]["service"]
                .as_object_mut()
                .unwrap()
                .remove("protocol");
        }),
        ("an added service field", |v| {
            v["targets"][0]["service"]["extra"] = serde_json::json!(1);
        }),
        ("a missing HTTP status", |v| {
            v["targets"][0]["service"]
                .as_object_mut()
                .unwrap()
                .remove("status");
        }),
        ("an added revocation field", |v| {
            v["targets"][1]["revocation"][0]["extra"] = serde_json::json!(1);
        }),
        ("a missing revocation reason", |v| {
            v["targets"][1]["revocation"][0]
                .as_object_mut()
                .unwrap()
                .remove("reason");
        }),
        ("a missing revoked_at", |v| {
            v["targets"][1]["revocation"][0]
                .as_object_mut()
                .unwrap()
                .remove("revoked_at");
        }),
        ("an unknown revocation status", |v| {
            v["targets"][1]["revocation"][0]["status"] = serde_json::json!("fine");
        }),
        ("an unknown revocation kind", |v| {
            v["targets"][1]["revocation"][0]["kind"] = serde_json::json!("crlite");
        }),
    ];
    for (what, edit) in edits {
        rejects(what, &value, edit);
    }

    let catalog = pinscope([
        "catalog",
        "--section=kandji",
        "--kandji-tenant=t1",
        "--region=us",
        "--format=json",
    ]);
    let rows: serde_json::Value = serde_json::from_str(&catalog.stdout).unwrap();
    assert!(serde_json::from_value::<Vec<CatalogRow>>(rows.clone()).is_ok());
    for field in [
        "note",
        "tls_max",
        "tls_ciphers",
        "pinned_by",
        "pinned_with",
        "apple_pinning_policy",
    ] {
        let mut changed = rows.clone();
        changed[0].as_object_mut().unwrap().remove(field);
        assert!(
            serde_json::from_value::<Vec<CatalogRow>>(changed).is_err(),
            "the catalog mirror accepted a missing {field}"
        );
    }
    let mut changed = rows.clone();
    changed[0]["probe"] = serde_json::json!("gopher");
    assert!(serde_json::from_value::<Vec<CatalogRow>>(changed).is_err());
    let mut changed = rows;
    changed[0]["probe"] = serde_json::json!("tls");
    assert!(
        serde_json::from_value::<Vec<CatalogRow>>(changed).is_ok(),
        "probe is optional and, when present, one of the probes"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors never produce a partial document
// ---------------------------------------------------------------------------------------------

#[test]
fn usage_errors_write_no_json_and_exit_2() {
    let scratch = Scratch::new();
    let bad_baseline = scratch.file("baseline.json", "{\"pinscope_baseline\": 9}");
    let bad_baseline = format!("--baseline={}", bad_baseline.display());
    for args in [
        vec!["audit", "--format=json", "--timeout=0", "gdmf.apple.com"],
        vec![
            "audit",
            "--format=json",
            "--resolve=nonsense",
            "gdmf.apple.com",
        ],
        vec!["audit", "--format=json", "--section=no-such-section"],
        vec![
            "audit",
            "--format=json",
            "--proxy=socks4://127.0.0.1:1080",
            "gdmf.apple.com",
        ],
        vec![
            "audit",
            "--format=json",
            "--dns-server=not-an-address",
            "gdmf.apple.com",
        ],
        vec!["audit", "--format=json", &bad_baseline, "gdmf.apple.com"],
        vec![
            "inspect",
            "/nonexistent/chain.pem",
            "--host=gdmf.apple.com",
            "--format=json",
        ],
    ] {
        let run = pinscope(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: stdout {}", run.stdout);
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.starts_with("pinscope: error: "),
            "{args:?}: {}",
            run.stderr
        );
    }
}

// ---------------------------------------------------------------------------------------------
// inspect: the codes of Apple's trust store, requirements and CT
// ---------------------------------------------------------------------------------------------

/// A leaf signed by `ca` with the given validity (days from yesterday), names in subjectAltName,
/// subject CN and extended key usage.
fn custom_leaf(
    ca: &Ca,
    sans: &[&str],
    cn: &str,
    days: i64,
    eku: Vec<ExtendedKeyUsagePurpose>,
) -> String {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.extended_key_usages = eku;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = params.not_before + time::Duration::days(days);
    ca.leaf_from(params, vec![ca], key).pem
}

#[test]
fn apple_store_requirement_and_ct_codes_are_emitted_with_their_documented_severity() {
    let scratch = Scratch::new();
    let lab = Ca::root("Lab Device Root");
    let lab_root = format!(
        "--apple-roots={}",
        scratch.file("lab.pem", &lab.pem).display()
    );
    let mut seen = Vec::new();
    let mut judge = |name: &str, pem: &str, host: &str, extra: &[String]| {
        let file = scratch.file(&format!("{name}.pem"), pem);
        let mut args = vec![
            "inspect".to_string(),
            file.display().to_string(),
            format!("--host={host}"),
            "--format=json".into(),
        ];
        args.extend(extra.iter().cloned());
        let run = pinscope(&args);
        let doc = parse_document(&run);
        let t = &doc.targets[0];
        seen.extend(t.codes());
        (t.verdict, t.codes())
    };
    let server = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let host = "lab.example.com";

    let (v, c) = judge(
        "long",
        &custom_leaf(&lab, &[host], host, 900, server.clone()),
        host,
        std::slice::from_ref(&lab_root),
    );
    assert_eq!(v, Verdict::Untrusted);
    assert!(c.contains(&Code::ValidityTooLong), "{c:?}");

    let (v, c) = judge(
        "client",
        &custom_leaf(
            &lab,
            &[host],
            host,
            30,
            vec![ExtendedKeyUsagePurpose::ClientAuth],
        ),
        host,
        std::slice::from_ref(&lab_root),
    );
    assert_eq!(v, Verdict::Untrusted);
    assert!(c.contains(&Code::NoServerAuthEku), "{c:?}");

    let (v, c) = judge(
        "cn",
        &custom_leaf(&lab, &["other.example.com"], host, 30, server.clone()),
        host,
        std::slice::from_ref(&lab_root),
    );
    assert_eq!(v, Verdict::Untrusted);
    assert!(c.contains(&Code::NameOnlyInCn), "{c:?}");

    let precert = lab.leaf_with(&[host], vec![marker("1.3.6.1.4.1.11129.2.4.3")], vec![&lab]);
    let (v, c) = judge(
        "precert",
        &precert.pem,
        host,
        std::slice::from_ref(&lab_root),
    );
    assert_eq!(v, Verdict::Untrusted);
    assert!(c.contains(&Code::Precertificate), "{c:?}");

    let transparent = Ca::root("Corp Transparent CA");
    let flag = format!(
        "--transparent-ca={}",
        scratch.file("transparent.pem", &transparent.pem).display()
    );
    let gdmf = transparent.leaf(&["gdmf.apple.com"], true);
    let (v, c) = judge("gdmf", &gdmf.pem, "gdmf.apple.com", &[flag]);
    assert_eq!(v, Verdict::Pass);
    assert!(c.contains(&Code::TransparentConnectionAllowed), "{c:?}");

    if let Some(reference) = reference() {
        let der_pem = |name: &str| {
            let der = std::fs::read(reference.join("apple-pki").join(format!("{name}.cer")));
            let b64 = base64_encode(&der.unwrap());
            format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n")
        };
        let smoot = der_pem("api-smoot") + &der_pem("ApplePublicServerRSA12-G1");
        let at = "--at=2024-12-01T00:00:00Z".to_string();
        let (v, c) = judge(
            "smoot",
            &smoot,
            "api.smoot.apple.com",
            std::slice::from_ref(&at),
        );
        assert_eq!(v, Verdict::Pass);
        assert!(c.contains(&Code::CtCompliant), "{c:?}");
        assert!(c.contains(&Code::PublicClientsRefuse), "{c:?}");

        // The same genuine chain, judged with a copy of Apple's data whose log list rejects every
        // log: Apple's CT policy is not met, and devices refuse it.
        let store = scratch.path("store");
        copy_dir(&reference.join("apple-trust-store"), &store);
        let list = store.join("certificate_transparency/log_list.json");
        let mut logs: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&list).unwrap()).unwrap();
        for operator in logs["operators"].as_array_mut().unwrap() {
            for kind in ["logs", "tiled_logs"] {
                for log in operator[kind].as_array_mut().into_iter().flatten() {
                    log["state"] = serde_json::json!({
                        "rejected": {"timestamp": "2000-01-01T00:00:00Z"}
                    });
                }
            }
        }
        std::fs::write(&list, logs.to_string()).unwrap();
        let (v, c) = judge(
            "smoot-rejected",
            &smoot,
            "api.smoot.apple.com",
            &[at, format!("--apple-trust-store={}", store.display())],
        );
        assert_eq!(v, Verdict::Untrusted);
        assert!(c.contains(&Code::CtNotCompliant), "{c:?}");

        // Under Apple's own root CT is not required: the same rejected logs are information.
        let ck = der_pem("ckdatabasews") + &der_pem("AppleISTCA2G1");
        let (v, c) = judge(
            "ck",
            &ck,
            "p02-ckdatabasews.icloud.com",
            &[
                "--at=2022-06-01T00:00:00Z".into(),
                format!("--apple-trust-store={}", store.display()),
            ],
        );
        assert_eq!(v, Verdict::Pass);
        assert!(c.contains(&Code::CtNotRequired), "{c:?}");

        // A root Apple removed, served on its own.
        let removed = reference.join("apple-trust-store/certificates/removed");
        let root = std::fs::read_dir(&removed)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .find(|p| {
                let der = std::fs::read(p).unwrap();
                x509_parser::parse_x509_certificate(&der).is_ok_and(|(_, c)| {
                    c.subject() == c.issuer()
                        && c.verify_signature(None).is_ok()
                        && c.validity().not_after.timestamp() > 1_500_000_000
                })
            })
            .expect("a self-signed removed root");
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64_encode(&std::fs::read(&root).unwrap())
        );
        let (v, c) = judge("removed", &pem, host, &["--at=2017-06-01T00:00:00Z".into()]);
        assert_eq!(v, Verdict::Untrusted, "{root:?}");
        assert!(c.contains(&Code::RootRemovedByApple), "{root:?}: {c:?}");
    }
    for code in [
        Code::ValidityTooLong,
        Code::NoServerAuthEku,
        Code::NameOnlyInCn,
        Code::Precertificate,
        Code::TransparentConnectionAllowed,
    ] {
        assert!(seen.contains(&code), "{code:?} not emitted");
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
