//! `pinscope serve`: a Prometheus exporter. It audits one site on a schedule (one audit at a time,
//! through the same plan and pipeline as `pinscope audit`: [`crate::run::audit_with`]), keeps the
//! last complete report, and serves it over HTTP: `/metrics`, `/probe?target=HOST:PORT` (one
//! allowed target audited on demand, the blackbox_exporter pattern), `/results.json`, `/` (the
//! HTML report), `/-/healthy` and `/-/ready`. SIGHUP re-reads the config through the command
//! line's [`Loader`]; SIGTERM and SIGINT abandon any audit in flight and return.
//!
//! The plans are built by the command line (flags and the config file are its business); this
//! layer only runs them and answers requests.

pub mod allow;
pub mod config;
mod limit;
pub mod web;

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::analysis::Verdict;
use crate::catalog::{Catalog, Transport};
use crate::model::observation::StopReason;
use crate::model::target::{Target, parse_spec};
use crate::probe::Stop;
use crate::report::prometheus::{self, Health, Site};
use crate::report::{RunReport, html, json};
use crate::run::plan::AuditPlan;
use crate::run::{AtTheEnd, Control};
use allow::Allow;
use limit::Bucket;
use web::WebConfig;

/// Everything one configuration of the site gives: built at start and again on each SIGHUP.
#[derive(Debug)]
pub struct Loaded {
    pub site: Site,
    /// Time from the end of one audit to the start of the next.
    pub interval: Duration,
    /// Up to this much added to or taken from each interval.
    pub jitter: Duration,
    /// What `/probe` may audit.
    pub allow: Allow,
    /// The catalog the site uses (for `"catalog"` in the allow-list, and the rows of on-demand
    /// targets).
    pub catalog: Catalog,
    /// The scheduled audit.
    pub plan: AuditPlan,
}

/// Builds a [`Loaded`] from the command line and the config file, as they are now.
pub trait Loader: Send + Sync {
    /// The configuration, or a one-line reason it cannot be used.
    fn load(&self) -> Result<Loaded, String>;
}

/// Where and how to listen.
#[derive(Debug)]
pub struct Options {
    pub listen: SocketAddr,
    pub web: WebConfig,
}

/// Why the exporter could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("--listen {addr}: cannot listen: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot watch for signals: {0}")]
    Signals(#[source] std::io::Error),
}

/// `/metrics` and `/probe`: Prometheus' text exposition format.
const METRICS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Requests of any kind: a steady 20 a second, bursts of 60.
const REQUESTS_PER_SEC: f64 = 20.0;
const REQUESTS_BURST: f64 = 60.0;
/// On-demand probes reach other hosts: one a second, bursts of 10.
const PROBES_PER_SEC: f64 = 1.0;
const PROBES_BURST: f64 = 10.0;
/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 64;
/// A client has this long to finish its TLS handshake and send its request's head.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves until SIGTERM or SIGINT. `first` is the configuration already loaded (so errors in it
/// were reported before listening); `loader` loads it again on SIGHUP.
pub fn serve(options: Options, loader: Box<dyn Loader>, first: Loaded) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let (shutdown, _) = tokio::sync::watch::channel(false);
    let state = Arc::new(State {
        health: Mutex::new(Health {
            started_at_seconds: unix_now(),
            interval_seconds: first.interval.as_secs_f64(),
            config_last_reload_success: true,
            ..Health::default()
        }),
        loaded: RwLock::new(Arc::new(first)),
        last: RwLock::new(None),
        stops: Mutex::new(HashMap::new()),
        next_stop: AtomicU64::new(0),
        probing: Mutex::new(HashSet::new()),
        requests: Bucket::new(REQUESTS_PER_SEC, REQUESTS_BURST),
        probes: Bucket::new(PROBES_PER_SEC, PROBES_BURST),
        web: options.web,
        shutdown,
        loader,
    });
    let result = runtime.block_on(listen(Arc::clone(&state), options.listen));
    // Audits in flight run on their own threads and were told to stop; connections still open
    // are dropped with the runtime.
    runtime.shutdown_timeout(Duration::from_millis(500));
    result
}

/// The exporter's shared state.
struct State {
    loaded: RwLock<Arc<Loaded>>,
    /// The last complete scheduled audit.
    last: RwLock<Option<Arc<RunReport>>>,
    health: Mutex<Health>,
    /// The stops of the audits in flight (scheduled and on demand), triggered at shutdown.
    stops: Mutex<HashMap<u64, Stop>>,
    next_stop: AtomicU64,
    /// On-demand targets being probed: at most one probe of each at a time.
    probing: Mutex<HashSet<(String, u16)>>,
    requests: Bucket,
    probes: Bucket,
    web: WebConfig,
    shutdown: tokio::sync::watch::Sender<bool>,
    loader: Box<dyn Loader>,
}

/// Why an audit gave no report.
enum AuditFailure {
    /// It panicked (counted; the exporter goes on).
    Panicked,
    /// It could not run.
    Failed(String),
}

/// A lock whose holder panicked still holds plain data that is whole: each update is one
/// assignment or one increment.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    fn loaded(&self) -> Arc<Loaded> {
        Arc::clone(&self.loaded.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn last(&self) -> Option<Arc<RunReport>> {
        self.last
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn health(&self, update: impl FnOnce(&mut Health)) {
        update(&mut lock(&self.health));
    }

    fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Runs one audit of `loaded`'s plan (of `targets` instead of the plan's, when given) on a
    /// thread of its own: `run` builds its own runtime, and a panic there is caught and counted
    /// rather than taking the exporter down.
    async fn audit(
        self: &Arc<Self>,
        loaded: Arc<Loaded>,
        targets: Option<Vec<Target>>,
    ) -> Result<RunReport, AuditFailure> {
        let stop = Stop::default();
        let id = self.next_stop.fetch_add(1, Ordering::Relaxed);
        lock(&self.stops).insert(id, stop.clone());
        // Dropped when the audit ends, or when whoever waits for it goes away (a client that
        // hung up on /probe): the audit is abandoned rather than left running unobserved.
        let _registered = Registered {
            state: self,
            id,
            stop: stop.clone(),
        };
        if self.shutting_down() {
            stop.trigger(StopReason::Interrupted);
        }
        let outcome = on_own_thread(move || {
            let control = Control {
                targets: targets.as_deref(),
                stop: Some(stop),
            };
            crate::run::audit_with(&loaded.plan, &control, &mut AtTheEnd)
        })
        .map_err(|e| AuditFailure::Failed(format!("cannot start a thread: {e}")))?
        .await;
        match outcome {
            Ok(Ok(Ok(report))) => Ok(report),
            Ok(Ok(Err(e))) => Err(AuditFailure::Failed(e.to_string())),
            // The thread panicked (and the sender went with it, or sent the panic).
            Ok(Err(_)) | Err(_) => {
                self.health(|h| h.audit_panics_total += 1);
                Err(AuditFailure::Panicked)
            }
        }
    }

    /// Stops everything: no audit starts, those in flight are abandoned.
    fn shut_down(&self) {
        self.shutdown.send_replace(true);
        for stop in lock(&self.stops).values() {
            stop.trigger(StopReason::Interrupted);
        }
    }
}

/// An audit's stop, registered so that shutdown can trigger it; unregistered (and triggered, which
/// does nothing to a finished audit) when dropped.
struct Registered<'a> {
    state: &'a State,
    id: u64,
    stop: Stop,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        lock(&self.state.stops).remove(&self.id);
        self.stop.trigger(StopReason::Interrupted);
    }
}

/// Runs `work` on a thread of its own (it may build and block on its own runtime, which an async
/// thread must not) and hands back what it returned, or its panic, caught.
fn on_own_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<tokio::sync::oneshot::Receiver<std::thread::Result<T>>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("pinscope-audit".into())
        .spawn(move || {
            let _ = tx.send(std::panic::catch_unwind(AssertUnwindSafe(work)));
        })?;
    Ok(rx)
}

async fn listen(state: Arc<State>, addr: SocketAddr) -> Result<(), ServeError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).map_err(ServeError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ServeError::Signals)?;
    let hangup = signal(SignalKind::hangup()).map_err(ServeError::Signals)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let shown = listener.local_addr().unwrap_or(addr);
    let scheme = if state.web.tls.is_some() {
        "https"
    } else {
        "http"
    };
    eprintln!(
        "pinscope serve: listening on {scheme}://{shown} (site {})",
        crate::report::text::line(&state.loaded().site.name)
    );
    if !shown.ip().is_loopback() && state.web.auth.is_none() {
        eprintln!(
            "pinscope serve: note: {shown} is reachable beyond this machine and asks for no \
             password: set basic_auth_users (and tls_server_config) in --web.config.file"
        );
    }
    tokio::spawn(schedule(Arc::clone(&state)));
    tokio::spawn(reloads(Arc::clone(&state), hangup));
    let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        tokio::select! {
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            accepted = listener.accept() => {
                // A failed accept (a client gone, out of file descriptors) ends no one else's.
                let Ok((tcp, _)) = accepted else { continue };
                let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
                    continue;
                };
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    connection(state, tcp).await;
                    drop(permit);
                });
            }
        }
    }
    drop(listener);
    state.shut_down();
    Ok(())
}

/// The scheduled audits: one at a time, then the interval (± jitter), until shutdown.
async fn schedule(state: Arc<State>) {
    let mut shutdown = state.shutdown.subscribe();
    while !state.shutting_down() {
        let loaded = state.loaded();
        state.health(|h| {
            h.audit_in_progress = true;
            h.interval_seconds = loaded.interval.as_secs_f64();
        });
        let started = Instant::now();
        let outcome = state.audit(Arc::clone(&loaded), None).await;
        if state.shutting_down() {
            return;
        }
        let success = match outcome {
            Ok(report) if report.stopped.is_none() => {
                let intercepted = report
                    .results
                    .iter()
                    .filter(|r| r.assessment.verdict == Verdict::Intercepted)
                    .count();
                eprintln!(
                    "pinscope serve: audit done: {} targets, {intercepted} intercepted, took {:.1} s",
                    report.results.len(),
                    started.elapsed().as_secs_f64()
                );
                *state.last.write().unwrap_or_else(PoisonError::into_inner) =
                    Some(Arc::new(report));
                true
            }
            Ok(report) => {
                let why = match report.stopped {
                    Some(StopReason::Deadline) => "its deadline passed",
                    _ => "interrupted",
                };
                eprintln!(
                    "pinscope serve: audit stopped ({why}) after {:.1} s: the previous results are kept",
                    started.elapsed().as_secs_f64()
                );
                false
            }
            Err(AuditFailure::Panicked) => {
                eprintln!("pinscope serve: audit panicked: the previous results are kept");
                false
            }
            Err(AuditFailure::Failed(why)) => {
                eprintln!("pinscope serve: audit failed: {why}");
                false
            }
        };
        state.health(|h| {
            h.audits_total += 1;
            h.audit_in_progress = false;
            h.last_audit_success = success;
        });
        let wait = jittered(loaded.interval, loaded.jitter);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// SIGHUP: re-read the config; on error keep the one in use.
async fn reloads(state: Arc<State>, mut hangup: tokio::signal::unix::Signal) {
    while hangup.recv().await.is_some() {
        let loading = Arc::clone(&state);
        let loaded = tokio::task::spawn_blocking(move || loading.loader.load()).await;
        let loaded = match loaded {
            Ok(result) => result,
            Err(_) => Err("loading the config panicked".to_owned()),
        };
        match loaded {
            Ok(loaded) => {
                let interval = loaded.interval.as_secs_f64();
                *state.loaded.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(loaded);
                state.health(|h| {
                    h.config_reloads_total += 1;
                    h.config_last_reload_success = true;
                    h.interval_seconds = interval;
                });
                eprintln!("pinscope serve: config reloaded: the next audit uses it");
            }
            Err(why) => {
                state.health(|h| {
                    h.config_reloads_total += 1;
                    h.config_reload_failures_total += 1;
                    h.config_last_reload_success = false;
                });
                eprintln!(
                    "pinscope serve: config reload failed, keeping the previous config: {}",
                    crate::report::text::line(&why)
                );
            }
        }
    }
}

/// `interval` moved by up to `jitter` either way, never under one second.
fn jittered(interval: Duration, jitter: Duration) -> Duration {
    if jitter.is_zero() {
        return interval;
    }
    use std::hash::BuildHasher as _;
    // RandomState is seeded randomly per process and per instance: enough to spread exporters
    // that started together, with no random-number crate.
    let bits = std::collections::hash_map::RandomState::new().hash_one(SystemTime::now());
    #[allow(clippy::cast_precision_loss)]
    let unit = (bits as f64 / u64::MAX as f64).mul_add(2.0, -1.0);
    let secs = jitter.as_secs_f64().mul_add(unit, interval.as_secs_f64());
    Duration::from_secs_f64(secs.max(1.0))
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One client connection: TLS when configured, then HTTP/1.1.
async fn connection(state: Arc<State>, tcp: tokio::net::TcpStream) {
    let tls = state.web.tls.clone();
    let service_state = Arc::clone(&state);
    let service = hyper::service::service_fn(move |req| {
        let state = Arc::clone(&service_state);
        async move { Ok::<_, Infallible>(respond(&state, req).await) }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(CLIENT_TIMEOUT);
    // A connection that fails (a client gone, a bad handshake, a malformed request) is the
    // client's business: nothing to report.
    match tls {
        Some(config) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            if let Ok(Ok(stream)) = tokio::time::timeout(CLIENT_TIMEOUT, acceptor.accept(tcp)).await
            {
                let _ = http.serve_connection(TokioIo::new(stream), service).await;
            }
        }
        None => {
            let _ = http.serve_connection(TokioIo::new(tcp), service).await;
        }
    }
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A plain one-line answer (errors, health).
fn plain(status: StatusCode, message: impl Into<String>) -> Response<Full<Bytes>> {
    let mut line = message.into();
    line.push('\n');
    text(status, "text/plain; charset=utf-8", line)
}

async fn respond(state: &Arc<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let gzip = accepts_gzip(req.headers());
    let response = route(state, req).await;
    if gzip {
        compressed(response).await
    } else {
        response
    }
}

/// Whether the client takes gzip (Prometheus asks for it on every scrape): `gzip` listed in
/// Accept-Encoding without `q=0`.
fn accepts_gzip(headers: &hyper::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

/// A successful answer of more than a kilobyte, gzipped: a catalog-sized `/metrics` page is about
/// 1 MB as text and about 40 kB compressed, which is what fifty sites' scrapes cost.
async fn compressed(response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    use http_body_util::BodyExt as _;
    use std::io::Write as _;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // A Full body holds its bytes already: collecting it cannot fail or wait.
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    if bytes.len() < 1024 {
        return Response::from_parts(parts, Full::new(bytes));
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let gzipped = encoder.write_all(&bytes).and_then(|()| encoder.finish());
    match gzipped {
        Ok(gz) => {
            parts
                .headers
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            parts
                .headers
                .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Full::new(Bytes::from(gz)))
        }
        // Writing into memory does not fail; if it ever did, the plain answer is still right.
        Err(_) => Response::from_parts(parts, Full::new(bytes)),
    }
}

async fn route(state: &Arc<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    // Before authentication: bcrypt is slow, and guessing passwords should be too. A client
    // whose credentials were already verified is not held back by strangers' requests.
    let known = state.web.auth.as_ref().is_some_and(|auth| {
        auth.known(
            req.headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
        )
    });
    if !known && !state.requests.take() {
        return too_many(state, "too many requests");
    }
    if let Some(auth) = &state.web.auth {
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let auth = Arc::clone(auth);
        let ok = tokio::task::spawn_blocking(move || auth.check(header.as_deref()))
            .await
            .unwrap_or(false);
        if !ok {
            let mut r = plain(StatusCode::UNAUTHORIZED, "unauthorized");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"pinscope\""),
            );
            return r;
        }
    }
    match req.uri().path() {
        "/metrics" => {
            let loaded = state.loaded();
            let last = state.last();
            let health = lock(&state.health).clone();
            text(
                StatusCode::OK,
                METRICS_TYPE,
                prometheus::metrics(&loaded.site, last.as_deref(), &health),
            )
        }
        "/probe" => probe(state, req.uri().query()).await,
        "/results.json" => match state.last() {
            Some(last) => text(StatusCode::OK, "application/json", json::render(&last)),
            None => not_ready(),
        },
        "/" => match state.last() {
            Some(last) => {
                let mut page = text(
                    StatusCode::OK,
                    "text/html; charset=utf-8",
                    html::render(&last),
                );
                // The report is one self-contained page with one style sheet: nothing else may
                // load or run, whatever a certificate's text managed to smuggle into it.
                page.headers_mut().insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
                );
                page
            }
            None => not_ready(),
        },
        "/-/healthy" => plain(StatusCode::OK, "Healthy"),
        "/-/ready" => match state.last() {
            Some(_) => plain(StatusCode::OK, "Ready"),
            None => not_ready(),
        },
        _ => plain(
            StatusCode::NOT_FOUND,
            "not found: /metrics, /probe?target=HOST:PORT, /results.json, /, /-/healthy, /-/ready",
        ),
    }
}

fn not_ready() -> Response<Full<Bytes>> {
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready: the first audit has not completed yet",
    )
}

fn too_many(state: &State, why: &str) -> Response<Full<Bytes>> {
    state.health(|h| h.rate_limited_total += 1);
    let mut r = plain(StatusCode::TOO_MANY_REQUESTS, why);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// Removes an on-demand target from those in flight when its probe ends (or is dropped).
struct InFlight<'a> {
    state: &'a State,
    key: (String, u16),
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        lock(&self.state.probing).remove(&self.key);
    }
}

/// `/probe?target=HOST:PORT`: one allowed target audited now, as the scheduled audit would.
async fn probe(state: &Arc<State>, query: Option<&str>) -> Response<Full<Bytes>> {
    state.health(|h| h.probe_requests_total += 1);
    let spec = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "target")
        .map(|(_, v)| v.into_owned());
    let Some(spec) = spec else {
        return plain(StatusCode::BAD_REQUEST, "missing ?target=HOST:PORT");
    };
    let (host, port) = match parse_spec(&spec) {
        Ok(hp) => hp,
        Err(e) => {
            return plain(
                StatusCode::BAD_REQUEST,
                crate::report::text::line(&format!("target {e}")),
            );
        }
    };
    let loaded = state.loaded();
    if !loaded
        .allow
        .permits(&host, port, &loaded.catalog, &loaded.plan.targets)
    {
        state.health(|h| h.probe_refused_total += 1);
        return plain(
            StatusCode::FORBIDDEN,
            format!(
                "target {}:{port} is not allowed: /probe audits only what [probe] allow in the config permits (default: the catalog's hosts and ports)",
                crate::report::text::line(&host)
            ),
        );
    }
    if !state.probes.take() {
        return too_many(state, "too many probes");
    }
    let key = (host.clone(), port);
    if !lock(&state.probing).insert(key.clone()) {
        return too_many(
            state,
            &format!(
                "a probe of {}:{port} is already in flight",
                crate::report::text::line(&host)
            ),
        );
    }
    let _in_flight = InFlight { state, key };
    let target = Target {
        row: loaded.catalog.find(&host, port).cloned(),
        host,
        port,
        transport: Transport::Tcp,
    };
    match state.audit(Arc::clone(&loaded), Some(vec![target])).await {
        Ok(report) => text(
            StatusCode::OK,
            METRICS_TYPE,
            prometheus::probe(&loaded.site, &report),
        ),
        Err(AuditFailure::Panicked) => {
            plain(StatusCode::INTERNAL_SERVER_ERROR, "the probe panicked")
        }
        Err(AuditFailure::Failed(why)) => plain(StatusCode::INTERNAL_SERVER_ERROR, why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_on_the_audit_thread_is_caught_and_handed_back() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let caught = runtime.block_on(async {
            on_own_thread(|| -> u8 { panic!("an audit went wrong") })
                .unwrap()
                .await
        });
        assert!(matches!(caught, Ok(Err(_))));
        let fine = runtime.block_on(async { on_own_thread(|| 7u8).unwrap().await });
        assert!(matches!(fine, Ok(Ok(7))));
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let interval = Duration::from_secs(60);
        for _ in 0..100 {
            let wait = jittered(interval, Duration::from_secs(10));
            assert!(wait >= Duration::from_secs(50) && wait <= Duration::from_secs(70));
        }
        assert_eq!(jittered(interval, Duration::ZERO), interval);
    }
}
