//! Probes for the services that are not TLS: plain HTTP (TCP 80), SNTP (UDP 123), the SSH banner
//! (TCP 22) and QUIC version negotiation (UDP 443). Each returns what the service said, unjudged;
//! every network fault is a [`Failure`], never a panic or an endless wait. The TCP probes run inside
//! the caller's deadline; the UDP probes are given it and stop a little before it, so their own
//! "no reply" detail is what gets reported.

mod tcp;
mod udp;

use std::io;

use super::describe_bytes;
use crate::model::observation::{Failure, FailureKind, Phase};

pub(super) use tcp::{http, ssh};
pub(super) use udp::{ntp, quic};

/// How many bytes of an unexpected answer are quoted.
const QUOTE_BYTES: usize = 64;

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

fn unexpected(detail: String) -> Failure {
    Failure {
        kind: FailureKind::UnexpectedAnswer,
        phase: Phase::Handshake,
        detail,
    }
}

fn stream_failure(e: &io::Error, doing: &str) -> Failure {
    use io::ErrorKind as K;
    let kind = match e.kind() {
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => FailureKind::Reset,
        K::UnexpectedEof => FailureKind::Closed,
        _ => FailureKind::Io,
    };
    Failure {
        kind,
        phase: Phase::Handshake,
        detail: format!("{doing}: {e}"),
    }
}

/// What came back, quoted for a message: its first line if it is text, else its first bytes.
fn quote(bytes: &[u8]) -> String {
    describe_bytes(&bytes[..bytes.len().min(QUOTE_BYTES)])
}

/// Text from the wire, with control characters replaced, for messages and JSON.
fn clean(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}
