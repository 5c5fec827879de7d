//! What a probe saw, as plain data. The probe produces it; the analysis judges it. Keeping these types
//! apart from the probe keeps the analysis free of tokio and of the network.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rustls_pki_types::CertificateDer;

use crate::target::Target;

/// Everything recorded about one target.
#[derive(Clone, Debug)]
pub struct Observation {
    pub target: Target,
    /// Addresses the name resolved to (or the literal address), in the order tried.
    pub addresses: Vec<IpAddr>,
    /// The address that accepted the TCP connection.
    pub address_used: Option<SocketAddr>,
    /// The server name sent in the ClientHello, if any (none for IP-literal targets).
    pub sni: Option<String>,
    pub outcome: Outcome,
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
    /// A plain TCP connection was accepted (no TLS attempted).
    Connected,
    /// The probe failed; a chain may still have been captured before the failure.
    Failed {
        failure: Failure,
        captured: Option<Captured>,
    },
    /// Not probed, for the reason given.
    Skipped(String),
    /// A chain read from a file rather than from the network (`pinscope inspect`).
    Offline { captured: Captured },
}

impl Outcome {
    /// The chain this outcome carries, if any.
    pub fn captured(&self) -> Option<&Captured> {
        match self {
            Self::Handshake { captured, .. } | Self::Offline { captured } => Some(captured),
            Self::Failed { captured, .. } => captured.as_ref(),
            Self::Connected | Self::Skipped(_) => None,
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
    pub version: String,
    pub cipher_suite: String,
    pub alpn: Option<String>,
}

/// Where in the probe a failure happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Resolve,
    Connect,
    Handshake,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resolve => "resolve",
            Self::Connect => "connect",
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

/// The kinds of failure a probe distinguishes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// The name did not resolve (no such name, server failure, no addresses).
    Dns,
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
    /// The server sent a TLS alert (its description).
    TlsAlert(String),
    /// The server answered with something that is not TLS.
    NotTls,
    /// Any other TLS protocol failure.
    TlsProtocol,
    /// Any other I/O failure.
    Io,
}
