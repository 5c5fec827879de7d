//! Probes for the services that are not TLS: plain HTTP (TCP 80), SNTP (UDP 123), the SSH banner
//! (TCP 22) and QUIC version negotiation (UDP 443). Each returns what the service said, unjudged.

use std::net::SocketAddr;

use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::observation::{Failure, FailureKind, Phase, ServiceAnswer};

fn not_yet(what: &str) -> Failure {
    Failure {
        kind: FailureKind::Io,
        phase: Phase::Handshake,
        detail: format!("{what} probing is not implemented yet"),
    }
}

/// Sends `GET /` with the target's Host header and reads the status line and headers.
pub(super) async fn http(
    _stream: TcpStream,
    _host: &str,
    _port: u16,
) -> Result<ServiceAnswer, Failure> {
    Err(not_yet("HTTP"))
}

/// Reads the SSH identification line.
pub(super) async fn ssh(_stream: TcpStream) -> Result<ServiceAnswer, Failure> {
    Err(not_yet("SSH"))
}

/// Sends an SNTP request to each address in turn until one answers.
pub(super) async fn ntp(
    _addrs: &[SocketAddr],
    _deadline: Instant,
) -> Result<(SocketAddr, ServiceAnswer), Failure> {
    Err(not_yet("NTP"))
}

/// Sends a QUIC Initial with an unknown version, which a QUIC server answers with Version
/// Negotiation.
pub(super) async fn quic(
    _addrs: &[SocketAddr],
    _host: &str,
    _deadline: Instant,
) -> Result<(SocketAddr, ServiceAnswer), Failure> {
    Err(not_yet("QUIC"))
}
