//! `--pac`: asking a proxy auto-config script which path a target takes, and turning its answer
//! into the attempts [`super::probe_one`] makes in order. The script runs on a blocking thread
//! (the engine is synchronous and bounded by its own loop and recursion limits), never on the
//! async runtime; the target's deadline covers the evaluation too.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ProbeConfig;
use super::pac_child;
use super::proxy::ProxySettings;
use super::resolve::Resolve;
use crate::model::observation::{Failure, FailureKind, Phase};
use crate::model::target::Target;
use crate::pac::{self, PacEnv, Route};

/// A PAC script as the run holds it: checked once when the plan was made (it loads and defines
/// `FindProxyForURL`), then loaded afresh for each target on a blocking thread.
#[derive(Debug)]
pub struct PacScript {
    /// Where it came from, as reports name it (a path, or a URL with credentials redacted).
    pub shown: String,
    pub text: String,
}

/// One entry of a PAC answer, ready to try: `proxy` is `Ok(None)` for `DIRECT`, `Err` with why
/// when the entry cannot be followed.
#[derive(Debug)]
pub struct Hop {
    /// The entry as the PAC wrote it (`PROXY 127.0.0.1:3128`).
    pub entry: String,
    pub proxy: Result<Option<Arc<ProxySettings>>, String>,
}

/// The entries of a PAC answer, in order.
pub fn hops(answer: &str) -> Vec<Hop> {
    pac::routes(answer)
        .into_iter()
        .map(|route| match route {
            Route::Direct => Hop {
                entry: "DIRECT".into(),
                proxy: Ok(None),
            },
            Route::Proxy { kind, address } => {
                // A PAC may put credentials in an entry; reports show it without them.
                let entry = format!("{kind} {}", super::proxy::redact(&address));
                let url = match kind.as_str() {
                    "PROXY" | "HTTP" => Some(format!("http://{address}")),
                    "HTTPS" => Some(format!("https://{address}")),
                    "SOCKS5" => Some(format!("socks5h://{address}")),
                    _ => None,
                };
                let proxy = match url {
                    Some(url) => ProxySettings::parse(&url, &[])
                        .map(|p| Some(Arc::new(p)))
                        .map_err(|e| e.reason),
                    None => Err(format!(
                        "{kind} entries are not followed by pinscope (PROXY, HTTP, HTTPS, SOCKS5 and DIRECT are)"
                    )),
                };
                Hop { entry, proxy }
            }
            Route::Other(text) => Hop {
                proxy: Err("not an entry a PAC may return".into()),
                entry: text,
            },
        })
        .collect()
}

/// What `FindProxyForURL` answers for `target`, asked as a browser would for `https://host[:port]/`
/// (`http://host[:port]/` for a port-80 probe).
/// An engine error (the script threw, hit a bound, returned no string) is a failure of the
/// target: the device would be stuck the same way.
pub async fn evaluate(
    pac: &Arc<PacScript>,
    target: &Target,
    config: &ProbeConfig,
) -> Result<String, Failure> {
    let (scheme, default_port) = match target.kind() {
        crate::model::target::ProbeKind::Http => ("http", 80),
        _ => ("https", 443),
    };
    let url = if target.port == default_port {
        format!("{scheme}://{}/", target.host)
    } else {
        format!("{scheme}://{}:{}/", target.host, target.port)
    };
    let env: Arc<dyn PacEnv> = Arc::new(ProbeEnv {
        resolver: Arc::clone(&config.resolver),
        handle: tokio::runtime::Handle::current(),
        timeout: config.timeout,
        toward: target.host.clone(),
        port: target.port,
    });
    let script = Arc::clone(pac);
    let host = target.host.clone();
    let deadline = Instant::now() + config.timeout;
    let joined = tokio::task::spawn_blocking(move || {
        // In a memory-limited child, so that a runaway script costs this target only.
        pac_child::evaluate(&script.text, &url, &host, env, deadline).map_err(|e| e.to_string())
    })
    .await;
    let failure = |detail: String| Failure {
        kind: FailureKind::Proxy(None),
        phase: Phase::Proxy,
        detail,
    };
    match joined {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(failure(format!("the PAC {}: {e}", pac.shown))),
        Err(e) => Err(failure(format!(
            "the PAC {}: the engine stopped: {e}",
            pac.shown
        ))),
    }
}

/// The most a fetched PAC may be.
const MAX_PAC_BYTES: u64 = 1024 * 1024;

/// Why a PAC URL could not be fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    #[error("only http:// PAC URLs are fetched")]
    Scheme,
    #[error("not a URL: {0}")]
    Url(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the server answered {0}")]
    Status(String),
    #[error("the answer is not HTTP or not UTF-8")]
    Malformed,
    #[error("the PAC is larger than {} KiB", MAX_PAC_BYTES / 1024)]
    TooLarge,
}

/// Fetches a PAC over plain HTTP (`GET`, `Connection: close`, no redirects), within `timeout`
/// per connect and read, at most 1 MiB. The name is resolved by `resolver` (the run's:
/// `--resolve`, `--connect-to` and `--dns-server` apply), on a thread of its own, so this may be
/// called from anywhere.
pub fn fetch(
    url: &str,
    timeout: Duration,
    resolver: &Arc<dyn Resolve>,
) -> Result<String, FetchError> {
    use std::io::{Read, Write};
    let parsed = url::Url::parse(url).map_err(|e| FetchError::Url(e.to_string()))?;
    if parsed.scheme() != "http" {
        return Err(FetchError::Scheme);
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| FetchError::Url("no host".into()))?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => resolve_blocking(resolver, bare, port, timeout)?,
    };
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        match std::net::TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let mut stream = stream.ok_or_else(|| {
        last.unwrap_or_else(|| std::io::Error::other("the name has no addresses"))
    })?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let path = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let authority = match parsed.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/x-ns-proxy-autoconfig, */*\r\nUser-Agent: pinscope/{}\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )?;
    // One deadline for the whole answer (a server sending a byte at a time would otherwise
    // reset the read timeout forever), and a PAC larger than the limit is an error, not cut.
    let deadline = std::time::Instant::now() + timeout;
    let limit = usize::try_from(MAX_PAC_BYTES + 16 * 1024).unwrap_or(usize::MAX);
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(FetchError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no whole answer within {}s", timeout.as_secs_f64()),
            )));
        }
        stream.set_read_timeout(Some(left))?;
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.len() > limit {
            return Err(FetchError::TooLarge);
        }
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(FetchError::Malformed)?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| FetchError::Malformed)?;
    let status = head.lines().next().unwrap_or("");
    let code = status.split_whitespace().nth(1).unwrap_or("");
    if code != "200" {
        return Err(FetchError::Status(crate::pac::clean_line(status)));
    }
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = &raw[split + 4..];
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    if body.len() as u64 > MAX_PAC_BYTES {
        return Err(FetchError::TooLarge);
    }
    String::from_utf8(body).map_err(|_| FetchError::Malformed)
}

/// Resolves `host` with the async `resolver` on a thread with a runtime of its own.
fn resolve_blocking(
    resolver: &Arc<dyn Resolve>,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, FetchError> {
    let resolver = Arc::clone(resolver);
    let host = host.to_owned();
    let lookup = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            match tokio::time::timeout(timeout, resolver.resolve(&host, port)).await {
                Ok(Ok(addrs)) => Ok(addrs),
                Ok(Err(e)) => Err(std::io::Error::other(e.to_string())),
                Err(_) => Err(std::io::Error::other(format!(
                    "{host}: no answer from the resolver within {}s",
                    timeout.as_secs_f64()
                ))),
            }
        })
    });
    lookup
        .join()
        .map_err(|_| FetchError::Io(std::io::Error::other("the lookup thread panicked")))?
        .map_err(FetchError::Io)
}

/// The WPAD URLs a device configured for automatic proxy discovery tries by DNS, in order: for
/// each search domain, `http://wpad.<domain>/wpad.dat`, then the same for each parent domain of
/// two labels or more (never `wpad.<tld>`), except a two-label parent under a country code
/// (`co.uk`, `com.au`): names there belong to whoever registers them, the classic WPAD
/// devolution attack. Without a public-suffix list this is a rule of thumb, stated in
/// docs/proxies.md.
pub fn wpad_candidates(domains: &[String]) -> Vec<String> {
    let mut urls = Vec::new();
    for domain in domains {
        let mut d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let given = d.clone();
        while d.contains('.') {
            let labels: Vec<&str> = d.split('.').collect();
            let under_country_code = labels.len() == 2 && labels[1].len() == 2;
            if d != given && under_country_code {
                break;
            }
            let url = format!("http://wpad.{d}/wpad.dat");
            if !urls.contains(&url) {
                urls.push(url);
            }
            match d.split_once('.') {
                Some((_, parent)) => d = parent.to_owned(),
                None => break,
            }
        }
    }
    urls
}

/// The search domains of a resolv.conf: the `search` line's, else the `domain` line's.
pub fn search_domains(resolv_conf: &str) -> Vec<String> {
    let mut search = Vec::new();
    let mut domain = Vec::new();
    for line in resolv_conf.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("search") => search = words.map(str::to_owned).collect(),
            Some("domain") => domain = words.take(1).map(str::to_owned).collect(),
            _ => {}
        }
    }
    if search.is_empty() { domain } else { search }
}

/// Joins the chunks of a chunked body (trailers ignored; a malformed one ends it).
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(size) = size.filter(|&n| n > 0) else {
            break;
        };
        let start = eol + 2;
        let Some(end) = start.checked_add(size) else {
            break;
        };
        let Some(chunk) = body.get(start..end) else {
            break;
        };
        out.extend_from_slice(chunk);
        body = body.get(end.saturating_add(2)..).unwrap_or(&[]);
    }
    out
}

/// The network as the PAC's helpers see it: the run's resolver (so `--resolve` and
/// `--dns-server` apply), and this machine's address towards the target.
struct ProbeEnv {
    resolver: Arc<dyn Resolve>,
    handle: tokio::runtime::Handle,
    timeout: Duration,
    /// The host whose route is asked: `myIpAddress` is the address a connection to it leaves from.
    toward: String,
    /// The target's port: `--resolve` rules name one.
    port: u16,
}

impl PacEnv for ProbeEnv {
    fn resolve(&self, host: &str) -> Vec<IpAddr> {
        let lookup = tokio::time::timeout(self.timeout, self.resolver.resolve(host, self.port));
        match self.handle.block_on(lookup) {
            Ok(Ok(addrs)) => addrs.iter().map(SocketAddr::ip).collect(),
            _ => Vec::new(),
        }
    }

    fn my_addresses(&self) -> Vec<IpAddr> {
        // A connected UDP socket sends nothing; its local address is the one the routing table
        // picks towards the target, which is what browsers report.
        let toward = match self.toward.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => self.resolve(&self.toward),
        };
        toward
            .into_iter()
            .filter_map(|ip| {
                let bind: SocketAddr = if ip.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let socket = UdpSocket::bind(bind).ok()?;
                socket.connect(SocketAddr::new(ip, 9)).ok()?;
                socket.local_addr().ok().map(|a| a.ip())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wpad_urls_walk_up_each_search_domain() {
        let domains =
            search_domains("# x\nnameserver 127.0.0.53\nsearch eng.corp.example lab.test\n");
        assert_eq!(domains, ["eng.corp.example", "lab.test"]);
        assert_eq!(
            wpad_candidates(&domains),
            [
                "http://wpad.eng.corp.example/wpad.dat",
                "http://wpad.corp.example/wpad.dat",
                "http://wpad.lab.test/wpad.dat"
            ]
        );
        assert_eq!(search_domains("domain corp.example\n"), ["corp.example"]);
        // Never up to a name a stranger can register under a country code.
        assert_eq!(
            wpad_candidates(&["eng.corp.co.uk".to_owned()]),
            [
                "http://wpad.eng.corp.co.uk/wpad.dat",
                "http://wpad.corp.co.uk/wpad.dat"
            ]
        );
    }

    #[test]
    fn answers_become_attempts_in_order() {
        let hops = hops("PROXY 127.0.0.1:9; SOCKS5 127.0.0.1:1080; HTTPS h:1; DIRECT; junk");
        let entries: Vec<&str> = hops.iter().map(|h| h.entry.as_str()).collect();
        assert_eq!(
            entries,
            [
                "PROXY 127.0.0.1:9",
                "SOCKS5 127.0.0.1:1080",
                "HTTPS h:1",
                "DIRECT",
                "junk"
            ]
        );
        assert!(matches!(&hops[0].proxy, Ok(Some(p)) if p.port == 9));
        assert!(matches!(&hops[1].proxy, Ok(Some(p)) if p.port == 1080));
        assert!(matches!(&hops[2].proxy, Ok(Some(p)) if p.port == 1));
        assert!(matches!(hops[3].proxy, Ok(None)));
        assert!(hops[4].proxy.is_err());
    }
}
