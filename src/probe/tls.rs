//! The TLS handshake: a client configuration that captures the chain without judging it, the
//! bytes the server sent kept for when it did not speak TLS, and every way a handshake fails
//! turned into a [`Failure`].

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use rustls::{AlertDescription, ClientConfig};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsConnector;

use super::danger::CapturingVerifier;
use super::{PEEK_BYTES, Peek, ProbeConfig, describe_bytes, lock};
use crate::model::observation::{
    Captured, Failure, FailureKind, Outcome, Phase, TlsParams, TlsVersion,
};

/// Completes a TLS handshake with `host` over `stream` (a tunnel when `via_proxy`), recording the
/// presented chain in `captured_slot` and the first bytes received in `peek_slot`.
pub(super) async fn handshake<S: AsyncRead + AsyncWrite + Unpin + Send>(
    stream: S,
    host: &str,
    config: &ProbeConfig,
    captured_slot: Arc<Mutex<Option<Captured>>>,
    peek_slot: Arc<Mutex<Peek>>,
    via_proxy: bool,
) -> Result<Outcome, Failure> {
    let verifier = CapturingVerifier::new(Arc::clone(&config.provider), Arc::clone(&captured_slot));
    let mut tls_config = ClientConfig::builder_with_provider(Arc::clone(&config.provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure {
            kind: FailureKind::TlsProtocol,
            phase: Phase::Handshake,
            detail: format!("TLS configuration: {e}"),
        })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    tls_config.alpn_protocols = config.alpn.clone();
    // Every probe must see a full handshake and the chain it carries, so there is nothing to
    // resume; and a per-target session cache would cost memory for each target in flight.
    tls_config.resumption = rustls::client::Resumption::disabled();
    let server_name = ServerName::try_from(host.to_owned()).map_err(|e| Failure {
        kind: FailureKind::TlsProtocol,
        phase: Phase::Handshake,
        detail: format!("'{host}' cannot be sent as a TLS server name: {e}"),
    })?;

    let recording = Recording {
        inner: stream,
        peek: Arc::clone(&peek_slot),
    };
    let connector = TlsConnector::from(Arc::new(tls_config));
    match connector.connect(server_name, recording).await {
        Ok(tls) => {
            let (_, conn) = tls.get_ref();
            let params = TlsParams {
                version: conn
                    .protocol_version()
                    .map(version_name)
                    .unwrap_or(TlsVersion::Unknown),
                cipher_suite: conn
                    .negotiated_cipher_suite()
                    .map(|s| {
                        s.suite().as_str().map_or_else(
                            || format!("0x{:04x}", u16::from(s.suite())),
                            str::to_owned,
                        )
                    })
                    .unwrap_or_else(|| "unknown".into()),
                alpn: conn
                    .alpn_protocol()
                    .map(|p| String::from_utf8_lossy(p).into_owned()),
            };
            let captured = lock(&captured_slot).take().unwrap_or_default();
            Ok(Outcome::Handshake { params, captured })
        }
        Err(e) => {
            let failure = classify_handshake_error(&e, &lock(&peek_slot));
            Err(match via_proxy {
                // A tunnel that closes before the server says anything was closed by the proxy.
                true if lock(&peek_slot).total == 0
                    && matches!(failure.kind, FailureKind::Closed | FailureKind::Reset) =>
                {
                    Failure {
                        kind: FailureKind::Proxy(Some(200)),
                        phase: Phase::Proxy,
                        detail: "the proxy accepted the CONNECT (200) and then closed the tunnel before the server answered".into(),
                    }
                }
                _ => failure,
            })
        }
    }
}

pub(super) fn classify_handshake_error(e: &io::Error, peek: &Peek) -> Failure {
    use io::ErrorKind as K;
    use rustls::InvalidMessage as M;

    let tls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let not_tls = !peek.first_bytes.is_empty() && !looks_like_tls(&peek.first_bytes);
    let (kind, detail) = match tls_error {
        Some(rustls::Error::AlertReceived(alert)) => (
            FailureKind::TlsAlert(*alert),
            format!(
                "the server sent a TLS alert: {} ({})",
                alert_name(*alert),
                u8::from(*alert)
            ),
        ),
        Some(_) if not_tls => (
            FailureKind::NotTls,
            format!(
                "the server did not answer with TLS; it sent {}",
                describe_bytes(&peek.first_bytes)
            ),
        ),
        Some(rustls::Error::InvalidMessage(
            M::HandshakePayloadTooLarge | M::CertificatePayloadTooLarge,
        )) => (
            FailureKind::TlsProtocol,
            format!(
                "the handshake was too large: the server sent a handshake message over 64 KiB, \
                 which rustls refuses (usually a certificate chain with far too many or too large \
                 certificates; {} bytes received)",
                peek.total
            ),
        ),
        Some(rustls::Error::InvalidMessage(M::MessageTooLarge)) => (
            FailureKind::TlsProtocol,
            "the server sent a TLS record larger than TLS allows (over 16 KiB)".into(),
        ),
        Some(err) => (FailureKind::TlsProtocol, err.to_string()),
        None => match e.kind() {
            K::UnexpectedEof if peek.total == 0 => (
                FailureKind::Closed,
                "the connection was closed right after the ClientHello, before any reply".into(),
            ),
            K::UnexpectedEof if not_tls => (
                FailureKind::NotTls,
                format!(
                    "the server did not answer with TLS; it sent {} and closed the connection",
                    describe_bytes(&peek.first_bytes)
                ),
            ),
            K::UnexpectedEof => (
                FailureKind::Closed,
                format!(
                    "the connection was closed during the handshake after {} bytes",
                    peek.total
                ),
            ),
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe if peek.total == 0 => (
                FailureKind::Reset,
                "the connection was reset right after the ClientHello, before any reply".into(),
            ),
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => (
                FailureKind::Reset,
                format!(
                    "the connection was reset during the handshake ({} bytes received)",
                    peek.total
                ),
            ),
            _ => (FailureKind::Io, e.to_string()),
        },
    };
    Failure {
        kind,
        phase: Phase::Handshake,
        detail,
    }
}

/// An alert's name as the TLS RFCs write it (`handshake_failure`), from its wire value; "an
/// unknown alert" for a value rustls does not know either.
fn alert_name(alert: AlertDescription) -> &'static str {
    match u8::from(alert) {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        121 => "encrypted_client_hello_required",
        _ => "an unknown alert",
    }
}

/// A TLS record starts with a content type of 20-24 and major version 3.
fn looks_like_tls(bytes: &[u8]) -> bool {
    matches!(bytes, [20..=24, 3, ..])
}

fn version_name(v: rustls::ProtocolVersion) -> TlsVersion {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => TlsVersion::Tls13,
        rustls::ProtocolVersion::TLSv1_2 => TlsVersion::Tls12,
        rustls::ProtocolVersion::TLSv1_1 => TlsVersion::Tls11,
        rustls::ProtocolVersion::TLSv1_0 => TlsVersion::Tls10,
        // rustls negotiates only the versions above; any other is named by rustls, or its value.
        other => TlsVersion::Other(
            other
                .as_str()
                .map_or_else(|| format!("0x{:04x}", u16::from(other)), str::to_owned),
        ),
    }
}

/// Passes bytes through while keeping the first few and a count, so a failed handshake can say
/// what the server sent instead of TLS and how far it got.
struct Recording<S> {
    inner: S,
    peek: Arc<Mutex<Peek>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Recording<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            let new = &buf.filled()[before..];
            let mut peek = lock(&self.peek);
            peek.total += new.len();
            let room = PEEK_BYTES.saturating_sub(peek.first_bytes.len());
            peek.first_bytes
                .extend_from_slice(&new[..room.min(new.len())]);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recording<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn non_tls_answers_are_recognised() {
        assert!(looks_like_tls(&[22, 3, 3, 0, 5]));
        assert!(!looks_like_tls(b"HTTP/1.1 400 Bad Request\r\n"));
    }

    /// The names rustls's variant names give in snake case (how pinscope named alerts before it
    /// had a table), with the spelling the RFCs use.
    fn from_variant_name(alert: AlertDescription) -> String {
        let camel: Vec<char> = format!("{alert:?}").chars().collect();
        let mut name = String::new();
        for (i, &c) in camel.iter().enumerate() {
            let prev_lower = i > 0 && camel[i - 1].is_ascii_lowercase();
            let acronym_end = i > 0
                && camel[i - 1].is_ascii_uppercase()
                && camel.get(i + 1).is_some_and(char::is_ascii_lowercase);
            if c.is_ascii_uppercase() && (prev_lower || acronym_end) {
                name.push('_');
            }
            name.push(c.to_ascii_lowercase());
        }
        name.replace("unrecognised", "unrecognized")
    }

    #[test]
    fn alert_names_cover_every_alert_rustls_knows() {
        for value in 0..=u8::MAX {
            let alert = AlertDescription::from(value);
            let expected = match alert {
                AlertDescription::Unknown(_) => "an unknown alert".to_owned(),
                known => from_variant_name(known),
            };
            assert_eq!(alert_name(alert), expected, "alert {value}");
        }
    }

    #[test]
    fn alerts_are_reported_by_name_and_value() {
        let e = io::Error::other(rustls::Error::AlertReceived(
            AlertDescription::HandshakeFailure,
        ));
        let f = classify_handshake_error(&e, &Peek::default());
        assert_eq!(
            f.kind,
            FailureKind::TlsAlert(AlertDescription::HandshakeFailure)
        );
        assert_eq!(
            f.detail,
            "the server sent a TLS alert: handshake_failure (40)"
        );
    }
}
