//! Reading a responder's answer: the head by the shared reader, then the body (Content-Length,
//! chunked or to the end of the connection), every byte counted against the cap.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::model::observation::{FetchFailure, FetchFailureKind};
use crate::probe::http::{HeadError, HeadLimits, read_head};

/// The most a response's status line and headers may take.
const MAX_HEAD_BYTES: usize = 32 * 1024;
/// How a responder's head is read.
const HEAD_LIMITS: HeadLimits = HeadLimits {
    max_bytes: MAX_HEAD_BYTES,
    max_headers: 100,
    lenient: false,
    skip_interim: true,
    exact: false,
};
/// The longest chunk-size line accepted in a chunked body.
const MAX_CHUNK_LINE: usize = 1024;

/// A parsed response.
#[derive(Debug)]
pub(super) struct Response {
    pub(super) status: u16,
    pub(super) content_type: Option<String>,
    pub(super) location: Option<String>,
    pub(super) body: Vec<u8>,
}

pub(super) fn io_failure(e: &io::Error, doing: &str) -> FetchFailure {
    use io::ErrorKind as K;
    let kind = match e.kind() {
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => FetchFailureKind::Reset,
        K::TimedOut => FetchFailureKind::Timeout,
        _ => FetchFailureKind::Io,
    };
    FetchFailure {
        kind,
        detail: format!("{doing}: {e}"),
    }
}

/// Reads more bytes into `buf`; `Ok(0)` at the end of the stream.
async fn fill<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<usize, FetchFailure> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream
        .read(&mut chunk)
        .await
        .map_err(|e| io_failure(&e, "reading the response"))?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Reads one HTTP/1.x response, its body capped at `max_bytes`. Redirects are returned without
/// their body.
pub(super) async fn read_response<S: AsyncRead + Unpin>(
    stream: &mut S,
    max_bytes: usize,
) -> Result<Response, FetchFailure> {
    let not_http = |detail: String| FetchFailure {
        kind: FetchFailureKind::NotHttp,
        detail,
    };
    let head = read_head(stream, HEAD_LIMITS).await.map_err(|e| match e {
        HeadError::Io(e) => io_failure(&e, "reading the response"),
        HeadError::Closed { received } => FetchFailure {
            kind: FetchFailureKind::Closed,
            detail: if received.is_empty() {
                "the connection was closed before any answer".into()
            } else {
                format!(
                    "the connection was closed after {} bytes, before the headers ended",
                    received.len()
                )
            },
        },
        HeadError::TooLarge { .. } => not_http(format!(
            "the response headers exceed {MAX_HEAD_BYTES} bytes"
        )),
        HeadError::NotHttp { error, received } => not_http(format!(
            "not an HTTP response ({error}); it began {}",
            describe(&received)
        )),
    })?;
    let text = |v: &[u8]| String::from_utf8_lossy(v).trim().to_owned();
    let mut response = Response {
        status: head.status,
        content_type: head.header("content-type").map(text),
        location: head.header("location").map(text),
        body: Vec::new(),
    };
    if matches!(head.status, 301 | 302 | 303 | 307 | 308 | 204 | 304) {
        return Ok(response);
    }
    let chunked = head.values("transfer-encoding").any(|v| {
        text(v)
            .rsplit(',')
            .next()
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
    });
    let lengths: Vec<String> = head.values("content-length").map(text).collect();
    let mut rest = head.rest;
    let too_large = |detail: String| FetchFailure {
        kind: FetchFailureKind::TooLarge,
        detail,
    };
    let truncated = |got: usize| FetchFailure {
        kind: FetchFailureKind::Closed,
        detail: format!("the connection was closed after {got} bytes of the body"),
    };
    if chunked {
        response.body = read_chunked(stream, rest, max_bytes).await?;
        return Ok(response);
    }
    if let Some(first) = lengths.first() {
        if lengths.iter().any(|l| l != first) {
            return Err(not_http("conflicting Content-Length headers".into()));
        }
        let len: u64 = first
            .parse()
            .map_err(|_| not_http(format!("bad Content-Length '{first}'")))?;
        if len > max_bytes as u64 {
            return Err(too_large(format!(
                "Content-Length {len} is over the {max_bytes}-byte cap; not downloaded"
            )));
        }
        let len = len as usize;
        while rest.len() < len {
            if fill(stream, &mut rest).await? == 0 {
                return Err(truncated(rest.len()));
            }
        }
        rest.truncate(len);
        response.body = rest;
        return Ok(response);
    }
    // Neither: the body runs to the end of the connection.
    loop {
        if rest.len() > max_bytes {
            return Err(too_large(format!(
                "more than {max_bytes} bytes (the cap) without a Content-Length; stopped reading"
            )));
        }
        if fill(stream, &mut rest).await? == 0 {
            break;
        }
    }
    response.body = rest;
    Ok(response)
}

async fn read_chunked<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut raw: Vec<u8>,
    max_bytes: usize,
) -> Result<Vec<u8>, FetchFailure> {
    let bad = |detail: &str| FetchFailure {
        kind: FetchFailureKind::NotHttp,
        detail: format!("bad chunked body: {detail}"),
    };
    let mut body = Vec::new();
    loop {
        match httparse::parse_chunk_size(&raw) {
            Ok(httparse::Status::Complete((consumed, size))) => {
                if size == 0 {
                    // Trailers, if any, are not needed.
                    return Ok(body);
                }
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                if size > max_bytes.saturating_sub(body.len()) {
                    return Err(FetchFailure {
                        kind: FetchFailureKind::TooLarge,
                        detail: format!(
                            "the chunked body grows past the cap of {max_bytes} bytes; stopped reading"
                        ),
                    });
                }
                raw.drain(..consumed);
                while raw.len() < size + 2 {
                    if fill(stream, &mut raw).await? == 0 {
                        return Err(FetchFailure {
                            kind: FetchFailureKind::Closed,
                            detail: format!(
                                "the connection was closed inside a chunk, after {} bytes of the body",
                                body.len() + raw.len().min(size)
                            ),
                        });
                    }
                }
                if &raw[size..size + 2] != b"\r\n" {
                    return Err(bad("a chunk does not end with CRLF"));
                }
                body.extend_from_slice(&raw[..size]);
                raw.drain(..size + 2);
            }
            Ok(httparse::Status::Partial) => {
                if raw.len() > MAX_CHUNK_LINE {
                    return Err(bad("a chunk-size line is too long"));
                }
                if fill(stream, &mut raw).await? == 0 {
                    return Err(FetchFailure {
                        kind: FetchFailureKind::Closed,
                        detail: format!(
                            "the connection was closed before the last chunk, after {} bytes of the body",
                            body.len()
                        ),
                    });
                }
            }
            Err(_) => return Err(bad("an invalid chunk size")),
        }
    }
}

/// The first bytes of an answer, for people.
fn describe(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "with nothing".into();
    }
    let printable = bytes
        .iter()
        .take(48)
        .take_while(|&&b| (0x20..0x7f).contains(&b))
        .count();
    if printable >= 4 {
        format!("'{}'", String::from_utf8_lossy(&bytes[..printable]))
    } else {
        let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("with bytes {}", hex.join(" "))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    async fn read(bytes: &[u8], max: usize) -> Result<Response, FetchFailure> {
        let mut s: &[u8] = bytes;
        read_response(&mut s, max).await
    }

    #[tokio::test]
    async fn content_length_bodies() {
        let r = read(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: 3\r\n\r\nabcdef",
            10,
        )
        .await
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"abc");
        assert_eq!(r.content_type.as_deref(), Some("application/ocsp-response"));
        let e = read(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nabc", 10)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchFailureKind::TooLarge);
        let e = read(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", 10)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchFailureKind::Closed);
    }

    #[tokio::test]
    async fn chunked_bodies() {
        let r = read(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            10,
        )
        .await
        .unwrap();
        assert_eq!(r.body, b"abcde");
        let e = read(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nabcdefgh\r\n8\r\nabcdefgh\r\n0\r\n\r\n",
            10,
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, FetchFailureKind::TooLarge);
        let e = read(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
            10,
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, FetchFailureKind::NotHttp);
    }

    #[tokio::test]
    async fn bodies_to_close_are_capped() {
        let r = read(b"HTTP/1.0 200 OK\r\n\r\n0123456789", 10)
            .await
            .unwrap();
        assert_eq!(r.body, b"0123456789");
        let e = read(b"HTTP/1.0 200 OK\r\n\r\n0123456789X", 10)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchFailureKind::TooLarge);
    }

    #[tokio::test]
    async fn non_http_and_early_close() {
        let e = read(b"\x16\x03\x01\x00\x05hello", 10).await.unwrap_err();
        assert_eq!(e.kind, FetchFailureKind::NotHttp);
        let e = read(b"", 10).await.unwrap_err();
        assert_eq!(e.kind, FetchFailureKind::Closed);
        let e = read(b"HTTP/1.1 200 OK\r\nContent-", 10).await.unwrap_err();
        assert_eq!(e.kind, FetchFailureKind::Closed);
    }

    #[tokio::test]
    async fn redirects_come_back_without_body() {
        let r = read(
            b"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 99999\r\n\r\n",
            10,
        )
        .await
        .unwrap();
        assert_eq!(r.status, 302);
        assert_eq!(r.location.as_deref(), Some("/next"));
    }
}
