//! What the analysis finds: graded findings, each with a stable code (its snake_case name is part
//! of the JSON contract), and the verdict they lead to. Defined here, in the model, because every
//! layer above speaks them; the analysis decides them (`analysis::policy`).

use serde::{Deserialize, Serialize};

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// What a finding is about; the serialized names are a stable contract (docs/json-schema.md).
/// Deserialised when a saved report is read back (`pinscope report`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Code {
    /// The chain is valid for the name against the public roots.
    ChainValid,
    /// The chain ends at an anchor only this machine's native store trusts.
    AnchorNativeOnly,
    /// The chain ends at a self-signed CA that no trust store holds.
    AnchorInNoStore,
    /// A certificate names a trusted CA as issuer, but that CA's key did not sign it.
    IssuerSignatureMismatch,
    /// The chain's top issuer was not sent and is in no store.
    UnknownIssuer,
    Expired,
    NotYetValid,
    NameMismatch,
    /// Any other reason the path is invalid.
    ChainInvalid,
    /// Apple pins this host and the chain satisfies the policy.
    PinningSatisfied,
    /// Apple pins this host and the chain fails every rule set of the policy.
    PinningFailed,
    /// A CA name or marker of Apple's appears on a key that is not Apple's.
    AppleNamesCopied,
    /// The leaf has its issuer's key (mitmproxy and squid sign every forged leaf with their CA key).
    LeafKeyEqualsIssuerKey,
    /// A CA in the chain belongs to a known SSL-inspection product.
    KnownInspectionProduct,
    /// The leaf embeds no Signed Certificate Timestamps.
    MissingSct,
    /// The TLS parameters are ones the real server cannot produce.
    TlsProfileMismatch,
    /// A publicly valid chain from a CA family not expected for this host.
    UnexpectedIssuer,
    MalformedCertificate,
    EmptyChain,
    ConnectionRefused,
    ConnectionReset,
    ConnectionClosed,
    Unreachable,
    Timeout,
    DnsFailure,
    /// The DNS server answered NXDOMAIN: no such name.
    DnsNxdomain,
    /// The DNS server answered SERVFAIL.
    DnsServfail,
    /// The DNS server answered REFUSED.
    DnsRefused,
    /// The name exists but has no A or AAAA records.
    DnsNoAddresses,
    /// The DNS server did not answer at all.
    DnsNoAnswer,
    TlsAlert,
    NotTls,
    TlsProtocolError,
    IoError,
    NotProbed,
    /// The run was interrupted (SIGINT, SIGTERM) while this target's probe was under way; the
    /// message says what the probe had seen.
    Interrupted,
    /// The proxy demands authentication (407).
    ProxyAuthRequired,
    /// The proxy refused the tunnel (403 or another 4xx).
    ProxyRefused,
    /// The proxy could not reach the target (5xx).
    ProxyUpstreamError,
    /// The proxy closed the connection or tunnel, or answered with something that is not HTTP.
    ProxyClosed,
    /// This machine could not reach the proxy itself: its name did not resolve, or the connection
    /// to it was refused, reset, unreachable or unanswered.
    ProxyUnreachable,
    /// A proxy is in use, and the source says this service does not work through one.
    ProxyNotSupported,
    /// A non-TLS service answered with something other than its protocol.
    UnexpectedAnswer,
    /// A plain-HTTP server answered.
    HttpAnswered,
    /// A transparent HTTP proxy answered or forwarded (Via, X-Cache, proxy headers).
    TransparentProxy,
    /// A block page: a redirect to another host, or a proxy's own refusal.
    BlockPage,
    /// An NTP server answered.
    NtpAnswered,
    /// The NTP server's clock differs from this machine's by more than a few seconds.
    ClockSkew,
    /// The NTP server sent a kiss-of-death (stratum 0) or an unsynchronised reply.
    NtpUnsynchronised,
    /// An SSH server identified itself.
    SshBanner,
    /// A QUIC server answered with Version Negotiation.
    QuicVersionNegotiation,
    /// What a probe could not verify (for example the TLS inside QUIC).
    NotVerified,
    /// Every key matches the baseline.
    PinMatch,
    /// Keys changed under the same anchor key and devices still accept the chain.
    PinRotation,
    /// The chain differs from the baseline with a new anchor, or devices refuse it.
    PinMismatch,
    /// The negotiated TLS version or cipher suite differs from the baseline.
    TlsProfileChanged,
    /// OCSP or CRL says the certificate is good.
    RevocationGood,
    /// OCSP or CRL says the certificate is revoked.
    Revoked,
    /// The responder does not know the certificate, or the CRL is stale.
    RevocationUnknown,
    /// The OCSP responder or CRL server could not be reached.
    RevocationUnreachable,
    /// What came back is not an OCSP response or CRL (an HTML block page, an error), or its
    /// signature does not verify.
    RevocationInvalid,
    /// A certificate on the path is signed with a hash Apple devices refuse (SHA-1, MD5).
    WeakSignatureAlgorithm,
    /// A key on the path is too small for Apple devices (RSA under 2048 bits).
    WeakKey,
    /// The leaf lacks serverAuth in extendedKeyUsage (or lacks the extension), which Apple devices
    /// require.
    NoServerAuthEku,
    /// The leaf's validity is longer than Apple allows for its issuance date and root.
    ValidityTooLong,
    /// The host name appears only in the subject CN, which Apple devices ignore.
    NameOnlyInCn,
    /// Apple's CT policy is met: enough verified SCTs from distinct operators.
    CtCompliant,
    /// Apple's CT policy is not met, for a chain Apple requires it of: devices refuse it.
    CtNotCompliant,
    /// Apple does not require CT of this chain (Apple's own roots, a root a user or MDM installed,
    /// a certificate issued before CT was required); what its SCTs show is reported.
    CtNotRequired,
    /// An SCT does not verify for this certificate (copied from another, or the certificate was
    /// altered).
    SctInvalid,
    /// For a catalog host: the chain's issuer is not sent, in no store, and of no CA family
    /// expected for the host.
    UnexpectedUnknownIssuer,
    /// The chain is anchored at a CA the user named as an MDM transparent-connection pin, on a
    /// host whose pinning policy allows that.
    TransparentConnectionAllowed,
    /// The certificate is a CT precertificate (it carries the poison extension), not a TLS
    /// certificate.
    Precertificate,
    /// Public (Mozilla-store) clients would refuse the chain that Apple devices accept.
    PublicClientsRefuse,
    /// The chain ends at a root Apple removed from its trust store.
    RootRemovedByApple,
    /// The name resolved to an address outside every network a source documents for the
    /// service (APNs: 17.0.0.0/8).
    AddressOutsideDocumentedNetwork,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChainValid => "chain_valid",
            Self::AnchorNativeOnly => "anchor_native_only",
            Self::AnchorInNoStore => "anchor_in_no_store",
            Self::IssuerSignatureMismatch => "issuer_signature_mismatch",
            Self::UnknownIssuer => "unknown_issuer",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::NameMismatch => "name_mismatch",
            Self::ChainInvalid => "chain_invalid",
            Self::PinningSatisfied => "pinning_satisfied",
            Self::PinningFailed => "pinning_failed",
            Self::AppleNamesCopied => "apple_names_copied",
            Self::LeafKeyEqualsIssuerKey => "leaf_key_equals_issuer_key",
            Self::KnownInspectionProduct => "known_inspection_product",
            Self::MissingSct => "missing_sct",
            Self::TlsProfileMismatch => "tls_profile_mismatch",
            Self::UnexpectedIssuer => "unexpected_issuer",
            Self::MalformedCertificate => "malformed_certificate",
            Self::EmptyChain => "empty_chain",
            Self::ConnectionRefused => "connection_refused",
            Self::ConnectionReset => "connection_reset",
            Self::ConnectionClosed => "connection_closed",
            Self::Unreachable => "unreachable",
            Self::Timeout => "timeout",
            Self::DnsFailure => "dns_failure",
            Self::DnsNxdomain => "dns_nxdomain",
            Self::DnsServfail => "dns_servfail",
            Self::DnsRefused => "dns_refused",
            Self::DnsNoAddresses => "dns_no_addresses",
            Self::DnsNoAnswer => "dns_no_answer",
            Self::TlsAlert => "tls_alert",
            Self::NotTls => "not_tls",
            Self::TlsProtocolError => "tls_protocol_error",
            Self::IoError => "io_error",
            Self::NotProbed => "not_probed",
            Self::Interrupted => "interrupted",
            Self::ProxyAuthRequired => "proxy_auth_required",
            Self::ProxyRefused => "proxy_refused",
            Self::ProxyUpstreamError => "proxy_upstream_error",
            Self::ProxyClosed => "proxy_closed",
            Self::ProxyUnreachable => "proxy_unreachable",
            Self::ProxyNotSupported => "proxy_not_supported",
            Self::UnexpectedAnswer => "unexpected_answer",
            Self::HttpAnswered => "http_answered",
            Self::TransparentProxy => "transparent_proxy",
            Self::BlockPage => "block_page",
            Self::NtpAnswered => "ntp_answered",
            Self::ClockSkew => "clock_skew",
            Self::NtpUnsynchronised => "ntp_unsynchronised",
            Self::SshBanner => "ssh_banner",
            Self::QuicVersionNegotiation => "quic_version_negotiation",
            Self::NotVerified => "not_verified",
            Self::PinMatch => "pin_match",
            Self::PinRotation => "pin_rotation",
            Self::PinMismatch => "pin_mismatch",
            Self::TlsProfileChanged => "tls_profile_changed",
            Self::RevocationGood => "revocation_good",
            Self::Revoked => "revoked",
            Self::RevocationUnknown => "revocation_unknown",
            Self::RevocationUnreachable => "revocation_unreachable",
            Self::RevocationInvalid => "revocation_invalid",
            Self::WeakSignatureAlgorithm => "weak_signature_algorithm",
            Self::WeakKey => "weak_key",
            Self::NoServerAuthEku => "no_server_auth_eku",
            Self::ValidityTooLong => "validity_too_long",
            Self::NameOnlyInCn => "name_only_in_cn",
            Self::CtCompliant => "ct_compliant",
            Self::CtNotCompliant => "ct_not_compliant",
            Self::CtNotRequired => "ct_not_required",
            Self::SctInvalid => "sct_invalid",
            Self::UnexpectedUnknownIssuer => "unexpected_unknown_issuer",
            Self::TransparentConnectionAllowed => "transparent_connection_allowed",
            Self::Precertificate => "precertificate",
            Self::PublicClientsRefuse => "public_clients_refuse",
            Self::RootRemovedByApple => "root_removed_by_apple",
            Self::AddressOutsideDocumentedNetwork => "address_outside_documented_network",
        }
    }
}

/// One graded observation about a target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    /// What was found, in words, for people. Never parsed: what a renderer or the explanation
    /// needs to know structurally is in `detail`.
    pub message: String,
    /// Structured context for the report and the explanation; not part of the JSON finding (the
    /// JSON carries it elsewhere, e.g. `interception.product`).
    #[serde(skip)]
    pub detail: Option<Detail>,
}

/// Structured context a finding carries beside its words.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Detail {
    /// `known_inspection_product`: the product the chain identifies.
    Product {
        /// As `data/interception_products.toml` names it.
        name: String,
        /// What kind of product it is ("cloud SSL inspection", "debugging proxy", …).
        kind: String,
    },
}

impl Finding {
    pub(crate) fn new(code: Code, severity: Severity, message: impl Into<String>) -> Self {
        Self {
            code,
            severity,
            message: message.into(),
            detail: None,
        }
    }

    pub(crate) fn with_detail(mut self, detail: Detail) -> Self {
        self.detail = Some(detail);
        self
    }

    /// The inspection product this finding names, if it names one.
    pub fn product(&self) -> Option<&str> {
        match &self.detail {
            Some(Detail::Product { name, .. }) => Some(name),
            _ => None,
        }
    }
}

/// The answer for one target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The chain is valid against the public roots for this name (or a non-TLS service answered
    /// in its protocol).
    Pass,
    /// Something between this machine and the service re-signed the connection.
    Intercepted,
    /// The chain is invalid for another reason, with no sign of forgery.
    Untrusted,
    /// Refused, reset or closed before a result.
    Blocked,
    /// No answer within the deadline.
    Timeout,
    /// The name did not resolve.
    DnsError,
    /// The TLS handshake failed (alert, not TLS, protocol error).
    TlsError,
    /// The HTTP proxy refused, failed or broke the tunnel.
    ProxyError,
    /// A non-TLS service (HTTP, NTP, SSH, QUIC) answered with something other than its protocol.
    ProtocolError,
    /// Not probed.
    Skipped,
}

impl Verdict {
    pub const ALL: [Self; 10] = [
        Self::Pass,
        Self::Intercepted,
        Self::Untrusted,
        Self::Blocked,
        Self::Timeout,
        Self::DnsError,
        Self::TlsError,
        Self::ProxyError,
        Self::ProtocolError,
        Self::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Intercepted => "intercepted",
            Self::Untrusted => "untrusted",
            Self::Blocked => "blocked",
            Self::Timeout => "timeout",
            Self::DnsError => "dns_error",
            Self::TlsError => "tls_error",
            Self::ProxyError => "proxy_error",
            Self::ProtocolError => "protocol_error",
            Self::Skipped => "skipped",
        }
    }

    /// A failure that is not interception (exit code 3 territory).
    pub fn is_failure(self) -> bool {
        !matches!(self, Self::Pass | Self::Intercepted | Self::Skipped)
    }
}
