//! The one HTTP/1.x response-head reader: status line and headers, bounded in size, parsed by
//! httparse. Shared by revocation fetches (which then read the body), the port-80 probe and the
//! CONNECT exchange with a proxy (which must not read past the head: what follows is the tunnel).
//!
//! It judges nothing: each caller turns a [`HeadError`] into its own failure, in its own words.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// How much is read at once when reading past the head does no harm.
const CHUNK: usize = 16 * 1024;

/// What one kind of exchange allows.
#[derive(Clone, Copy, Debug)]
pub(super) struct HeadLimits {
    /// The most bytes the head may take (interim responses before it included).
    pub max_bytes: usize,
    /// The most headers one response may carry.
    pub max_headers: usize,
    /// Accept what hand-written servers send: obsolete folded header lines, several spaces in
    /// the status line.
    pub lenient: bool,
    /// Drop interim answers (1xx other than 101 Switching Protocols) and read the next.
    pub skip_interim: bool,
    /// Read one byte at a time, so that nothing after the head is consumed.
    pub exact: bool,
}

/// A response's status line and headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Head {
    pub status: u16,
    pub reason: String,
    /// Names lower-cased, in the order received; values as sent.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The bytes of this response's head, up to and including the blank line.
    pub raw: Vec<u8>,
    /// Bytes read after the head: the start of the body (always empty when reading `exact`).
    pub rest: Vec<u8>,
}

impl Head {
    /// Every value of a header (`name` lower-case), in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of a header (`name` lower-case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// Why no head was read. Each carries what had arrived, for the caller's message.
#[derive(Debug, thiserror::Error)]
pub(super) enum HeadError {
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The peer closed the connection before the head ended.
    #[error("the connection was closed after {} bytes, before the head ended", .received.len())]
    Closed { received: Vec<u8> },
    /// The head did not end within [`HeadLimits::max_bytes`].
    #[error("the head did not end within {} bytes", .received.len())]
    TooLarge { received: Vec<u8> },
    /// What arrived is not an HTTP response (or has too many headers).
    #[error("not an HTTP response ({error})")]
    NotHttp {
        error: httparse::Error,
        received: Vec<u8>,
    },
}

/// Reads one response head from `stream` within `limits`.
pub(super) async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    limits: HeadLimits,
) -> Result<Head, HeadError> {
    let mut buf = Vec::with_capacity(if limits.exact { 256 } else { 4096 });
    let mut chunk = vec![0u8; if limits.exact { 1 } else { CHUNK }];
    loop {
        // Byte by byte, a head can only have ended at a line end.
        if !limits.exact || buf.last() == Some(&b'\n') {
            match parse(&buf, limits) {
                Ok(None) => {}
                Ok(Some(head))
                    if limits.skip_interim
                        && (100..200).contains(&head.status)
                        && head.status != 101 =>
                {
                    // An interim answer (100 Continue): the real one follows.
                    buf.drain(..head.raw.len());
                    continue;
                }
                Ok(Some(head)) => return Ok(head),
                Err(error) => {
                    return Err(HeadError::NotHttp {
                        error,
                        received: buf,
                    });
                }
            }
        }
        if buf.len() >= limits.max_bytes {
            return Err(HeadError::TooLarge { received: buf });
        }
        let room = (limits.max_bytes - buf.len()).min(chunk.len());
        let n = stream.read(&mut chunk[..room]).await?;
        if n == 0 {
            return Err(HeadError::Closed { received: buf });
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Parses a head from the start of `buf`: `Ok(None)` while it is incomplete.
pub(super) fn parse(buf: &[u8], limits: HeadLimits) -> Result<Option<Head>, httparse::Error> {
    let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut response = httparse::Response::new(&mut slots);
    let parsed = if limits.lenient {
        httparse::ParserConfig::default()
            .allow_obsolete_multiline_headers_in_responses(true)
            .allow_multiple_spaces_in_response_status_delimiters(true)
            .parse_response(&mut response, buf)
    } else {
        response.parse(buf)
    };
    let len = match parsed? {
        httparse::Status::Partial => return Ok(None),
        httparse::Status::Complete(len) => len,
    };
    let (raw, rest) = buf.split_at(len);
    Ok(Some(Head {
        status: response.code.unwrap_or_default(),
        reason: response.reason.unwrap_or_default().to_owned(),
        headers: response
            .headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
            .collect(),
        raw: raw.to_vec(),
        rest: rest.to_vec(),
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const LIMITS: HeadLimits = HeadLimits {
        max_bytes: 64,
        max_headers: 4,
        lenient: false,
        skip_interim: true,
        exact: false,
    };

    async fn read(bytes: &[u8], limits: HeadLimits) -> Result<Head, HeadError> {
        let mut s: &[u8] = bytes;
        read_head(&mut s, limits).await
    }

    #[tokio::test]
    async fn heads_are_read_and_interim_answers_skipped() {
        let h = read(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nA: 1\r\nA: 2\r\n\r\nbody",
            LIMITS,
        )
        .await
        .unwrap();
        assert_eq!((h.status, h.reason.as_str()), (200, "OK"));
        assert_eq!(h.values("a").collect::<Vec<_>>(), [b"1", b"2"]);
        assert_eq!(h.raw, b"HTTP/1.1 200 OK\r\nA: 1\r\nA: 2\r\n\r\n");
        assert_eq!(h.rest, b"body");
        let kept = HeadLimits {
            skip_interim: false,
            ..LIMITS
        };
        let h = read(b"HTTP/1.1 100 Continue\r\n\r\n", kept).await.unwrap();
        assert_eq!(h.status, 100);
    }

    #[tokio::test]
    async fn exact_reads_stop_at_the_blank_line() {
        let exact = HeadLimits {
            exact: true,
            ..LIMITS
        };
        let mut s: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03";
        let h = read_head(&mut s, exact).await.unwrap();
        assert_eq!(h.status, 200);
        assert!(h.rest.is_empty());
        assert_eq!(s, b"\x16\x03\x03");
    }

    #[tokio::test]
    async fn every_way_to_fail_is_told_apart() {
        match read(b"", LIMITS).await.unwrap_err() {
            HeadError::Closed { received } => assert!(received.is_empty()),
            e => panic!("{e:?}"),
        }
        match read(b"HTTP/1.1 200 OK\r\nServer: x", LIMITS)
            .await
            .unwrap_err()
        {
            HeadError::Closed { received } => assert_eq!(received.len(), 26),
            e => panic!("{e:?}"),
        }
        match read(&[b'a'; 100], LIMITS).await.unwrap_err() {
            HeadError::NotHttp { received, .. } => assert!(received.starts_with(b"a")),
            e => panic!("{e:?}"),
        }
        let long = [&b"HTTP/1.1 200 OK\r\nX: "[..], &[b'x'; 100]].concat();
        match read(&long, LIMITS).await.unwrap_err() {
            HeadError::TooLarge { received } => assert_eq!(received.len(), 64),
            e => panic!("{e:?}"),
        }
        let many = b"HTTP/1.1 200 OK\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\n\r\n";
        let big = HeadLimits {
            max_bytes: 1024,
            ..LIMITS
        };
        match read(many, big).await.unwrap_err() {
            HeadError::NotHttp { error, .. } => assert_eq!(error, httparse::Error::TooManyHeaders),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn lenient_parsing_accepts_hand_written_heads() {
        let folded = b"HTTP/1.1  200 OK\r\nX: a\r\n b\r\n\r\n";
        assert!(parse(folded, LIMITS).is_err());
        let lenient = HeadLimits {
            lenient: true,
            ..LIMITS
        };
        assert_eq!(parse(folded, lenient).unwrap().unwrap().status, 200);
    }
}
