//! Name resolution behind a trait, so tests and `--resolve` can point names anywhere without touching
//! the machine's resolver, and `--dns-server` can ask one chosen DNS server directly. Each run puts
//! its resolver behind a [`ResolveCache`]: one lookup per name, a bounded number at once.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use tokio::sync::{Semaphore, watch};

use crate::model::observation::{AnsweredBy, DnsProblem};

/// A boxed resolution future (trait objects cannot have async methods).
pub type ResolveFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<SocketAddr>, ResolveError>> + Send + 'a>>;

/// Resolves a host name to the socket addresses to try, in order.
pub trait Resolve: Send + Sync + fmt::Debug {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a>;

    /// The addresses fixed for this host and port without any lookup (`--resolve`), if any. The
    /// run's [`ResolveCache`] asks this first, so such rules win over its cached answers.
    fn pinned(&self, _host: &str, _port: u16) -> Option<Vec<SocketAddr>> {
        None
    }

    /// How long a lookup waits at most before this resolver gives up by itself, when it bounds its
    /// own queries (`--dns-server`); `None` when it may wait indefinitely (getaddrinfo).
    fn gives_up_after(&self) -> Option<Duration> {
        None
    }

    /// Who answers for this host and port: `None` when the name is not looked up as itself
    /// (`--connect-to` sends it to another) or the resolver cannot say.
    fn answered_by(&self, _host: &str, _port: u16) -> Option<AnsweredBy> {
        None
    }

    /// The name and port this host and port are really reached at (`--connect-to`), if another.
    /// The run's [`ResolveCache`] looks up that name and keeps that port.
    fn redirect(&self, _host: &str, _port: u16) -> Option<(String, u16)> {
        None
    }
}

/// Why a name did not resolve.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveError {
    #[error("{host}: no addresses")]
    NoAddresses { host: String },
    #[error("{host}: {detail}")]
    Lookup { host: String, detail: String },
    /// NXDOMAIN.
    #[error("{host}: no such name (the DNS server {server} answered NXDOMAIN)")]
    NoSuchName { host: String, server: SocketAddr },
    /// SERVFAIL.
    #[error("{host}: the DNS server failed (SERVFAIL): {server} could not resolve the name")]
    ServerFailure { host: String, server: SocketAddr },
    /// REFUSED.
    #[error(
        "{host}: the DNS server refused the query (REFUSED): {server} does not answer this machine, or not for this name"
    )]
    Refused { host: String, server: SocketAddr },
    /// NOERROR without A or AAAA records (NODATA).
    #[error(
        "{host}: no addresses: the DNS server {server} knows the name but returned no A or AAAA records"
    )]
    NoData { host: String, server: SocketAddr },
    /// No reply at all: the query timed out or could not be delivered.
    #[error("{host}: the DNS server did not answer: {detail}")]
    NoAnswer {
        host: String,
        server: SocketAddr,
        detail: String,
    },
    /// The resolver (getaddrinfo, or whatever else has no timeout of its own) gave no answer in time.
    #[error("{host}: no answer from the resolver within {}s", after.as_secs_f64())]
    ResolverSilent { host: String, after: Duration },
    /// Another response code (FORMERR, NOTIMP, …).
    #[error("{host}: the DNS server {server} answered {rcode}")]
    ServerError {
        host: String,
        server: SocketAddr,
        rcode: String,
    },
}

impl ResolveError {
    /// The kind of failure, for the finding code.
    pub fn problem(&self) -> DnsProblem {
        match self {
            Self::NoSuchName { .. } => DnsProblem::NoSuchName,
            Self::ServerFailure { .. } => DnsProblem::ServerFailure,
            Self::Refused { .. } => DnsProblem::Refused,
            Self::NoData { .. } => DnsProblem::NoAddresses,
            Self::NoAnswer { .. } | Self::ResolverSilent { .. } => DnsProblem::NoAnswer,
            Self::NoAddresses { .. } | Self::Lookup { .. } | Self::ServerError { .. } => {
                DnsProblem::Other
            }
        }
    }
}

/// The operating system's resolver (getaddrinfo through tokio).
#[derive(Debug, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn answered_by(&self, _host: &str, _port: u16) -> Option<AnsweredBy> {
        Some(AnsweredBy::System)
    }

    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a> {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| ResolveError::Lookup {
                    host: host.to_owned(),
                    detail: e.to_string(),
                })?
                .collect();
            if addrs.is_empty() {
                return Err(ResolveError::NoAddresses {
                    host: host.to_owned(),
                });
            }
            Ok(addrs)
        })
    }
}

/// How long one query waits for the DNS server by default: what glibc and hickory wait. The
/// plan shortens it to three quarters of `--timeout`, so a silent server is named before the
/// per-target deadline ends the probe.
pub const DEFAULT_DNS_QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Asks one DNS server directly (`--dns-server`), over UDP (TCP when an answer is truncated), and
/// nothing else: no system configuration, no hosts file, no search domains, no cache of its own (the
/// run's [`ResolveCache`] keeps each name's answer for the run), and a single attempt.
pub struct DnsServerResolver {
    server: SocketAddr,
    query_timeout: Duration,
    resolver: TokioResolver,
}

impl fmt::Debug for DnsServerResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsServerResolver")
            .field("server", &self.server)
            .field("query_timeout", &self.query_timeout)
            .finish_non_exhaustive()
    }
}

/// Why a `--dns-server` value could not be used.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("--dns-server '{value}': {reason}")]
pub struct DnsServerError {
    pub value: String,
    pub reason: String,
}

impl DnsServerResolver {
    pub fn new(value: &str) -> Result<Self, DnsServerError> {
        let server = value
            .parse::<SocketAddr>()
            .or_else(|_| value.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
            .map_err(|_| DnsServerError {
                value: value.to_owned(),
                reason: "expected IP or IP:PORT (IPv6 with a port as [addr]:port)".into(),
            })?;
        Self::build(server, DEFAULT_DNS_QUERY_TIMEOUT).map_err(|e| DnsServerError {
            value: value.to_owned(),
            reason: e.to_string(),
        })
    }

    /// The same server, with each query waiting at most `timeout` for an answer. Keep it below the
    /// per-target deadline so a silent server is reported as such (`dns_no_answer`).
    pub fn with_query_timeout(self, timeout: Duration) -> Result<Self, DnsServerError> {
        Self::build(self.server, timeout).map_err(|e| DnsServerError {
            value: self.server.to_string(),
            reason: e.to_string(),
        })
    }

    /// The server asked.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    fn build(server: SocketAddr, query_timeout: Duration) -> Result<Self, NetError> {
        let mut udp = ConnectionConfig::udp();
        udp.port = server.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = server.port();
        let config = ResolverConfig::from_name_servers(vec![NameServerConfig::new(
            server.ip(),
            true,
            vec![udp, tcp],
        )]);
        let mut opts = ResolverOpts::default();
        opts.timeout = query_timeout;
        // hickory counts retries: 0 is one query (retransmitted over UDP within the timeout), not
        // a second full timeout after the first.
        opts.attempts = 0;
        opts.cache_size = 0;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.ndots = 0;
        opts.num_concurrent_reqs = 1;
        let resolver = Resolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(opts)
            .build()?;
        Ok(Self {
            server,
            query_timeout,
            resolver,
        })
    }

    /// One record type's addresses, or why there are none.
    async fn query(&self, name: &Name, rtype: RecordType) -> Result<Vec<IpAddr>, NetError> {
        let lookup = self.resolver.lookup(name.clone(), rtype).await?;
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                _ => None,
            })
            .collect())
    }

    /// What a failed query says, most telling first: NXDOMAIN, then SERVFAIL, REFUSED, other
    /// response codes, no answer, and last an empty answer.
    fn classify(&self, host: &str, e: &NetError) -> (u8, ResolveError) {
        let host = host.to_owned();
        let server = self.server;
        match e {
            NetError::Dns(DnsError::NoRecordsFound(n))
                if n.response_code == ResponseCode::NXDomain =>
            {
                (0, ResolveError::NoSuchName { host, server })
            }
            NetError::Dns(DnsError::NoRecordsFound(_)) => {
                (5, ResolveError::NoData { host, server })
            }
            NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain)) => {
                (0, ResolveError::NoSuchName { host, server })
            }
            NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => {
                (1, ResolveError::ServerFailure { host, server })
            }
            NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => {
                (2, ResolveError::Refused { host, server })
            }
            NetError::Dns(DnsError::ResponseCode(code)) => (
                3,
                ResolveError::ServerError {
                    host,
                    server,
                    rcode: format!("response code {} ({code})", u16::from(*code)),
                },
            ),
            NetError::Timeout => (
                4,
                ResolveError::NoAnswer {
                    host,
                    server,
                    detail: format!(
                        "no reply from {server} within {}s",
                        self.query_timeout.as_secs_f64()
                    ),
                },
            ),
            NetError::Io(io) => (
                4,
                ResolveError::NoAnswer {
                    host,
                    server,
                    detail: format!("{server}: {io}"),
                },
            ),
            NetError::NoConnections => (
                4,
                ResolveError::NoAnswer {
                    host,
                    server,
                    detail: format!("no connection to {server}"),
                },
            ),
            other => (
                3,
                ResolveError::Lookup {
                    host,
                    detail: format!("asking {server}: {other}"),
                },
            ),
        }
    }
}

impl Resolve for DnsServerResolver {
    fn answered_by(&self, _host: &str, _port: u16) -> Option<AnsweredBy> {
        Some(AnsweredBy::DnsServer(self.server()))
    }

    fn gives_up_after(&self) -> Option<Duration> {
        Some(self.query_timeout)
    }

    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a> {
        Box::pin(async move {
            // Always fully qualified: no search domains, exactly the name asked for.
            let fqdn = if host.ends_with('.') {
                host.to_owned()
            } else {
                format!("{host}.")
            };
            let name = Name::from_utf8(&fqdn).map_err(|e| ResolveError::Lookup {
                host: host.to_owned(),
                detail: format!("not a DNS name: {e}"),
            })?;
            let (v4, v6) = tokio::join!(
                self.query(&name, RecordType::A),
                self.query(&name, RecordType::AAAA)
            );
            let mut errors = Vec::new();
            let v4 = v4.unwrap_or_else(|e| {
                errors.push(self.classify(host, &e));
                Vec::new()
            });
            let v6 = v6.unwrap_or_else(|e| {
                errors.push(self.classify(host, &e));
                Vec::new()
            });
            let addrs = interleave(v6, v4);
            if addrs.is_empty() {
                return Err(errors
                    .into_iter()
                    .min_by_key(|(rank, _)| *rank)
                    .map(|(_, e)| e)
                    .unwrap_or(ResolveError::NoData {
                        host: host.to_owned(),
                        server: self.server,
                    }));
            }
            Ok(addrs
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect())
        })
    }
}

/// IPv6 and IPv4 addresses alternated, IPv6 first (RFC 8305's order), duplicates dropped.
fn interleave(v6: Vec<IpAddr>, v4: Vec<IpAddr>) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::with_capacity(v6.len() + v4.len());
    let (mut a, mut b) = (v6.into_iter(), v4.into_iter());
    loop {
        let (x, y) = (a.next(), b.next());
        if x.is_none() && y.is_none() {
            return out;
        }
        for ip in [x, y].into_iter().flatten() {
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
}

/// One `--resolve HOST:PORT:ADDR[,ADDR…]` rule (curl's syntax; HOST may be `*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveRule {
    pub host: String,
    pub port: u16,
    pub addrs: Vec<IpAddr>,
}

/// Why a `--resolve` value could not be read.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("--resolve '{value}': {reason}")]
pub struct ResolveRuleError {
    pub value: String,
    pub reason: String,
}

impl FromStr for ResolveRule {
    type Err = ResolveRuleError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| ResolveRuleError {
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let mut parts = value.splitn(3, ':');
        let (Some(host), Some(port), Some(addrs)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(err("expected HOST:PORT:ADDR"));
        };
        if host.is_empty() {
            return Err(err("empty HOST (use * to match every host)"));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| err(&format!("'{port}' is not a port (1-65535)")))?;
        let addrs = addrs
            .split(',')
            .map(|a| {
                let bare = a
                    .strip_prefix('[')
                    .and_then(|a| a.strip_suffix(']'))
                    .unwrap_or(a);
                bare.parse::<IpAddr>().map_err(|_| {
                    err(&format!(
                        "'{a}' is not an IP address (IPv6 goes in brackets)"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port,
            addrs,
        })
    }
}

/// Answers from `--resolve` rules first (exact host before `*`), and asks the inner resolver
/// for everything else.
#[derive(Debug)]
pub struct OverrideResolver {
    rules: Vec<ResolveRule>,
    inner: Arc<dyn Resolve>,
}

impl OverrideResolver {
    pub fn new(rules: Vec<ResolveRule>, inner: Arc<dyn Resolve>) -> Self {
        Self { rules, inner }
    }

    fn lookup(&self, host: &str, port: u16) -> Option<Vec<SocketAddr>> {
        let host = host.to_ascii_lowercase();
        let exact = self.rules.iter().find(|r| r.port == port && r.host == host);
        let rule = exact.or_else(|| self.rules.iter().find(|r| r.port == port && r.host == "*"))?;
        Some(
            rule.addrs
                .iter()
                .map(|&a| SocketAddr::new(a, port))
                .collect(),
        )
    }
}

impl Resolve for OverrideResolver {
    fn answered_by(&self, host: &str, port: u16) -> Option<AnsweredBy> {
        match self.lookup(host, port) {
            Some(_) => Some(AnsweredBy::ResolveRule),
            None => self.inner.answered_by(host, port),
        }
    }

    fn pinned(&self, host: &str, port: u16) -> Option<Vec<SocketAddr>> {
        self.lookup(host, port)
            .or_else(|| self.inner.pinned(host, port))
    }

    fn gives_up_after(&self) -> Option<Duration> {
        self.inner.gives_up_after()
    }

    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a> {
        match self.lookup(host, port) {
            Some(addrs) => Box::pin(async move { Ok(addrs) }),
            None => self.inner.resolve(host, port),
        }
    }
}

/// How many name lookups a run has in flight at once, whatever `--concurrency` is: a burst of the
/// whole catalog at once makes a resolver that drops part of it fail most of the names.
pub const DNS_CONCURRENCY: usize = 32;

/// How long a lookup already reported as unanswered keeps its slot while it still runs
/// (getaddrinfo cannot be cancelled), so the resolver never has more than [`DNS_CONCURRENCY`]
/// of this run's lookups at once; after this it is abandoned.
const LINGER: Duration = Duration::from_secs(30);

/// Names a run's cache keeps answers for. The oldest name is forgotten when a new one would exceed
/// it, so a streamed run over millions of distinct names holds a bounded cache, while a catalog
/// (a few hundred names, rows that share a name listed near each other) still looks each name up
/// once. A forgotten name that comes up again is looked up again.
pub const CACHED_NAMES: usize = 4096;

/// What a lookup gave: the addresses (with the port of the target that asked first), or why none.
type Answer = Result<Vec<SocketAddr>, ResolveError>;

/// How a run's lookups went, for `-v`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Names looked up.
    pub lookups: usize,
    /// Answers taken from a lookup another target had already started (or finished).
    pub hits: usize,
}

/// One run's name lookups, in front of the resolver the plan chose: each name is looked up once
/// however many targets use it (targets asking while a lookup is in flight wait for it), at most
/// [`DNS_CONCURRENCY`] lookups at a time, and a lookup that gets no answer in time is reported as
/// such ([`ResolveError::ResolverSilent`]) to every target waiting for it. Failures are kept too:
/// a name that did not resolve for one target does not resolve for the others. `--resolve` rules
/// ([`Resolve::pinned`]) are answered first, without a lookup. At most [`CACHED_NAMES`] names
/// are kept, the oldest forgotten first.
pub struct ResolveCache {
    inner: Arc<dyn Resolve>,
    give_up: Duration,
    permits: Arc<Semaphore>,
    names: Mutex<Names>,
    lookups: AtomicUsize,
    hits: AtomicUsize,
}

/// The names a cache holds, and the order they came in (oldest first), to forget the oldest.
#[derive(Default)]
struct Names {
    answers: HashMap<String, watch::Receiver<Option<Answer>>>,
    order: VecDeque<String>,
    capacity: usize,
}

impl Names {
    fn insert(&mut self, key: String, rx: watch::Receiver<Option<Answer>>) {
        while self.order.len() >= self.capacity.max(1) {
            // Targets already waiting on a forgotten lookup keep their receivers; only later
            // targets look the name up again.
            if let Some(old) = self.order.pop_front() {
                self.answers.remove(&old);
            }
        }
        self.order.push_back(key.clone());
        self.answers.insert(key, rx);
    }
}

impl fmt::Debug for ResolveCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolveCache")
            .field("inner", &self.inner)
            .field("give_up", &self.give_up)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl ResolveCache {
    /// A cache for a run whose per-target deadline is `deadline`. A resolver that bounds its own
    /// queries is given a second more to say why it failed; any other lookup is given up after
    /// three quarters of the deadline, so the target still reports it within its deadline.
    pub fn new(inner: Arc<dyn Resolve>, deadline: Duration) -> Self {
        Self::with_capacity(inner, deadline, CACHED_NAMES)
    }

    /// [`ResolveCache::new`] keeping at most `names` names.
    pub fn with_capacity(inner: Arc<dyn Resolve>, deadline: Duration, names: usize) -> Self {
        let give_up = inner.gives_up_after().map_or(deadline * 3 / 4, |t| {
            t.saturating_add(Duration::from_secs(1))
        });
        Self {
            inner,
            give_up,
            permits: Arc::new(Semaphore::new(DNS_CONCURRENCY)),
            names: Mutex::new(Names {
                capacity: names,
                ..Names::default()
            }),
            lookups: AtomicUsize::new(0),
            hits: AtomicUsize::new(0),
        }
    }

    /// How the run's lookups went so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            lookups: self.lookups.load(Ordering::Relaxed),
            hits: self.hits.load(Ordering::Relaxed),
        }
    }

    /// Where `host`'s answer will be: the lookup already started for it, or a new one. Must run
    /// inside the runtime (it spawns the lookup).
    fn answer(&self, host: &str, port: u16) -> watch::Receiver<Option<Answer>> {
        let key = host.to_ascii_lowercase();
        let tx = {
            let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(rx) = names.answers.get(&key) {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return rx.clone();
            }
            let (tx, rx) = watch::channel(None);
            names.insert(key, rx);
            tx
        };
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let rx = tx.subscribe();
        let inner = Arc::clone(&self.inner);
        let permits = Arc::clone(&self.permits);
        let give_up = self.give_up;
        let host = host.to_owned();
        // Its own task, so a target whose deadline passes (or a stopped run) does not cancel the
        // lookup the other targets wait for.
        tokio::spawn(async move {
            // The semaphore is never closed; were it, the lookup would run unthrottled.
            let _permit = permits.acquire_owned().await.ok();
            let lookup = inner.resolve(&host, port);
            tokio::pin!(lookup);
            tokio::select! {
                answer = &mut lookup => {
                    tx.send_replace(Some(answer));
                }
                () = tokio::time::sleep(give_up) => {
                    tx.send_replace(Some(Err(ResolveError::ResolverSilent {
                        host: host.clone(),
                        after: give_up,
                    })));
                    // Keep the slot while the resolver still works on the query.
                    let _ = tokio::time::timeout(LINGER, lookup).await;
                }
            }
        });
        rx
    }
}

impl Resolve for ResolveCache {
    fn answered_by(&self, host: &str, port: u16) -> Option<AnsweredBy> {
        self.inner.answered_by(host, port)
    }

    fn pinned(&self, host: &str, port: u16) -> Option<Vec<SocketAddr>> {
        self.inner.pinned(host, port)
    }

    fn gives_up_after(&self) -> Option<Duration> {
        Some(self.give_up)
    }

    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a> {
        if let Some(addrs) = self.inner.pinned(host, port) {
            return Box::pin(async move { Ok(addrs) });
        }
        let (name, port) = self
            .inner
            .redirect(host, port)
            .unwrap_or_else(|| (host.to_owned(), port));
        Box::pin(async move {
            let host = name.as_str();
            let mut rx = self.answer(host, port);
            let answer = match rx.wait_for(Option::is_some).await {
                Ok(answer) => answer.clone(),
                Err(_) => None,
            };
            let mut addrs = answer.unwrap_or_else(|| {
                // Only if the lookup's task died (a panic) before answering.
                Err(ResolveError::Lookup {
                    host: host.to_owned(),
                    detail: "the lookup was abandoned".into(),
                })
            })?;
            for a in &mut addrs {
                a.set_port(port);
            }
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_like_curl() {
        let r: ResolveRule = "gdmf.apple.com:443:127.0.0.1".parse().expect("rule");
        assert_eq!(r.addrs, vec![IpAddr::from([127, 0, 0, 1])]);
        let r: ResolveRule = "*:8443:[::1],127.0.0.2".parse().expect("rule");
        assert_eq!(r.host, "*");
        assert_eq!(r.addrs.len(), 2);
        assert!("host:443".parse::<ResolveRule>().is_err());
        assert!("host:99999:127.0.0.1".parse::<ResolveRule>().is_err());
        assert!("host:443:not-an-ip".parse::<ResolveRule>().is_err());
    }

    #[test]
    fn exact_rules_win_over_star() {
        let rules = vec![
            "*:443:127.0.0.9".parse().expect("rule"),
            "a.example:443:127.0.0.1".parse().expect("rule"),
        ];
        let r = OverrideResolver::new(rules, Arc::new(SystemResolver));
        assert_eq!(
            r.lookup("A.example", 443),
            Some(vec!["127.0.0.1:443".parse().expect("addr")])
        );
        assert_eq!(
            r.lookup("b.example", 443),
            Some(vec!["127.0.0.9:443".parse().expect("addr")])
        );
        assert_eq!(r.lookup("b.example", 80), None);
    }

    #[test]
    fn addresses_alternate_ipv6_first() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(
            interleave(
                vec![ip("::1"), ip("::2")],
                vec![
                    ip("10.0.0.1"),
                    ip("10.0.0.2"),
                    ip("10.0.0.3"),
                    ip("10.0.0.1")
                ]
            ),
            vec![
                ip("::1"),
                ip("10.0.0.1"),
                ip("::2"),
                ip("10.0.0.2"),
                ip("10.0.0.3")
            ]
        );
        assert_eq!(
            interleave(vec![], vec![ip("10.0.0.1")]),
            vec![ip("10.0.0.1")]
        );
    }

    #[test]
    fn dns_server_answers_map_to_their_problems() {
        let r = DnsServerResolver::new("127.0.0.1:5353").expect("resolver");
        assert_eq!(r.server(), "127.0.0.1:5353".parse().expect("addr"));
        assert_eq!(
            DnsServerResolver::new("::1").expect("resolver").server(),
            "[::1]:53".parse().expect("addr")
        );
        assert!(DnsServerResolver::new("dns.example").is_err());
        let query = hickory_resolver::proto::op::Query::default();
        let no_records =
            |code| NetError::from(hickory_resolver::net::NoRecords::new(query.clone(), code));
        let cases = [
            (no_records(ResponseCode::NXDomain), DnsProblem::NoSuchName),
            (no_records(ResponseCode::NoError), DnsProblem::NoAddresses),
            (
                NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)),
                DnsProblem::ServerFailure,
            ),
            (
                NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)),
                DnsProblem::Refused,
            ),
            (
                NetError::Dns(DnsError::ResponseCode(ResponseCode::NotImp)),
                DnsProblem::Other,
            ),
            (NetError::Timeout, DnsProblem::NoAnswer),
        ];
        for (error, problem) in cases {
            let (_, e) = r.classify("a.example", &error);
            assert_eq!(e.problem(), problem, "{error}: {e}");
            assert!(e.to_string().starts_with("a.example: "), "{e}");
        }
        // NXDOMAIN outranks every other answer to the other record type.
        assert!(
            r.classify("a", &no_records(ResponseCode::NXDomain)).0
                < r.classify("a", &NetError::Timeout).0
        );
        assert!(
            r.classify("a", &NetError::Timeout).0
                < r.classify("a", &no_records(ResponseCode::NoError)).0
        );
    }

    /// A resolver that counts its lookups and the most it had in flight at once, answering
    /// 127.0.0.1 after `delay`, or never when `delay` is `None`.
    #[derive(Debug, Default)]
    struct Counting {
        delay: Option<Duration>,
        calls: AtomicUsize,
        in_flight: AtomicUsize,
        most: AtomicUsize,
    }

    impl Resolve for Counting {
        fn resolve<'a>(&'a self, _host: &'a str, port: u16) -> ResolveFuture<'a> {
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                self.most.fetch_max(now, Ordering::SeqCst);
                match self.delay {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(vec![SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port)])
            })
        }
    }

    #[tokio::test]
    async fn a_name_is_looked_up_once_for_every_port() {
        let inner = Arc::new(Counting {
            delay: Some(Duration::from_millis(50)),
            ..Counting::default()
        });
        let cache = ResolveCache::new(inner.clone(), Duration::from_secs(5));
        let (a, b, c) = tokio::join!(
            cache.resolve("courier.push.apple.com", 5223),
            cache.resolve("Courier.push.apple.com", 443),
            cache.resolve("courier.push.apple.com", 80),
        );
        let port = |r: Answer| r.expect("addresses")[0].port();
        assert_eq!((port(a), port(b), port(c)), (5223, 443, 80));
        // And once finished, the answer stays.
        assert_eq!(
            port(cache.resolve("courier.push.apple.com", 443).await),
            443
        );
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            cache.stats(),
            CacheStats {
                lookups: 1,
                hits: 3
            }
        );
    }

    /// Issue 13: a streamed run over many distinct names must not keep every answer; the names
    /// still in the cache are answered from it.
    #[tokio::test]
    async fn the_cache_forgets_the_oldest_name_beyond_its_capacity() {
        let inner = Arc::new(Counting {
            delay: Some(Duration::ZERO),
            ..Counting::default()
        });
        let cache = ResolveCache::with_capacity(inner.clone(), Duration::from_secs(5), 2);
        for name in ["a.test", "b.test", "c.test"] {
            cache.resolve(name, 443).await.expect("addresses");
        }
        assert_eq!(cache.names.lock().unwrap().answers.len(), 2);
        // c and b are still known; a was forgotten and is looked up again.
        cache.resolve("c.test", 443).await.expect("addresses");
        cache.resolve("b.test", 443).await.expect("addresses");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 3);
        cache.resolve("a.test", 443).await.expect("addresses");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 4);
        assert_eq!(
            cache.stats(),
            CacheStats {
                lookups: 4,
                hits: 2
            }
        );
    }

    #[tokio::test]
    async fn resolve_rules_win_over_the_cache() {
        let inner = Arc::new(Counting {
            delay: Some(Duration::ZERO),
            ..Counting::default()
        });
        let rules = vec!["a.example:443:127.0.0.9".parse().expect("rule")];
        let overridden = Arc::new(OverrideResolver::new(rules, inner.clone()));
        let cache = ResolveCache::new(overridden, Duration::from_secs(5));
        let ip = |r: Answer| r.expect("addresses")[0];
        assert_eq!(
            ip(cache.resolve("a.example", 80).await),
            "127.0.0.1:80".parse().expect("addr")
        );
        assert_eq!(
            ip(cache.resolve("a.example", 443).await),
            "127.0.0.9:443".parse().expect("addr")
        );
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_silent_resolver_is_named_for_every_target_waiting() {
        let inner = Arc::new(Counting::default());
        let cache = ResolveCache::new(inner.clone(), Duration::from_millis(400));
        let (a, b) = tokio::join!(
            cache.resolve("a.example", 443),
            cache.resolve("a.example", 80)
        );
        for r in [a, b] {
            let e = r.expect_err("no answer");
            assert_eq!(e.problem(), DnsProblem::NoAnswer);
            assert_eq!(
                e.to_string(),
                "a.example: no answer from the resolver within 0.3s"
            );
        }
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn lookups_are_bounded_whatever_the_burst() {
        let inner = Arc::new(Counting {
            delay: Some(Duration::from_millis(20)),
            ..Counting::default()
        });
        let cache = Arc::new(ResolveCache::new(inner.clone(), Duration::from_secs(5)));
        let mut set = tokio::task::JoinSet::new();
        for i in 0..200 {
            let cache = Arc::clone(&cache);
            set.spawn(async move { cache.resolve(&format!("h{i}.example"), 443).await });
        }
        while let Some(answer) = set.join_next().await {
            assert!(answer.expect("task").is_ok());
        }
        assert_eq!(inner.calls.load(Ordering::SeqCst), 200);
        let most = inner.most.load(Ordering::SeqCst);
        assert!(most <= DNS_CONCURRENCY, "{most} lookups at once");
    }
}
