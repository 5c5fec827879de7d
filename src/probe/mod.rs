//! The network side: resolve, connect and (for TLS targets) handshake, recording what the server
//! presents. Nothing here judges a chain; every network fault becomes part of the [`Observation`], never
//! an error, and every target yields exactly one observation within its deadline.

pub mod connect_to;
pub mod danger;
mod http;
pub mod pac_child;
pub mod pac_route;
pub mod proxy;
pub mod resolve;
pub mod revocation;
mod services;
mod tls;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustls::crypto::CryptoProvider;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

pub use crate::model::observation::StopReason;
use crate::model::observation::{
    AnsweredBy, Captured, DnsProblem, Failure, FailureKind, Observation, Outcome, Phase,
    PhaseTiming, RouteFailure, SkipReason,
};
use crate::model::target::{ProbeKind, Target};
use resolve::Resolve;

/// How many bytes of a non-TLS answer are kept to show the user what came back instead.
const PEEK_BYTES: usize = 48;

/// Settings shared by every probe of a run.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// One deadline per target, covering resolution, connection and handshake.
    pub timeout: Duration,
    /// Targets in flight at once.
    pub concurrency: usize,
    /// The run's resolver: the one given to [`ProbeConfig::new`] behind the run's
    /// [`resolve::ResolveCache`].
    pub resolver: Arc<dyn Resolve>,
    dns: Arc<resolve::ResolveCache>,
    /// ALPN protocols offered in the ClientHello.
    pub alpn: Vec<Vec<u8>>,
    /// The HTTP proxy TLS targets are tunnelled through, if any.
    pub proxy: Option<Arc<proxy::ProxySettings>>,
    /// The TLS client configuration for `https://` proxies (see [`proxy::tls_config`]).
    pub proxy_tls: Arc<rustls::ClientConfig>,
    /// The PAC that chooses each TLS target's path (`--pac`); it takes precedence over `proxy`.
    pub pac: Option<Arc<pac_route::PacScript>>,
    /// Stops the run early (a signal, the run's deadline): see [`Stop`].
    pub stop: Stop,
    provider: Arc<CryptoProvider>,
    /// This machine's side of every TCP connection made: the vantage a report states. A set, so
    /// it stays as small as the machine's addresses however many targets are probed.
    local: Arc<Mutex<std::collections::BTreeSet<IpAddr>>>,
}

/// A switch that ends a run early. Once triggered, [`probe_all`] starts no new probe and reports
/// the targets it did not start as `skipped` with [`StopReason::not_probed`]. Probes in flight end
/// at once: after an interruption each reports what it had seen (addresses, the address it
/// connected to, how far the handshake got) as a [`FailureKind::Interrupted`] failure; after the
/// run's deadline they are reported as not probed. The first reason given wins.
#[derive(Clone, Debug)]
pub struct Stop(Arc<tokio::sync::watch::Sender<Option<StopReason>>>);

impl Default for Stop {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::watch::Sender::new(None)))
    }
}

impl Stop {
    /// Stops the run for `reason`, unless it was already stopped.
    pub fn trigger(&self, reason: StopReason) {
        self.0.send_if_modified(|r| {
            if r.is_none() {
                *r = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// Why the run was stopped, if it was.
    pub fn reason(&self) -> Option<StopReason> {
        *self.0.borrow()
    }

    /// Resolves once the run is stopped.
    pub async fn stopped(&self) -> StopReason {
        let mut rx = self.0.subscribe();
        let reason = rx.wait_for(Option::is_some).await.ok().and_then(|r| *r);
        match reason {
            Some(r) => r,
            // The sender lives in `self`, so it cannot be dropped while this waits.
            None => std::future::pending().await,
        }
    }
}

impl ProbeConfig {
    /// Settings for one run. `resolver` is put behind a cache of its own, shared by every probe
    /// made with these settings (and their clones): each name is looked up once per run.
    pub fn new(timeout: Duration, concurrency: usize, resolver: Arc<dyn Resolve>) -> Self {
        let dns = Arc::new(resolve::ResolveCache::new(resolver, timeout));
        Self {
            timeout,
            concurrency: concurrency.max(1),
            resolver: Arc::clone(&dns) as Arc<dyn Resolve>,
            dns,
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            proxy: None,
            pac: None,
            proxy_tls: proxy::tls_config(&[]),
            stop: Stop::default(),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            local: Arc::default(),
        }
    }

    /// The local addresses the run's connections left from, in order.
    pub fn local_addresses(&self) -> Vec<IpAddr> {
        lock(&self.local).iter().copied().collect()
    }

    /// How many names the run looked up, and how many answers came from the cache.
    pub fn dns_stats(&self) -> resolve::CacheStats {
        self.dns.stats()
    }
}

/// Probes every target with at most `config.concurrency` in flight. `on_done` sees each observation
/// as it finishes, with the target's index in `targets`; the returned list is in the targets'
/// order. Once `config.stop` is triggered, no new probe starts, the ones in flight are abandoned,
/// and every target not finished is returned (and given to `on_done`) as skipped with the stop's
/// reason.
pub async fn probe_all(
    targets: impl IntoIterator<Item = Target>,
    config: &ProbeConfig,
    mut on_done: impl FnMut(usize, &Observation),
) -> Vec<Observation> {
    let mut kept = Vec::new();
    let targets = targets.into_iter().inspect(|t| kept.push(t.clone()));
    let mut slots: Vec<Option<Observation>> = Vec::new();
    probe_each(targets, config, |i, obs| {
        on_done(i, &obs);
        if slots.len() <= i {
            slots.resize(i + 1, None);
        }
        if let Some(slot) = slots.get_mut(i) {
            *slot = Some(obs);
        }
    })
    .await;
    slots.resize(kept.len(), None);
    slots
        .into_iter()
        .zip(kept)
        .map(|(slot, target)| slot.unwrap_or_else(|| internal_failure(target, "probe lost")))
        .collect()
}

/// [`probe_all`] without keeping anything: each observation is handed to `on_done` (with its
/// target's index) and dropped. At most `config.concurrency` probes exist at once, so memory
/// follows the concurrency rather than the number of targets.
pub async fn probe_each(
    targets: impl IntoIterator<Item = Target>,
    config: &ProbeConfig,
    mut on_done: impl FnMut(usize, Observation),
) {
    let config = Arc::new(config.clone());
    let stop = config.stop.clone();
    let mut set = JoinSet::new();
    let mut task_index: HashMap<tokio::task::Id, (usize, Target)> = HashMap::new();
    let mut pending = targets.into_iter().enumerate();
    loop {
        // Keep `concurrency` probes in flight; after a stop, start none.
        while set.len() < config.concurrency {
            let Some((i, target)) = pending.next() else {
                break;
            };
            if let Some(reason) = stop.reason() {
                on_done(i, not_probed(target, reason));
                continue;
            }
            let config = Arc::clone(&config);
            let kept = target.clone();
            // The probe watches `stop` itself, so a stop reports what it had seen so far.
            let handle = set.spawn(async move { probe_one(target, &config).await });
            task_index.insert(handle.id(), (i, kept));
        }
        let Some(joined) = set.join_next_with_id().await else {
            break;
        };
        let (id, obs) = match joined {
            Ok((id, obs)) => (id, Ok(obs)),
            Err(e) => (e.id(), Err(e.to_string())),
        };
        let Some((i, target)) = task_index.remove(&id) else {
            continue;
        };
        // A panicking probe is a bug, but the target must still be reported.
        let obs = obs.unwrap_or_else(|e| internal_failure(target, &e));
        on_done(i, obs);
    }
}

/// A target the run stopped before finishing.
fn not_probed(target: Target, reason: StopReason) -> Observation {
    Observation {
        target,
        addresses: Vec::new(),
        address_used: None,
        answered_by: None,
        sni: None,
        proxy: None,
        route: None,
        revocation: Vec::new(),
        timings: Vec::new(),
        outcome: Outcome::Skipped(SkipReason::Stopped(reason)),
        elapsed: Duration::ZERO,
    }
}

fn internal_failure(target: Target, detail: &str) -> Observation {
    Observation {
        target,
        addresses: Vec::new(),
        address_used: None,
        answered_by: None,
        sni: None,
        proxy: None,
        route: None,
        revocation: Vec::new(),
        timings: Vec::new(),
        outcome: Outcome::Failed {
            failure: Failure {
                kind: FailureKind::Io,
                phase: Phase::Connect,
                detail: format!("internal error: {detail}"),
            },
            captured: None,
        },
        elapsed: Duration::ZERO,
    }
}

/// What a probe has learned so far. Kept outside the probe's future so a deadline that cancels the
/// future still reports the phase it reached, the addresses and any chain already captured.
#[derive(Debug)]
struct Trace {
    phase: Phase,
    addresses: Vec<IpAddr>,
    address_used: Option<SocketAddr>,
    /// Who gave `addresses`, when they are the target's own name's.
    answered_by: Option<AnsweredBy>,
    captured: Arc<Mutex<Option<Captured>>>,
    peeked: Arc<Mutex<Peek>>,
    /// When each phase was entered, for `-v`'s timings.
    marks: Vec<(Phase, Instant)>,
    /// The proxy of the attempt under way.
    proxy: Option<Arc<proxy::ProxySettings>>,
    /// The PAC's choice, as far as it got.
    route: Option<crate::model::observation::RouteTaken>,
    /// Still waiting for the PAC's answer.
    evaluating_pac: bool,
}

impl Trace {
    /// Moves to the next phase, noting when.
    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.marks.push((phase, Instant::now()));
    }

    /// How long each phase entered took, the last one until `end`.
    fn timings(&self, end: Instant) -> Vec<PhaseTiming> {
        self.marks
            .iter()
            .enumerate()
            .map(|(i, &(phase, start))| PhaseTiming {
                phase,
                elapsed: self
                    .marks
                    .get(i + 1)
                    .map_or(end, |&(_, next)| next)
                    .saturating_duration_since(start),
            })
            .collect()
    }
}

#[derive(Debug, Default)]
struct Peek {
    first_bytes: Vec<u8>,
    total: usize,
}

/// Probes one target; never fails, never outlives `config.timeout` by more than scheduling slack.
pub async fn probe_one(target: Target, config: &ProbeConfig) -> Observation {
    let started = Instant::now();
    let kind = target.kind();
    let sni = match (&kind, ServerName::try_from(target.host.as_str())) {
        (ProbeKind::Tls, Ok(ServerName::DnsName(_))) => Some(target.host.clone()),
        _ => None,
    };
    if let ProbeKind::Skip(reason) = kind {
        return Observation {
            target,
            addresses: Vec::new(),
            address_used: None,
            answered_by: None,
            sni: None,
            outcome: Outcome::Skipped(reason),
            elapsed: started.elapsed(),
            proxy: None,
            route: None,
            revocation: Vec::new(),
            timings: Vec::new(),
        };
    }
    let via_proxy = match kind {
        ProbeKind::Tls => config.proxy.clone().filter(|p| p.applies_to(&target.host)),
        // Plain HTTP goes through an HTTP proxy as a browser's request does (absolute form).
        ProbeKind::Http => config
            .proxy
            .clone()
            .filter(|p| p.scheme == proxy::ProxyScheme::Http && p.applies_to(&target.host)),
        _ => None,
    };
    let trace = Arc::new(Mutex::new(Trace {
        phase: Phase::Resolve,
        addresses: Vec::new(),
        address_used: None,
        answered_by: None,
        captured: Arc::new(Mutex::new(None)),
        peeked: Arc::new(Mutex::new(Peek::default())),
        marks: vec![(Phase::Resolve, started)],
        proxy: via_proxy.clone(),
        route: None,
        evaluating_pac: false,
    }));
    let run = follow_route(&target, &kind, via_proxy, config, Arc::clone(&trace));
    let stop = config.stop.clone();
    let result = tokio::select! {
        biased;
        reason = stop.stopped() => Err(Ended::Stopped(reason)),
        r = tokio::time::timeout(config.timeout, run) => r.map_err(|_| Ended::Deadline),
    };

    let trace = lock(&trace);
    let via_proxy = trace.proxy.clone();
    let captured = lock(&trace.captured).clone();
    let outcome = match result {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(failure)) => Outcome::Failed { failure, captured },
        // The run's own deadline ends whatever is left as "not probed", as before; only an
        // interruption reports how far each probe in flight got.
        Err(Ended::Stopped(reason @ StopReason::Deadline)) => {
            return not_probed(target, reason);
        }
        Err(Ended::Stopped(StopReason::Interrupted)) => Outcome::Failed {
            failure: Failure {
                kind: FailureKind::Interrupted,
                phase: trace.phase,
                detail: interrupted_detail(&trace, &kind, &lock(&trace.peeked)),
            },
            captured,
        },
        Err(Ended::Deadline) if trace.evaluating_pac => Outcome::Failed {
            failure: Failure {
                kind: FailureKind::Proxy(None),
                phase: Phase::Proxy,
                detail: format!(
                    "the PAC gave no answer within {}s (FindProxyForURL still running)",
                    config.timeout.as_secs_f64()
                ),
            },
            captured,
        },
        // A deadline that ends the probe while the name is still being resolved is the
        // resolver's silence (or a queue of lookups it has not answered): a DNS failure.
        Err(Ended::Deadline) if trace.phase == Phase::Resolve => Outcome::Failed {
            failure: match &via_proxy {
                Some(p) => Failure {
                    kind: FailureKind::ProxyUnreachable,
                    phase: Phase::Resolve,
                    detail: format!(
                        "the proxy {}: its name {}: no answer from the resolver within {}s",
                        p.display,
                        p.host,
                        config.timeout.as_secs_f64()
                    ),
                },
                None => Failure {
                    kind: FailureKind::Dns(DnsProblem::NoAnswer),
                    phase: Phase::Resolve,
                    detail: format!(
                        "{}: no answer from the resolver within {}s",
                        target.host,
                        config.timeout.as_secs_f64()
                    ),
                },
            },
            captured,
        },
        // Still connecting to the proxy when the deadline passed: the proxy did not answer.
        Err(Ended::Deadline) if trace.phase == Phase::Connect && via_proxy.is_some() => {
            Outcome::Failed {
                failure: Failure {
                    kind: FailureKind::ProxyUnreachable,
                    phase: Phase::Connect,
                    detail: format!(
                        "no TCP connection to the proxy {} within {}s",
                        via_proxy.as_ref().map_or("", |p| p.display.as_str()),
                        config.timeout.as_secs_f64()
                    ),
                },
                captured,
            }
        }
        Err(Ended::Deadline) => Outcome::Failed {
            failure: Failure {
                kind: FailureKind::Timeout,
                phase: trace.phase,
                detail: timeout_detail(trace.phase, config.timeout, &lock(&trace.peeked)),
            },
            captured,
        },
    };
    Observation {
        addresses: trace.addresses.clone(),
        address_used: trace.address_used,
        answered_by: trace.answered_by,
        sni,
        outcome,
        elapsed: started.elapsed(),
        target,
        proxy: via_proxy.map(|p| p.display.clone()),
        route: trace.route.clone(),
        revocation: Vec::new(),
        timings: trace.timings(Instant::now()),
    }
}

/// Why a probe ended before its attempt did.
enum Ended {
    /// The target's `--timeout` passed.
    Deadline,
    /// The run was stopped.
    Stopped(StopReason),
}

/// What an interrupted probe had seen, in words: the addresses, the one it connected to, and
/// how far the exchange got. A user who pressed Ctrl-C sees where each target was waiting.
fn interrupted_detail(trace: &Trace, kind: &ProbeKind, peek: &Peek) -> String {
    let addresses = || {
        trace
            .addresses
            .iter()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let connected = trace
        .address_used
        .map_or_else(String::new, |a| format!(" after connecting to {a}"));
    match trace.phase {
        Phase::Resolve => "interrupted while resolving the name".to_owned(),
        Phase::Connect => format!("interrupted while connecting (resolved to {})", addresses()),
        Phase::Proxy => {
            format!("interrupted{connected}, waiting for the proxy's answer to CONNECT")
        }
        Phase::Handshake => {
            let sent = match kind {
                ProbeKind::Tls => "ClientHello sent",
                _ => "request sent",
            };
            let received = match peek.total {
                0 => "nothing received yet".to_owned(),
                n => format!("{n} bytes received"),
            };
            format!("interrupted{connected}; {sent}, {received}")
        }
    }
}

fn timeout_detail(phase: Phase, timeout: Duration, peek: &Peek) -> String {
    let secs = timeout.as_secs_f64();
    match phase {
        // Reported as a DNS failure by `probe_one`; kept for completeness.
        Phase::Resolve => format!("name resolution did not finish within {secs}s"),
        Phase::Connect => format!("no TCP connection within {secs}s"),
        Phase::Proxy => format!("the proxy did not answer the CONNECT within {secs}s"),
        Phase::Handshake if peek.total == 0 => {
            format!("connected, but the server sent nothing within {secs}s")
        }
        Phase::Handshake => format!(
            "handshake did not finish within {secs}s ({} bytes received)",
            peek.total
        ),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Poisoning only records that a holder panicked; the probe state stays usable for reporting.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Asks the PAC (when there is one and the target is TLS) for the target's path and tries its
/// entries in order, moving to the next when a proxy cannot be reached, as browsers do; without a
/// PAC, one attempt through `via_proxy` (or direct).
async fn follow_route(
    target: &Target,
    kind: &ProbeKind,
    via_proxy: Option<Arc<proxy::ProxySettings>>,
    config: &ProbeConfig,
    trace: Arc<Mutex<Trace>>,
) -> Result<Outcome, Failure> {
    let pac = match (&config.pac, kind) {
        (Some(pac), ProbeKind::Tls | ProbeKind::Http) => Arc::clone(pac),
        _ => return attempt(target, kind, via_proxy.as_deref(), config, trace).await,
    };
    {
        // Named even if the evaluation never ends: the report says which PAC was being asked.
        let mut t = lock(&trace);
        t.evaluating_pac = true;
        t.route = Some(crate::model::observation::RouteTaken {
            pac: pac.shown.clone(),
            answer: String::new(),
            chosen: None,
            failed: Vec::new(),
        });
    }
    let answer = pac_route::evaluate(&pac, target, config).await;
    let mut route = crate::model::observation::RouteTaken {
        pac: pac.shown.clone(),
        // Entries may carry credentials (`PROXY user:pw@host:port`): each is shown redacted.
        answer: answer.as_ref().map_or_else(
            |_| String::new(),
            |a| {
                a.split(';')
                    .map(|entry| match entry.trim().split_once(char::is_whitespace) {
                        Some((kind, address)) => {
                            format!("{kind} {}", proxy::redact(address.trim()))
                        }
                        None => entry.trim().to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        ),
        chosen: None,
        failed: Vec::new(),
    };
    {
        let mut t = lock(&trace);
        t.evaluating_pac = false;
        t.route = Some(route.clone());
    }
    let answer = answer?;
    let hops = pac_route::hops(&answer);
    let count = hops.len();
    let mut last = None;
    for (i, hop) in hops.into_iter().enumerate() {
        let proxy = match hop.proxy {
            Ok(Some(p)) if *kind == ProbeKind::Http && p.scheme != proxy::ProxyScheme::Http => {
                route.failed.push(RouteFailure {
                    entry: hop.entry,
                    detail: "port-80 probes go through HTTP proxies only".into(),
                });
                lock(&trace).route = Some(route.clone());
                continue;
            }
            Ok(p) => p,
            Err(why) => {
                route.failed.push(RouteFailure {
                    entry: hop.entry,
                    detail: why,
                });
                lock(&trace).route = Some(route.clone());
                continue;
            }
        };
        {
            let mut t = lock(&trace);
            t.proxy = proxy.clone();
            t.phase = Phase::Resolve;
            t.addresses.clear();
            t.address_used = None;
            route.chosen = Some(hop.entry.clone());
            t.route = Some(route.clone());
        }
        match attempt(target, kind, proxy.as_deref(), config, Arc::clone(&trace)).await {
            Err(f) if f.kind == FailureKind::ProxyUnreachable && i + 1 < count => {
                route.chosen = None;
                route.failed.push(RouteFailure {
                    entry: hop.entry,
                    detail: f.detail.clone(),
                });
                lock(&trace).route = Some(route.clone());
                last = Some(f);
            }
            result => return result,
        }
    }
    lock(&trace).route = Some(route.clone());
    Err(last.unwrap_or_else(|| Failure {
        kind: FailureKind::Proxy(None),
        phase: Phase::Proxy,
        detail: format!("the PAC's answer '{answer}' has no entry pinscope could use"),
    }))
}

async fn attempt(
    target: &Target,
    kind: &ProbeKind,
    via_proxy: Option<&proxy::ProxySettings>,
    config: &ProbeConfig,
    trace: Arc<Mutex<Trace>>,
) -> Result<Outcome, Failure> {
    let deadline = tokio::time::Instant::now() + config.timeout;
    // Through a proxy, this machine resolves and connects to the proxy only; the proxy resolves
    // the target (so `--resolve` can still pin the proxy's own address).
    let (host, port) = match via_proxy {
        Some(p) => (p.host.as_str(), p.port),
        None => (target.host.as_str(), target.port),
    };
    // Who answers for the target's own name (not for a proxy's, nor a literal address).
    let answered_by = match (via_proxy, host.parse::<IpAddr>()) {
        (None, Err(_)) => config.resolver.answered_by(host, port),
        _ => None,
    };
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => config
            .resolver
            .resolve(host, port)
            .await
            .map_err(|e| match via_proxy {
                Some(p) => Failure {
                    kind: FailureKind::ProxyUnreachable,
                    phase: Phase::Resolve,
                    detail: format!("the proxy {}: its name: {e}", p.display),
                },
                None => Failure {
                    kind: FailureKind::Dns(e.problem()),
                    phase: Phase::Resolve,
                    detail: e.to_string(),
                },
            })?,
    };
    {
        let mut t = lock(&trace);
        t.addresses = addrs.iter().map(SocketAddr::ip).collect();
        t.answered_by = answered_by;
        t.enter(if kind.is_udp() {
            Phase::Handshake
        } else {
            Phase::Connect
        });
    }

    match kind {
        ProbeKind::Ntp | ProbeKind::Quic => {
            let (used, answer) = if *kind == ProbeKind::Ntp {
                services::ntp(&addrs, deadline).await?
            } else {
                services::quic(&addrs, &target.host, deadline).await?
            };
            lock(&trace).address_used = Some(used);
            return Ok(Outcome::Service(answer));
        }
        ProbeKind::Skip(reason) => return Ok(Outcome::Skipped(reason.clone())),
        ProbeKind::Tls | ProbeKind::Http | ProbeKind::Ssh => {}
    }

    let mut stream = connect_any(&addrs, deadline)
        .await
        .map_err(|f| match via_proxy {
            // The device would not get past the proxy either, but the fault is the proxy's (or
            // the route to it), not the target's: name it.
            Some(p) => Failure {
                kind: FailureKind::ProxyUnreachable,
                phase: f.phase,
                detail: format!("could not connect to the proxy {}: {}", p.display, f.detail),
            },
            None => f,
        })?;
    let (captured_slot, peek_slot) = {
        let mut t = lock(&trace);
        t.address_used = stream.peer_addr().ok();
        if let Ok(local) = stream.local_addr() {
            lock(&config.local).insert(local.ip());
        }
        t.enter(if via_proxy.is_some() {
            Phase::Proxy
        } else {
            Phase::Handshake
        });
        (Arc::clone(&t.captured), Arc::clone(&t.peeked))
    };
    match kind {
        ProbeKind::Http => {
            let through = via_proxy.map(proxy::ProxySettings::authorization);
            return services::http(stream, &target.host, target.port, through)
                .await
                .map(Outcome::Service);
        }
        ProbeKind::Ssh => return services::ssh(stream).await.map(Outcome::Service),
        _ => {}
    }
    if let Some(p) = via_proxy.filter(|p| p.scheme == proxy::ProxyScheme::Https) {
        let tls = proxy::tls_to_proxy(stream, p, Arc::clone(&config.proxy_tls)).await?;
        let tunnel = proxy::tunnel(tls, p, &target.host, target.port).await?;
        lock(&trace).enter(Phase::Handshake);
        return tls::handshake(tunnel, &target.host, config, captured_slot, peek_slot, true).await;
    }
    if let Some(p) = via_proxy {
        stream = match p.scheme {
            proxy::ProxyScheme::Https => stream,
            proxy::ProxyScheme::Http => proxy::tunnel(stream, p, &target.host, target.port).await?,
            proxy::ProxyScheme::Socks5 { proxy_resolves } => {
                // socks5:// resolves here (the run's resolver, so --resolve applies), socks5h://
                // lets the proxy resolve.
                let host = if proxy_resolves || target.host.parse::<IpAddr>().is_ok() {
                    target.host.clone()
                } else {
                    let addrs = config
                        .resolver
                        .resolve(&target.host, target.port)
                        .await
                        .map_err(|e| Failure {
                            kind: FailureKind::Dns(e.problem()),
                            phase: Phase::Resolve,
                            detail: e.to_string(),
                        })?;
                    let first = addrs.first().ok_or_else(|| Failure {
                        kind: FailureKind::Dns(DnsProblem::NoAddresses),
                        phase: Phase::Resolve,
                        detail: format!("{}: no addresses", target.host),
                    })?;
                    lock(&trace).addresses = addrs.iter().map(SocketAddr::ip).collect();
                    first.ip().to_string()
                };
                proxy::socks5(stream, p, &host, target.port).await?
            }
        };
        lock(&trace).enter(Phase::Handshake);
    }

    tls::handshake(
        stream,
        &target.host,
        config,
        captured_slot,
        peek_slot,
        via_proxy.is_some(),
    )
    .await
}

/// Tries each address in turn; each attempt gets an equal share of the time left, so one
/// black-holed address cannot use up the whole deadline before the others are tried.
async fn connect_any(
    addrs: &[SocketAddr],
    deadline: tokio::time::Instant,
) -> Result<TcpStream, Failure> {
    let mut last = None;
    for (i, addr) in addrs.iter().enumerate() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let share = left / u32::try_from(addrs.len() - i).unwrap_or(u32::MAX);
        match tokio::time::timeout(share, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = Some(classify_connect_error(*addr, &e)),
            Err(_) => {
                last = Some(Failure {
                    kind: FailureKind::Timeout,
                    phase: Phase::Connect,
                    detail: format!("{addr}: no answer to the connection attempt"),
                })
            }
        }
    }
    Err(last.unwrap_or(Failure {
        kind: FailureKind::Dns(DnsProblem::NoAddresses),
        phase: Phase::Resolve,
        detail: "no addresses to connect to".into(),
    }))
}

fn classify_connect_error(addr: SocketAddr, e: &io::Error) -> Failure {
    use io::ErrorKind as K;
    let kind = match e.kind() {
        K::ConnectionRefused => FailureKind::Refused,
        K::ConnectionReset | K::ConnectionAborted => FailureKind::Reset,
        K::TimedOut => FailureKind::Timeout,
        K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => {
            FailureKind::Unreachable
        }
        _ => FailureKind::Io,
    };
    Failure {
        kind,
        phase: Phase::Connect,
        detail: format!("{addr}: {e}"),
    }
}

fn describe_bytes(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing".into();
    }
    let printable = bytes
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n' || (0x20..0x7f).contains(&b))
        .count();
    if printable * 2 >= bytes.len() {
        let text = String::from_utf8_lossy(&bytes[..printable]);
        let line = text.lines().next().unwrap_or_default();
        format!("'{line}'")
    } else {
        let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("bytes {}", hex.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_described() {
        assert_eq!(
            describe_bytes(b"HTTP/1.1 400 Bad Request\r\nServer: x\r\n"),
            "'HTTP/1.1 400 Bad Request'"
        );
        assert_eq!(describe_bytes(&[0, 1, 2, 255]), "bytes 00 01 02 ff");
        assert_eq!(describe_bytes(&[]), "nothing");
    }

    /// A resolver that never answers and says it gives up only after a minute: the per-target
    /// deadline comes first.
    #[derive(Debug)]
    struct Silent;

    impl Resolve for Silent {
        fn resolve<'a>(&'a self, _host: &'a str, _port: u16) -> resolve::ResolveFuture<'a> {
            Box::pin(std::future::pending())
        }

        fn gives_up_after(&self) -> Option<Duration> {
            Some(Duration::from_secs(60))
        }
    }

    #[tokio::test]
    async fn a_deadline_while_resolving_is_a_dns_failure_not_a_timeout() {
        let config = ProbeConfig::new(Duration::from_millis(300), 4, Arc::new(Silent));
        let target = Target {
            host: "gdmf.apple.com".into(),
            port: 443,
            transport: crate::model::row::Transport::Tcp,
            row: None,
        };
        let obs = probe_one(target, &config).await;
        let Outcome::Failed { failure, .. } = obs.outcome else {
            panic!("{:?}", obs.outcome);
        };
        assert_eq!(failure.kind, FailureKind::Dns(DnsProblem::NoAnswer));
        assert_eq!(failure.phase, Phase::Resolve);
        assert_eq!(
            failure.detail,
            "gdmf.apple.com: no answer from the resolver within 0.3s"
        );
    }
}
