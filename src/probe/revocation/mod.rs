//! Fetching what devices fetch to check revocation: OCSP responses and CRLs named in the captured
//! chains. Fetches are capped in size, time and redirects; what they return is judged by the
//! analysis (`analysis::revocation`).
//!
//! The HTTP client is a small HTTP/1.1 one on httparse rather than a general crate: revocation
//! fetches are one request per connection (`Connection: close`), over plain HTTP only, and every
//! byte read is counted against the cap, which is simplest to guarantee when the reading loop is
//! ours. `response` reads the answer: the head by the shared reader (`probe::http`), then the
//! body, from Content-Length, chunked and read-to-close responses.

mod response;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use url::{Host, Url};

use self::response::{Response, io_failure, read_response};
use super::resolve::Resolve;
use crate::model::observation::{
    FailureKind, FetchFailure, FetchFailureKind, FetchRequest, FetchedBody, Observation,
    PlannedFetch, RevocationFetch, RevocationKind, RevocationOutcome,
};

/// Fetches in flight at once, across all targets.
const IN_FLIGHT: usize = 16;

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

/// Carries out the fetches planned for `observations` (by `analysis::revocation::plan`) and
/// records each on its observation, in plan order. Never fails: every problem is recorded as the
/// fetch's outcome.
pub async fn fetch_all(
    observations: &mut [Observation],
    planned: Vec<PlannedFetch>,
    config: &RevocationConfig,
) {
    let mut requests: Vec<Request> = Vec::new();
    let mut index: HashMap<Request, usize> = HashMap::new();
    let mut pending: Vec<(usize, RevocationFetch, Option<usize>)> = Vec::new();
    for p in planned {
        let (outcome, body) = match p.request {
            FetchRequest::Skip(why) => (RevocationOutcome::NotFetched(why), None),
            FetchRequest::Get => (RevocationOutcome::NotFetched(String::new()), Some(None)),
            FetchRequest::Ocsp(der) => (
                RevocationOutcome::NotFetched(String::new()),
                Some(Some(der)),
            ),
        };
        let job = body.map(|body| {
            let req = Request {
                kind: p.kind,
                url: p.url.clone(),
                body,
            };
            *index.entry(req.clone()).or_insert_with(|| {
                requests.push(req);
                requests.len() - 1
            })
        });
        let fetch = RevocationFetch {
            kind: p.kind,
            url: p.url,
            cert_sha256: p.cert_sha256,
            issuer_sha256: p.issuer_sha256,
            outcome,
        };
        pending.push((p.observation, fetch, job));
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

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
