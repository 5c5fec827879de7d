//! Fetching what devices fetch to check revocation: OCSP responses and CRLs named in the captured
//! chains. Fetches are capped in size, time and redirects; what they return is judged by the
//! analysis (`analysis::revocation`).
//!
//! The HTTP client is a small HTTP/1.1 one on httparse rather than a general crate: revocation
//! fetches are one request per connection (`Connection: close`), over plain HTTP only, and every
//! byte read is counted against the cap, which is simplest to guarantee when the reading loop is
//! ours. It understands Content-Length, chunked and read-to-close bodies, and 1xx interim answers.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use url::{Host, Url};

use super::resolve::Resolve;
use crate::analysis::revocation::plan;
use crate::model::observation::{
    FailureKind, FetchFailure, FetchFailureKind, FetchedBody, Observation, RevocationFetch,
    RevocationKind, RevocationOutcome,
};

/// Fetches in flight at once, across all targets.
const IN_FLIGHT: usize = 16;
/// The most a response's status line and headers may take.
const MAX_HEAD_BYTES: usize = 32 * 1024;
/// The longest chunk-size line accepted in a chunked body.
const MAX_CHUNK_LINE: usize = 1024;

/// Limits and plumbing for revocation fetches.
#[derive(Clone, Debug)]
pub struct RevocationConfig {
    /// The deadline of one fetch, redirects included.
    pub timeout: Duration,
    /// The largest body read; larger ones are reported as too large.
    pub max_bytes: usize,
    /// Redirects followed per fetch (to `http://` URLs only).
    pub max_redirects: u8,
    pub resolver: Arc<dyn Resolve>,
}

/// One distinct request: many targets often share a CRL or an OCSP answer (couriers share a
/// chain), so each is made once.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Request {
    kind: RevocationKind,
    url: String,
    /// The DER OCSPRequest to POST; `None` for a CRL (GET).
    body: Option<Vec<u8>>,
}

/// Fetches the OCSP responses and CRLs for every captured chain and records them on the
/// observations, in chain order. Never fails: every problem is recorded as the fetch's outcome.
pub async fn fetch_all(observations: &mut [Observation], config: &RevocationConfig) {
    let mut requests: Vec<Request> = Vec::new();
    let mut index: HashMap<Request, usize> = HashMap::new();
    let mut pending: Vec<(usize, RevocationFetch, Option<usize>)> = Vec::new();
    for (oi, obs) in observations.iter().enumerate() {
        let Some(captured) = obs.outcome.captured() else {
            continue;
        };
        for p in plan(&captured.chain) {
            let fetch = RevocationFetch {
                kind: p.kind,
                url: p.url.clone(),
                cert_sha256: p.cert_sha256,
                issuer_sha256: p.issuer_sha256,
                outcome: RevocationOutcome::NotFetched(p.skip.clone().unwrap_or_default()),
            };
            let job = match p.skip {
                Some(_) => None,
                None => {
                    let req = Request {
                        kind: p.kind,
                        url: p.url,
                        body: p.request,
                    };
                    Some(*index.entry(req.clone()).or_insert_with(|| {
                        requests.push(req);
                        requests.len() - 1
                    }))
                }
            };
            pending.push((oi, fetch, job));
        }
    }
    let results = run(requests, config).await;
    for (oi, mut fetch, job) in pending {
        if let Some(outcome) = job.and_then(|j| results.get(j)) {
            fetch.outcome = outcome.clone();
        }
        if let Some(obs) = observations.get_mut(oi) {
            obs.revocation.push(fetch);
        }
    }
}

/// Runs the requests with at most `IN_FLIGHT` at once, each within its own deadline.
async fn run(requests: Vec<Request>, config: &RevocationConfig) -> Vec<RevocationOutcome> {
    let lost = || {
        RevocationOutcome::Failed(FetchFailure {
            kind: FetchFailureKind::Io,
            detail: "internal error: the fetch was lost".into(),
        })
    };
    let mut results: Vec<RevocationOutcome> = requests.iter().map(|_| lost()).collect();
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let config = Arc::new(config.clone());
    let mut set = JoinSet::new();
    let mut ids = HashMap::new();
    for (i, req) in requests.into_iter().enumerate() {
        let permits = Arc::clone(&permits);
        let config = Arc::clone(&config);
        let handle = set.spawn(async move {
            // The semaphore is never closed; if it were, run unthrottled rather than lose the fetch.
            let _permit = permits.acquire_owned().await.ok();
            // The deadline starts once the fetch may run, not while it waits for a slot.
            match tokio::time::timeout(config.timeout, fetch(&req, &config)).await {
                Ok(outcome) => outcome,
                Err(_) => RevocationOutcome::Failed(FetchFailure {
                    kind: FetchFailureKind::Timeout,
                    detail: format!(
                        "no complete answer within {}s",
                        config.timeout.as_secs_f64()
                    ),
                }),
            }
        });
        ids.insert(handle.id(), i);
    }
    while let Some(joined) = set.join_next_with_id().await {
        let (id, outcome) = match joined {
            Ok((id, outcome)) => (id, outcome),
            Err(e) => (
                e.id(),
                RevocationOutcome::Failed(FetchFailure {
                    kind: FetchFailureKind::Io,
                    detail: format!("internal error: {e}"),
                }),
            ),
        };
        if let Some(slot) = ids.get(&id).and_then(|&i| results.get_mut(i)) {
            *slot = outcome;
        }
    }
    results
}

/// One fetch, following redirects to `http://` URLs up to the cap.
async fn fetch(req: &Request, config: &RevocationConfig) -> RevocationOutcome {
    let fail = |kind, detail: String| RevocationOutcome::Failed(FetchFailure { kind, detail });
    let mut url = match Url::parse(&req.url) {
        Ok(u) if u.scheme() == "http" => u,
        Ok(u) => {
            return RevocationOutcome::NotFetched(format!(
                "a {}: URL: only http:// URLs are fetched",
                u.scheme()
            ));
        }
        Err(e) => return RevocationOutcome::NotFetched(format!("not a valid URL: {e}")),
    };
    let mut redirects = 0u8;
    loop {
        let resp = match exchange(&url, req, config).await {
            Ok(r) => r,
            Err(f) => return RevocationOutcome::Failed(f),
        };
        if !matches!(resp.status, 301 | 302 | 303 | 307 | 308) {
            return RevocationOutcome::Fetched(FetchedBody {
                status: resp.status,
                content_type: resp.content_type,
                body: resp.body,
                final_url: url.to_string(),
            });
        }
        let Some(location) = resp.location else {
            return fail(
                FetchFailureKind::BadRedirect,
                format!("HTTP {} from {url} without a Location", resp.status),
            );
        };
        let next = match url.join(&location) {
            Ok(n) => n,
            Err(e) => {
                return fail(
                    FetchFailureKind::BadRedirect,
                    format!(
                        "HTTP {} to '{location}', which is not a URL ({e})",
                        resp.status
                    ),
                );
            }
        };
        if next.scheme() != "http" {
            return fail(
                FetchFailureKind::BadRedirect,
                format!(
                    "HTTP {} from {url} to {next}: only http:// redirects are followed",
                    resp.status
                ),
            );
        }
        if redirects >= config.max_redirects {
            return fail(
                FetchFailureKind::TooManyRedirects,
                format!(
                    "{redirects} redirect(s) followed, the cap; the next pointed from {url} to {next}"
                ),
            );
        }
        redirects += 1;
        url = next;
    }
}

/// One HTTP request and its response (the body only for non-redirects).
async fn exchange(
    url: &Url,
    req: &Request,
    config: &RevocationConfig,
) -> Result<Response, FetchFailure> {
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(Host::Domain(name)) => {
            config
                .resolver
                .resolve(name, port)
                .await
                .map_err(|e| FetchFailure {
                    kind: FetchFailureKind::Dns,
                    detail: e.to_string(),
                })?
        }
        None => {
            return Err(FetchFailure {
                kind: FetchFailureKind::BadRedirect,
                detail: format!("{url} has no host"),
            });
        }
    };
    let deadline = tokio::time::Instant::now() + config.timeout;
    let mut stream = super::connect_any(&addrs, deadline)
        .await
        .map_err(|f| FetchFailure {
            kind: match f.kind {
                FailureKind::Refused => FetchFailureKind::Refused,
                FailureKind::Reset => FetchFailureKind::Reset,
                FailureKind::Timeout => FetchFailureKind::Timeout,
                FailureKind::Unreachable => FetchFailureKind::Unreachable,
                FailureKind::Dns(_) => FetchFailureKind::Dns,
                _ => FetchFailureKind::Io,
            },
            detail: f.detail,
        })?;
    stream
        .write_all(&request_bytes(url, req))
        .await
        .map_err(|e| io_failure(&e, "sending the request"))?;
    read_response(&mut stream, config.max_bytes).await
}

fn request_bytes(url: &Url, req: &Request) -> Vec<u8> {
    let mut target = url.path().to_owned();
    if target.is_empty() {
        target.push('/');
    }
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => String::new(),
    };
    let agent = concat!("pinscope/", env!("CARGO_PKG_VERSION"));
    let mut out = match &req.body {
        Some(body) => format!(
            "POST {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\n\
             Content-Type: application/ocsp-request\r\nAccept: application/ocsp-response\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes(),
        None => format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\n\
             Accept: application/pkix-crl, */*\r\nConnection: close\r\n\r\n"
        )
        .into_bytes(),
    };
    if let Some(body) = &req.body {
        out.extend_from_slice(body);
    }
    out
}

/// A parsed response.
#[derive(Debug)]
struct Response {
    status: u16,
    content_type: Option<String>,
    location: Option<String>,
    body: Vec<u8>,
}

fn io_failure(e: &io::Error, doing: &str) -> FetchFailure {
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
async fn read_response<S: AsyncRead + Unpin>(
    stream: &mut S,
    max_bytes: usize,
) -> Result<Response, FetchFailure> {
    let not_http = |detail: String| FetchFailure {
        kind: FetchFailureKind::NotHttp,
        detail,
    };
    let mut buf = Vec::new();
    let (status, head_len, headers) = loop {
        let mut slots = [httparse::EMPTY_HEADER; 100];
        let mut parsed = httparse::Response::new(&mut slots);
        match parsed.parse(&buf) {
            Ok(httparse::Status::Complete(n)) => {
                let status = parsed.code.unwrap_or(0);
                let headers: Vec<(String, String)> = parsed
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_ascii_lowercase(),
                            String::from_utf8_lossy(h.value).trim().to_owned(),
                        )
                    })
                    .collect();
                if (100..200).contains(&status) && status != 101 {
                    // An interim answer (100 Continue): the real one follows.
                    buf.drain(..n);
                    continue;
                }
                break (status, n, headers);
            }
            Ok(httparse::Status::Partial) => {
                if buf.len() > MAX_HEAD_BYTES {
                    return Err(not_http(format!(
                        "the response headers exceed {MAX_HEAD_BYTES} bytes"
                    )));
                }
                if fill(stream, &mut buf).await? == 0 {
                    return Err(FetchFailure {
                        kind: FetchFailureKind::Closed,
                        detail: if buf.is_empty() {
                            "the connection was closed before any answer".into()
                        } else {
                            format!(
                                "the connection was closed after {} bytes, before the headers ended",
                                buf.len()
                            )
                        },
                    });
                }
            }
            Err(e) => {
                return Err(not_http(format!(
                    "not an HTTP response ({e}); it began {}",
                    describe(&buf)
                )));
            }
        }
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut response = Response {
        status,
        content_type: header("content-type"),
        location: header("location"),
        body: Vec::new(),
    };
    if matches!(status, 301 | 302 | 303 | 307 | 308) || status == 204 || status == 304 {
        return Ok(response);
    }
    let mut rest = buf.split_off(head_len);
    let chunked = headers.iter().any(|(n, v)| {
        n == "transfer-encoding"
            && v.rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
    });
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
    let lengths: Vec<&String> = headers
        .iter()
        .filter(|(n, _)| n == "content-length")
        .map(|(_, v)| v)
        .collect();
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

    #[test]
    fn requests_are_well_formed() {
        let url = Url::parse("http://ocsp.example:8080/a/b?x=1").unwrap();
        let req = Request {
            kind: RevocationKind::Ocsp,
            url: url.to_string(),
            body: Some(vec![0x30, 0x00]),
        };
        let bytes = request_bytes(&url, &req);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("POST /a/b?x=1 HTTP/1.1\r\nHost: ocsp.example:8080\r\n"));
        assert!(text.contains("Content-Type: application/ocsp-request\r\n"));
        assert!(text.contains("Content-Length: 2\r\n"));
        assert!(bytes.ends_with(b"\r\n\r\n\x30\x00"));
    }
}
