//! What a probe saw, as plain data. The probe produces it; the analysis judges it. Keeping these types
//! apart from the probe keeps the analysis free of tokio and of the network.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::target::Target;

/// Everything recorded about one target.
#[derive(Clone, Debug)]
pub struct Observation {
    pub target: Target,
    /// Addresses the name resolved to (or the literal address), in the order tried.
    pub addresses: Vec<IpAddr>,
    /// The address that accepted the TCP connection.
    pub address_used: Option<SocketAddr>,
    /// Who gave `addresses` for the target's own name; `None` for a literal address, when they are
    /// a proxy's or another host's (`--connect-to`), or when nothing was resolved.
    pub answered_by: Option<AnsweredBy>,
    /// The server name sent in the ClientHello, if any (none for IP-literal targets).
    pub sni: Option<String>,
    pub outcome: Outcome,
    pub elapsed: Duration,
    /// The proxy the connection went through, credentials redacted.
    pub proxy: Option<String>,
    /// With `--pac`: what the PAC answered for this target and which of its entries was taken.
    pub route: Option<RouteTaken>,
    /// OCSP and CRL fetches made for this target's chain (empty with `--no-revocation`).
    pub revocation: Vec<RevocationFetch>,
    /// How long each phase the probe reached took, in order (empty for skipped targets and
    /// `inspect`). Shown by `audit -v`; not part of the JSON.
    pub timings: Vec<PhaseTiming>,
}

/// Who answered a name lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnsweredBy {
    /// The operating system's resolver.
    System,
    /// The DNS server given with `--dns-server`.
    DnsServer(SocketAddr),
    /// A `--resolve` rule.
    ResolveRule,
}

impl fmt::Display for AnsweredBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::System => f.write_str("the system resolver"),
            Self::DnsServer(server) => write!(f, "the DNS server {server} (--dns-server)"),
            Self::ResolveRule => f.write_str("a --resolve rule"),
        }
    }
}

/// The path a PAC chose for one target: its whole answer, the entries that could not be used
/// (in the order tried) and the one the probe went through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteTaken {
    /// Where the PAC was read from (its path or URL, credentials redacted).
    pub pac: String,
    /// `FindProxyForURL`'s answer as returned (`"PROXY a:3128; DIRECT"`); empty when evaluating
    /// it failed.
    pub answer: String,
    /// The entry the probe went through (`DIRECT`, `PROXY 127.0.0.1:3128`, …); `None` when no
    /// entry could be used (the failure says why).
    pub chosen: Option<String>,
    /// Entries tried before `chosen` that could not be used, and why.
    pub failed: Vec<RouteFailure>,
}

/// A PAC entry that could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteFailure {
    pub entry: String,
    pub detail: String,
}

/// The time one phase of a probe took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhaseTiming {
    pub phase: Phase,
    pub elapsed: Duration,
}

/// How the probe ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The TLS handshake completed.
    Handshake {
        params: TlsParams,
        captured: Captured,
    },
    /// The probe failed; a chain may still have been captured before the failure.
    Failed {
        failure: Failure,
        captured: Option<Captured>,
    },
    /// Not probed, for the reason given.
    Skipped(SkipReason),
    /// A chain read from a file rather than from the network (`pinscope inspect`).
    Offline { captured: Captured },
    /// A non-TLS service answered (HTTP, NTP, SSH, QUIC).
    Service(ServiceAnswer),
}

/// What a non-TLS service said (JSON `service`, written by `report::wire`).
#[derive(Clone, Debug, PartialEq)]
pub enum ServiceAnswer {
    Http(HttpAnswer),
    Ntp(NtpAnswer),
    Ssh(SshAnswer),
    Quic(QuicAnswer),
}

/// A plain-HTTP response (status line and headers; the body is not kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub reason: String,
    /// Header names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
}

impl HttpAnswer {
    /// The first value of a header (`name` lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Where a redirect points, as sent (possibly relative).
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }
}

/// An SNTP reply, measured against this machine's clock.
#[derive(Clone, Debug, PartialEq)]
pub struct NtpAnswer {
    pub stratum: u8,
    pub leap: u8,
    pub version: u8,
    /// Reference identifier: a four-letter source for stratum 1, a kiss code for stratum 0.
    pub reference_id: String,
    /// The server's clock minus this machine's, in milliseconds. None when the reply carries no
    /// usable time (a kiss-of-death without timestamps).
    pub offset_ms: Option<f64>,
    pub round_trip_ms: Option<f64>,
}

/// The identification line an SSH server sends first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshAnswer {
    pub banner: String,
}

/// A QUIC Version Negotiation packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuicAnswer {
    /// The versions the server lists, in its order.
    pub versions: Vec<u32>,
}

/// One OCSP or CRL fetch, unjudged.
#[derive(Clone, Debug)]
pub struct RevocationFetch {
    pub kind: RevocationKind,
    pub url: String,
    /// SHA-256 of the certificate whose status is asked for.
    pub cert_sha256: String,
    /// SHA-256 of the presented certificate taken as its issuer; `None` when the server did not
    /// present it.
    pub issuer_sha256: Option<String>,
    pub outcome: RevocationOutcome,
}

/// One OCSP or CRL fetch planned for a captured chain (by `analysis::revocation::plan`), for the
/// probe to carry out (`probe::revocation::fetch_all`) and record as a [`RevocationFetch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedFetch {
    /// The observation it is for: an index into the slice it was planned from.
    pub observation: usize,
    pub kind: RevocationKind,
    pub url: String,
    /// SHA-256 of the certificate whose status is asked for.
    pub cert_sha256: String,
    /// SHA-256 of the presented certificate taken as its issuer, when it was presented.
    pub issuer_sha256: Option<String>,
    pub request: FetchRequest,
}

/// What a planned fetch sends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FetchRequest {
    /// GET the URL (a CRL).
    Get,
    /// POST this DER OCSPRequest.
    Ocsp(Vec<u8>),
    /// Nothing: not fetched, for the reason given (recorded as [`RevocationOutcome::NotFetched`]).
    Skip(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RevocationKind {
    Ocsp,
    Crl,
}

impl RevocationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ocsp => "ocsp",
            Self::Crl => "crl",
        }
    }
}

/// How a revocation fetch ended.
#[derive(Clone, Debug)]
pub enum RevocationOutcome {
    /// An HTTP response arrived within the caps (any status; the analysis judges it).
    Fetched(FetchedBody),
    /// No usable HTTP response: the connection failed, a cap was hit, or what came back is not HTTP.
    Failed(FetchFailure),
    /// Not attempted, for the reason given (an `https://` URL, the issuer was not presented, …).
    NotFetched(String),
}

/// An HTTP response body fetched within the caps.
#[derive(Clone, Debug)]
pub struct FetchedBody {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The URL the body came from, after any redirects.
    pub final_url: String,
}

/// Why a revocation fetch produced no usable response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchFailure {
    pub kind: FetchFailureKind,
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchFailureKind {
    /// The responder's name did not resolve.
    Dns,
    /// The connection was refused.
    Refused,
    /// The connection was reset.
    Reset,
    /// The server closed the connection before a complete response.
    Closed,
    /// No route to the responder.
    Unreachable,
    /// No complete answer within the per-fetch deadline.
    Timeout,
    /// The body is larger than the size cap.
    TooLarge,
    /// More redirects than the cap allows.
    TooManyRedirects,
    /// A redirect to something other than a plain-HTTP URL, or without a usable Location.
    BadRedirect,
    /// What came back is not an HTTP response.
    NotHttp,
    /// Any other I/O failure.
    Io,
}

impl Outcome {
    /// The chain this outcome carries, if any.
    pub fn captured(&self) -> Option<&Captured> {
        match self {
            Self::Handshake { captured, .. } | Self::Offline { captured } => Some(captured),
            Self::Failed { captured, .. } => captured.as_ref(),
            Self::Skipped(_) | Self::Service(_) => None,
        }
    }
}

/// What the server presented, unjudged.
#[derive(Clone, Debug, Default)]
pub struct Captured {
    /// The presented certificates, leaf first, exactly as sent.
    pub chain: Vec<CertificateDer<'static>>,
    /// A stapled OCSP response, when the server sent one.
    pub stapled_ocsp: Option<Vec<u8>>,
}

/// The negotiated TLS parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsParams {
    pub version: TlsVersion,
    pub cipher_suite: String,
    pub alpn: Option<String>,
}

/// Where in the probe a failure happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Resolve,
    Connect,
    /// The HTTP CONNECT exchange with a proxy.
    Proxy,
    Handshake,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resolve => "resolve",
            Self::Connect => "connect",
            Self::Proxy => "proxy",
            Self::Handshake => "handshake",
        }
    }
}

/// A failed probe: what kind of failure, where, and the detail the system gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub phase: Phase,
    pub detail: String,
}

/// Why a name did not resolve, as far as the resolver says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DnsProblem {
    /// No reason given (the system resolver), or one not listed here.
    Other,
    /// NXDOMAIN: the name does not exist.
    NoSuchName,
    /// SERVFAIL: the DNS server could not resolve the name.
    ServerFailure,
    /// REFUSED: the DNS server would not answer.
    Refused,
    /// The name exists, but has no A or AAAA records (NODATA).
    NoAddresses,
    /// The DNS server did not answer at all.
    NoAnswer,
}

/// The kinds of failure a probe distinguishes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// The name did not resolve (no such name, server failure, no addresses).
    Dns(DnsProblem),
    /// The connection was refused (RST to the SYN).
    Refused,
    /// The connection was reset.
    Reset,
    /// The peer closed the connection cleanly before the handshake finished.
    Closed,
    /// No route to the host or network.
    Unreachable,
    /// The per-target deadline passed.
    Timeout,
    /// The run was interrupted (SIGINT, SIGTERM) while the probe was under way.
    Interrupted,
    /// The server sent a TLS alert (its description).
    TlsAlert(rustls::AlertDescription),
    /// The server answered with something that is not TLS.
    NotTls,
    /// Any other TLS protocol failure.
    TlsProtocol,
    /// A non-TLS service answered with something other than its protocol.
    UnexpectedAnswer,
    /// The HTTP proxy refused or broke the tunnel (its status, when it gave one).
    Proxy(Option<u16>),
    /// The proxy itself could not be reached (its name, or the connection to it, failed).
    ProxyUnreachable,
    /// Any other I/O failure.
    Io,
}

/// A negotiated TLS protocol version. Written as rustls names them ("TLSv1.3"), in the JSON and
/// in baselines.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TlsVersion {
    Tls10,
    Tls11,
    Tls12,
    Tls13,
    /// The handshake completed without a version to report (it cannot, with rustls).
    Unknown,
    /// A version pinscope has no name for, as rustls describes it.
    Other(String),
}

impl TlsVersion {
    /// The name as written: "TLSv1.3", "unknown", or the other version's description.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Tls10 => "TLSv1.0",
            Self::Tls11 => "TLSv1.1",
            Self::Tls12 => "TLSv1.2",
            Self::Tls13 => "TLSv1.3",
            Self::Unknown => "unknown",
            Self::Other(name) => name,
        }
    }

    /// Reads a name as [`TlsVersion::as_str`] writes it; anything else is [`TlsVersion::Other`].
    pub fn parse(name: &str) -> Self {
        match name {
            "TLSv1.0" => Self::Tls10,
            "TLSv1.1" => Self::Tls11,
            "TLSv1.2" => Self::Tls12,
            "TLSv1.3" => Self::Tls13,
            "unknown" => Self::Unknown,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The version as (major, minor), e.g. (1, 3), when it is a TLS version.
    pub fn number(&self) -> Option<(u8, u8)> {
        match self {
            Self::Tls10 => Some((1, 0)),
            Self::Tls11 => Some((1, 1)),
            Self::Tls12 => Some((1, 2)),
            Self::Tls13 => Some((1, 3)),
            Self::Unknown | Self::Other(_) => None,
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TlsVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&String::deserialize(d)?))
    }
}

/// Why a target was not probed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The catalog lists only a wildcard here, with no concrete name under it to probe.
    NoConcreteHost {
        /// The wildcard, e.g. `*.example.com`.
        pattern: String,
    },
    /// A UDP port that carries no protocol pinscope can probe.
    UnknownUdpPort(u16),
    /// The run stopped (a signal, `--deadline`) before this target was probed.
    Stopped(StopReason),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoConcreteHost { pattern } => write!(
                f,
                "no concrete host name is known under {pattern}; add one with --catalog to probe it"
            ),
            Self::UnknownUdpPort(port) => write!(
                f,
                "UDP {port} carries no protocol pinscope knows how to probe"
            ),
            Self::Stopped(reason) => f.write_str(reason.not_probed()),
        }
    }
}

/// The reason as a finding's message says it.
impl From<SkipReason> for String {
    fn from(reason: SkipReason) -> Self {
        reason.to_string()
    }
}

/// Why a run stopped before every target was probed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// SIGINT (Ctrl-C) or SIGTERM.
    Interrupted,
    /// `--deadline` passed.
    Deadline,
}

impl StopReason {
    /// The reason a target that was never probed carries ("not probed: …").
    pub fn not_probed(self) -> &'static str {
        match self {
            Self::Interrupted => "not probed: the run was interrupted",
            Self::Deadline => "not probed: the run deadline passed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_versions_are_written_as_rustls_names_them_and_read_back() {
        for v in [
            TlsVersion::Tls10,
            TlsVersion::Tls11,
            TlsVersion::Tls12,
            TlsVersion::Tls13,
            TlsVersion::Unknown,
            TlsVersion::Other("SSLv3".into()),
        ] {
            assert_eq!(TlsVersion::parse(&v.to_string()), v);
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, format!("\"{v}\""));
            assert_eq!(serde_json::from_str::<TlsVersion>(&json).unwrap(), v);
        }
        assert_eq!(TlsVersion::Tls13.as_str(), "TLSv1.3");
        assert_eq!(TlsVersion::Tls12.number(), Some((1, 2)));
        assert_eq!(TlsVersion::Other("x".into()).number(), None);
    }

    #[test]
    fn skip_reasons_say_why_in_words() {
        assert_eq!(
            SkipReason::Stopped(StopReason::Deadline).to_string(),
            "not probed: the run deadline passed"
        );
        assert_eq!(
            String::from(SkipReason::UnknownUdpPort(9)),
            "UDP 9 carries no protocol pinscope knows how to probe"
        );
        assert!(
            SkipReason::NoConcreteHost {
                pattern: "*.example.com".into()
            }
            .to_string()
            .starts_with("no concrete host name is known under *.example.com;")
        );
    }
}
