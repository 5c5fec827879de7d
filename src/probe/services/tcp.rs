//! The TCP probes: plain HTTP (the status line and headers of `GET /`) and the SSH banner.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{clean, quote, stream_failure, unexpected};
use crate::model::observation::{
    Failure, FailureKind, HttpAnswer, Phase, ServiceAnswer, SshAnswer,
};
use crate::probe::http::{Head, HeadError, HeadLimits, read_head};

/// The most of an HTTP response head (status line and headers) that is read.
const HTTP_HEAD_CAP: usize = 16 * 1024;
/// The most headers one response may carry.
const HTTP_MAX_HEADERS: usize = 128;
/// How a port-80 answer's head is read: block pages and captive portals are often written by
/// hand, so leniently.
const HTTP_HEAD_LIMITS: HeadLimits = HeadLimits {
    max_bytes: HTTP_HEAD_CAP,
    max_headers: HTTP_MAX_HEADERS,
    lenient: true,
    skip_interim: true,
    exact: false,
};
/// RFC 4253 §4.2: the identification line is at most 255 bytes including CR LF.
const SSH_LINE_MAX: usize = 255;
/// Lines a server may send before its identification (RFC 4253 allows some; a few are plenty).
const SSH_MAX_PREAMBLE_LINES: usize = 10;
/// After a line that is not the identification, how long to wait for more before giving up.
const SSH_PREAMBLE_GRACE: Duration = Duration::from_millis(1500);

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// Sends `GET /` with the target's Host header and reads the status line and headers. Through an
/// HTTP proxy (`via_proxy`, with its `Proxy-Authorization` value if any) the request is in
/// absolute form (`GET http://host/`), as a browser sends it to a proxy.
pub(in crate::probe) async fn http(
    mut stream: TcpStream,
    host: &str,
    port: u16,
    via_proxy: Option<Option<&str>>,
) -> Result<ServiceAnswer, Failure> {
    let mut request = http_request(host, port);
    if let Some(auth) = via_proxy {
        let authority = request
            .lines()
            .find_map(|l| l.strip_prefix("Host: "))
            .unwrap_or(host)
            .to_owned();
        request = request.replacen("GET / ", &format!("GET http://{authority}/ "), 1);
        if let Some(auth) = auth {
            request = request.replacen(
                "\r\n\r\n",
                &format!("\r\nProxy-Authorization: {auth}\r\n\r\n"),
                1,
            );
        }
    }
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| stream_failure(&e, "sending the HTTP request"))?;
    let head = read_head(&mut stream, HTTP_HEAD_LIMITS)
        .await
        .map_err(http_failure)?;
    Ok(ServiceAnswer::Http(http_answer(&head)))
}

/// What a port-80 probe reports when no head arrived.
fn http_failure(e: HeadError) -> Failure {
    match e {
        HeadError::Io(e) => stream_failure(&e, "reading the HTTP response"),
        HeadError::Closed { received } if received.is_empty() => Failure {
            kind: FailureKind::Closed,
            phase: Phase::Handshake,
            detail: "the server closed the connection without answering the HTTP request".into(),
        },
        HeadError::Closed { received } => unexpected(format!(
            "the connection closed before the HTTP headers ended ({} bytes); it sent {}",
            received.len(),
            quote(&received)
        )),
        HeadError::TooLarge { received } => unexpected(format!(
            "the HTTP headers did not end within {} KiB; it sent {}",
            HTTP_HEAD_CAP / 1024,
            quote(&received)
        )),
        HeadError::NotHttp {
            error: httparse::Error::TooManyHeaders,
            ..
        } => unexpected(format!(
            "an HTTP response with more than {HTTP_MAX_HEADERS} headers"
        )),
        HeadError::NotHttp { error, received } => unexpected(format!(
            "the server did not answer with HTTP ({error}); it sent {}",
            quote(&received)
        )),
    }
}

/// The head as reported, text from the wire cleaned.
fn http_answer(head: &Head) -> HttpAnswer {
    HttpAnswer {
        status: head.status,
        reason: clean(head.reason.as_bytes()),
        headers: head
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), clean(value)))
            .collect(),
    }
}

fn http_request(host: &str, port: u16) -> String {
    let name = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let authority = if port == 80 {
        name
    } else {
        format!("{name}:{port}")
    };
    format!(
        "GET / HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: pinscope/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
}

// ---------------------------------------------------------------------------------------------
// SSH
// ---------------------------------------------------------------------------------------------

/// Reads the SSH identification line, sending nothing.
pub(in crate::probe) async fn ssh(mut stream: TcpStream) -> Result<ServiceAnswer, Failure> {
    let mut buf: Vec<u8> = Vec::new();
    let mut other_lines: Vec<String> = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            if line.len() > SSH_LINE_MAX {
                return Err(unexpected(format!(
                    "a line of {} bytes, longer than an SSH identification may be (255): {}",
                    line.len(),
                    quote(&line)
                )));
            }
            let text = line
                .strip_suffix(b"\n")
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .unwrap_or(&line);
            if text.starts_with(b"SSH-") {
                return Ok(ServiceAnswer::Ssh(SshAnswer {
                    banner: clean(text),
                }));
            }
            other_lines.push(clean(text));
            if other_lines.len() >= SSH_MAX_PREAMBLE_LINES {
                return Err(not_ssh(&other_lines, "and no SSH identification"));
            }
        }
        if buf.len() > SSH_LINE_MAX {
            return Err(unexpected(format!(
                "{} bytes without a line end, where an SSH server sends 'SSH-2.0-…': {}",
                buf.len(),
                quote(&buf)
            )));
        }
        let read = stream.read(&mut chunk);
        let n = if other_lines.is_empty() {
            read.await
        } else {
            // Something other than SSH is talking; give a real server a moment to follow up with
            // its identification, then report what was said.
            match tokio::time::timeout(SSH_PREAMBLE_GRACE, read).await {
                Ok(r) => r,
                Err(_) => return Err(not_ssh(&other_lines, "and then nothing")),
            }
        }
        .map_err(|e| stream_failure(&e, "reading the SSH identification"))?;
        if n == 0 {
            return Err(match (other_lines.is_empty(), buf.is_empty()) {
                (true, true) => Failure {
                    kind: FailureKind::Closed,
                    phase: Phase::Handshake,
                    detail:
                        "the server closed the connection without sending an SSH identification"
                            .into(),
                },
                (true, false) => unexpected(format!(
                    "the server sent {} and closed the connection, with no SSH identification",
                    quote(&buf)
                )),
                (false, _) => not_ssh(&other_lines, "and closed the connection"),
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn not_ssh(lines: &[String], then: &str) -> Failure {
    let first = lines.first().map(String::as_str).unwrap_or_default();
    let more = match lines.len() {
        0 | 1 => String::new(),
        n => format!(" (and {} more lines)", n - 1),
    };
    unexpected(format!(
        "the server sent '{first}'{more} {then}, where an SSH server sends 'SSH-2.0-…'"
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    async fn http_head(bytes: &[u8]) -> Result<HttpAnswer, Failure> {
        let mut s: &[u8] = bytes;
        read_head(&mut s, HTTP_HEAD_LIMITS)
            .await
            .map(|h| http_answer(&h))
            .map_err(http_failure)
    }

    #[tokio::test]
    async fn http_heads_parse_and_skip_interim_responses() {
        let answer = http_head(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 302 Found\r\nLocation: http://x/\r\nVia: 1.1 squid\r\n\r\nbody",
        )
        .await
        .unwrap();
        assert_eq!(answer.status, 302);
        assert_eq!(answer.location(), Some("http://x/"));
        assert_eq!(answer.header("via"), Some("1.1 squid"));
        let err = http_head(b"HTTP/1.1 200 OK\r\nServer: x")
            .await
            .unwrap_err();
        assert_eq!(err.kind, FailureKind::UnexpectedAnswer);
        assert!(
            err.detail.contains("closed before the HTTP headers ended"),
            "{}",
            err.detail
        );
        let err = http_head(b"").await.unwrap_err();
        assert_eq!(err.kind, FailureKind::Closed);
        let err = http_head(b"SSH-2.0-OpenSSH_9.6\r\n").await.unwrap_err();
        assert_eq!(err.kind, FailureKind::UnexpectedAnswer);
        assert!(
            err.detail.contains("'SSH-2.0-OpenSSH_9.6'"),
            "{}",
            err.detail
        );
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for _ in 0..=HTTP_MAX_HEADERS {
            many.extend_from_slice(b"A: b\r\n");
        }
        many.extend_from_slice(b"\r\n");
        let err = http_head(&many).await.unwrap_err();
        assert!(
            err.detail.contains("more than 128 headers"),
            "{}",
            err.detail
        );
    }

    #[test]
    fn requests_name_the_host() {
        let r = http_request("captive.apple.com", 80);
        assert!(r.starts_with("GET / HTTP/1.1\r\nHost: captive.apple.com\r\n"));
        assert!(r.contains("User-Agent: pinscope/"));
        assert!(http_request("::1", 8080).contains("Host: [::1]:8080\r\n"));
    }
}
