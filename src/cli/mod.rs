//! The edge of the program: parses arguments, resolves them into a run plan (catalog, targets, trust
//! stores, output), runs it, and maps the outcome to an exit code. This is the only module that reads
//! the clock, the environment or the machine's trust store.

mod args;
pub mod input;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use clap::Parser;
use clap::error::ErrorKind;
use rustls_pki_types::{ServerName, UnixTime};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::analysis::Verdict;
use crate::analysis::chain;
use crate::analysis::knowledge::Knowledge;
use crate::analysis::trust::{RootSet, TrustContext};
use crate::analysis::{Context, assess};
use crate::catalog::{Catalog, Filter, TenantValues, Transport};
use crate::export::{self as exemptions, ExportFormat, ResultRow};
use crate::observation::{Captured, Observation, Outcome};
use crate::probe::proxy::ProxySettings;
use crate::probe::resolve::{
    DnsServerResolver, OverrideResolver, Resolve, ResolveRule, SystemResolver,
};
use crate::probe::revocation::{self, RevocationConfig};
use crate::probe::{ProbeConfig, probe_all};
use crate::report::{Format, RunReport, TargetResult, exit, json, table};
use crate::target::{Target, parse_spec};
use args::{
    AuditArgs, CatalogArgs, Cli, Command, ExportArgs, InspectArgs, OutputArgs, Selection, TrustArgs,
};

/// The longest per-target deadline accepted; anything longer is almost certainly a typo.
const MAX_TIMEOUT_SECS: f64 = 3600.0;
/// Caps on what a revocation fetch may download and how often it may be redirected.
const REVOCATION_MAX_BYTES: usize = 10 * 1024 * 1024;
const REVOCATION_MAX_REDIRECTS: u8 = 3;

/// The proxy for TLS targets: `--proxy`, else the environment (unless `--no-proxy`).
fn proxy_settings(args: &AuditArgs) -> anyhow::Result<Option<ProxySettings>> {
    let env = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
    };
    let bypass: Vec<String> = if args.no_proxy {
        Vec::new()
    } else {
        env(&["NO_PROXY", "no_proxy"]).into_iter().collect()
    };
    let url = match (&args.proxy, args.no_proxy) {
        (Some(url), _) => Some(url.clone()),
        (None, true) => None,
        (None, false) => env(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]),
    };
    url.map(|u| ProxySettings::parse(&u, &bypass).map_err(anyhow::Error::from))
        .transpose()
}

/// Runs pinscope with the process's arguments.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    let result = match cli.command {
        Command::Audit(a) => audit(a),
        Command::Catalog(a) => catalog(a),
        Command::Inspect(a) => inspect(a),
        Command::Export(a) => export(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("pinscope: error: {e:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}

/// Help and version go to stdout with status 0; every other clap error becomes one line and exit 2.
fn clap_exit(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        _ => {
            // clap spreads some messages over several lines ("the following required arguments
            // were not provided:" then the flags); keep everything before the usage block.
            let text = e.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let message = message.join(" ");
            let message = message.trim_start_matches("error: ");
            eprintln!("pinscope: error: {message} (see pinscope --help)");
            ExitCode::from(exit::USAGE)
        }
    }
}

fn audit(args: AuditArgs) -> anyhow::Result<u8> {
    let values = tenant_values(&args.selection)?;
    let catalog = Catalog::load(args.selection.catalog.as_deref(), &values)?;
    if !(args.timeout > 0.0 && args.timeout <= MAX_TIMEOUT_SECS) {
        bail!(
            "--timeout {}: must be more than 0 and at most {MAX_TIMEOUT_SECS} seconds",
            args.timeout
        );
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    if args.concurrency == 0 {
        bail!("--concurrency 0: at least one target must be in flight");
    }
    let rules = args
        .resolve
        .iter()
        .map(|r| r.parse::<ResolveRule>())
        .collect::<Result<Vec<_>, _>>()?;
    let targets = select_targets(&args, &catalog)?;
    let knowledge = Knowledge::builtin()?;
    let trust = trust_context(&args.trust, &knowledge)?;
    let sink = Sink::open(args.output.output.as_deref())?;

    let base: Arc<dyn Resolve> = match &args.dns_server {
        Some(server) => Arc::new(DnsServerResolver::new(server)?),
        None => Arc::new(SystemResolver),
    };
    let resolver: Arc<dyn Resolve> = Arc::new(OverrideResolver::new(rules, base));
    let mut config = ProbeConfig::new(timeout, args.concurrency, Arc::clone(&resolver));
    config.proxy = proxy_settings(&args)?.map(Arc::new);
    let started_at = now_rfc3339();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let observations = runtime.block_on(async {
        let mut observations = probe_all(targets, &config, |_| {}).await;
        if !args.no_revocation {
            let revocation = RevocationConfig {
                timeout,
                max_bytes: REVOCATION_MAX_BYTES,
                max_redirects: REVOCATION_MAX_REDIRECTS,
                resolver: Arc::clone(&resolver),
            };
            revocation::fetch_all(&mut observations, &revocation).await;
        }
        observations
    });
    // getaddrinfo cannot be cancelled: lookups that outlived their deadline still hold blocking
    // threads. Their targets are already reported, so do not wait for them.
    runtime.shutdown_background();
    let finished_at = now_rfc3339();

    let ctx = Context {
        trust: &trust,
        knowledge: &knowledge,
        now: UnixTime::now(),
        timeout,
        policy: None,
    };
    let results = observations
        .into_iter()
        .map(|observation| TargetResult {
            assessment: assess(&observation, &ctx),
            observation,
        })
        .collect();
    let report = RunReport {
        started_at,
        finished_at,
        results,
    };
    emit(&report, &args.output, sink)
}

fn catalog(args: CatalogArgs) -> anyhow::Result<u8> {
    let values = tenant_values(&args.selection)?;
    let catalog = Catalog::load(args.selection.catalog.as_deref(), &values)?;
    let filter = filter(&args.selection, &catalog)?;
    let rows: Vec<_> = catalog.rows.iter().filter(|r| filter.matches(r)).collect();
    let sink = Sink::open(args.output.output.as_deref())?;
    let knowledge = Knowledge::builtin()?;
    let text = match args.output.format {
        Format::Table => table::render_catalog(&rows),
        Format::Json => json::render_catalog(&rows, |host| {
            knowledge.pinning.lookup(host).map(|p| p.name.clone())
        }),
    };
    sink.write(&text)?;
    Ok(exit::OK)
}

fn inspect(args: InspectArgs) -> anyhow::Result<u8> {
    let mut chain = Vec::new();
    for file in &args.files {
        chain.extend(input::load_certs(file)?);
    }
    let host = args.host.trim().to_ascii_lowercase();
    if ServerName::try_from(host.as_str()).is_err() {
        bail!(
            "--host '{}': not a valid host name or IP address",
            args.host
        );
    }
    if args.port == 0 {
        bail!("--port 0: not a usable port (1-65535)");
    }
    let now = match &args.at {
        Some(at) => parse_at(at)?,
        None => UnixTime::now(),
    };
    let knowledge = Knowledge::builtin()?;
    let policy = match &args.apple_policy {
        Some(name) => Some(knowledge.pinning.by_name(name).ok_or_else(|| {
            let mut known: Vec<&str> = knowledge
                .pinning
                .policies
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            known.dedup();
            anyhow!(
                "--apple-policy '{name}': no such policy (known: {})",
                known.join(", ")
            )
        })?),
        None => None,
    };
    let trust = trust_context(&args.trust, &knowledge)?;
    let sink = Sink::open(args.output.output.as_deref())?;
    let catalog = Catalog::load(None, &TenantValues::default())?;
    let target = Target {
        row: catalog.find(&host, args.port).cloned(),
        host,
        port: args.port,
        transport: Transport::Tcp,
    };
    let observation = Observation {
        target,
        addresses: Vec::new(),
        address_used: None,
        sni: None,
        outcome: Outcome::Offline {
            captured: Captured {
                chain,
                stapled_ocsp: None,
            },
        },
        elapsed: Duration::ZERO,
        proxy: None,
        revocation: Vec::new(),
    };
    let ctx = Context {
        trust: &trust,
        knowledge: &knowledge,
        now,
        timeout: Duration::ZERO,
        policy,
    };
    let stamp = now_rfc3339();
    let report = RunReport {
        started_at: stamp.clone(),
        finished_at: stamp,
        results: vec![TargetResult {
            assessment: assess(&observation, &ctx),
            observation,
        }],
    };
    emit(&report, &args.output, sink)
}

fn export(args: ExportArgs) -> anyhow::Result<u8> {
    let proxy = match (&args.pac_proxy, args.format) {
        (Some(p), _) => {
            let (host, port) = p
                .rsplit_once(':')
                .filter(|(h, port)| !h.is_empty() && port.parse::<u16>().is_ok_and(|n| n > 0))
                .ok_or_else(|| anyhow!("--pac-proxy '{p}': expected HOST:PORT"))?;
            Some(format!("PROXY {host}:{port}"))
        }
        (None, ExportFormat::Pac) => {
            bail!(
                "--format pac needs --pac-proxy HOST:PORT: the proxy everything not exempted goes to"
            )
        }
        (None, _) => None,
    };
    let list = match &args.from {
        Some(path) => {
            let only = args
                .only
                .iter()
                .map(|v| {
                    Verdict::ALL
                        .into_iter()
                        .find(|known| known.as_str() == v)
                        .map(Verdict::as_str)
                        .ok_or_else(|| {
                            let known: Vec<&str> =
                                Verdict::ALL.iter().map(|v| v.as_str()).collect();
                            anyhow!("--only '{v}': not a verdict (known: {})", known.join(", "))
                        })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            exemptions::from_results(&read_results(path, &only)?)
        }
        None => {
            let values = tenant_values(&args.selection)?;
            let catalog = Catalog::load(args.selection.catalog.as_deref(), &values)?;
            let filter = filter(&args.selection, &catalog)?;
            exemptions::from_catalog(catalog.rows.iter().filter(|r| filter.matches(r)))
        }
    };
    let sink = Sink::open(args.output.as_deref())?;
    sink.write(&exemptions::render(&list, args.format, proxy.as_deref()))?;
    Ok(exit::OK)
}

/// Targets of an earlier audit, from its JSON document, keeping those with the given verdicts
/// (all when `only` is empty).
fn read_results(path: &Path, only: &[&str]) -> anyhow::Result<Vec<ResultRow>> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {shown}"))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| anyhow!("{shown}:{}: not JSON: {e}", e.line()))?;
    let targets = doc
        .get("targets")
        .and_then(|t| t.as_array())
        .ok_or_else(|| anyhow!("{shown}: not a pinscope report (no \"targets\" array)"))?;
    let mut rows = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let field = |name: &str| t.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let (Some(host), Some(port), Some(verdict)) = (
            field("host"),
            t.get("port")
                .and_then(|p| p.as_u64())
                .and_then(|p| u16::try_from(p).ok()),
            field("verdict"),
        ) else {
            bail!("{shown}: target {} lacks host, port or verdict", i + 1);
        };
        if !only.is_empty() && !only.contains(&verdict.as_str()) {
            continue;
        }
        rows.push(ResultRow {
            host,
            port,
            section: field("section"),
            pattern: field("pattern"),
            reason: field("explanation").unwrap_or_default(),
        });
    }
    Ok(rows)
}

fn parse_at(at: &str) -> anyhow::Result<UnixTime> {
    let t = OffsetDateTime::parse(at, &Rfc3339).map_err(|e| {
        anyhow!("--at '{at}': not an RFC 3339 time such as 2024-11-01T12:00:00Z ({e})")
    })?;
    let secs = u64::try_from(t.unix_timestamp())
        .map_err(|_| anyhow!("--at '{at}': times before 1970 are not supported"))?;
    Ok(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
}

/// Checks the Kandji values: they become DNS labels, so they must be valid ones.
fn tenant_values(sel: &Selection) -> anyhow::Result<TenantValues> {
    for (flag, value) in [
        ("--kandji-tenant", &sel.kandji_tenant),
        ("--kandji-subdomain", &sel.kandji_subdomain),
    ] {
        if let Some(v) = value {
            let ok = !v.is_empty()
                && v.len() <= 63
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !v.starts_with('-')
                && !v.ends_with('-');
            if !ok {
                bail!(
                    "{flag} '{v}': must be a single DNS label (letters, digits and inner hyphens)"
                );
            }
        }
    }
    Ok(TenantValues {
        tenant: sel.kandji_tenant.as_ref().map(|t| t.to_ascii_lowercase()),
        subdomain: sel
            .kandji_subdomain
            .as_ref()
            .map(|s| s.to_ascii_lowercase()),
        region: sel.region,
    })
}

fn filter(sel: &Selection, catalog: &Catalog) -> anyhow::Result<Filter> {
    if let Some(bad) = sel.section.iter().find(|s| !catalog.has_section(s)) {
        let known: Vec<&str> = catalog.sections.iter().map(|s| s.id.as_str()).collect();
        bail!(
            "--section '{bad}': no such section (known: {})",
            known.join(", ")
        );
    }
    Ok(Filter {
        sections: sel.section.clone(),
        hosts: sel.hosts.clone(),
    })
}

/// Explicit targets (arguments and `--targets`) or the filtered catalog.
fn select_targets(args: &AuditArgs, catalog: &Catalog) -> anyhow::Result<Vec<Target>> {
    let mut specs = Vec::new();
    for t in &args.targets {
        specs.push(parse_spec(t).map_err(|e| anyhow!("target {e}"))?);
    }
    if let Some(path) = &args.targets_file {
        specs.extend(input::read_targets_file(path)?);
    }
    let explicit = !args.targets.is_empty() || args.targets_file.is_some();
    if explicit {
        if !args.selection.section.is_empty() || !args.selection.hosts.is_empty() {
            bail!(
                "--section and --host filter the catalog; they cannot be combined with explicit targets"
            );
        }
        if specs.is_empty() {
            bail!("no targets: the targets file has no host[:port] lines");
        }
        let mut seen = std::collections::HashSet::new();
        return Ok(specs
            .into_iter()
            .filter(|s| seen.insert(s.clone()))
            .map(|(host, port)| Target {
                row: catalog.find(&host, port).cloned(),
                host,
                port,
                transport: Transport::Tcp,
            })
            .collect());
    }
    let filter = filter(&args.selection, catalog)?;
    let targets: Vec<Target> = catalog
        .rows
        .iter()
        .filter(|r| filter.matches(r))
        .map(Target::from_row)
        .collect();
    if targets.is_empty() {
        bail!("no catalog rows match the given --section/--host filters");
    }
    Ok(targets)
}

fn trust_context(args: &TrustArgs, knowledge: &Knowledge) -> anyhow::Result<TrustContext> {
    let public = if args.public_roots.is_empty() {
        RootSet::webpki_roots()
    } else {
        roots_from_files(&args.public_roots, "public roots")?.0
    };
    let (native, native_certs) = if !args.native_roots.is_empty() {
        roots_from_files(&args.native_roots, "native store")?
    } else {
        // rustls-native-certs honours SSL_CERT_FILE and SSL_CERT_DIR. Unreadable entries in a
        // system store are the system's business: use what loads.
        let loaded = rustls_native_certs::load_native_certs();
        let (set, _rejected) = RootSet::from_certs("native store", &loaded.certs);
        (set, loaded.certs)
    };
    // An Apple device trusts the public roots and Apple's own; take Apple's roots (and the other
    // roots Apple trusts) from wherever this machine has them, never the rest of the native store,
    // which may hold an inspection CA.
    let mut apple: Vec<_> = native_certs
        .into_iter()
        .filter(|c| {
            let spki = chain::facts(c).summary.spki_sha256;
            knowledge.cas.is_apple_root(&spki) || knowledge.cas.is_trusted_key(&spki)
        })
        .collect();
    if !args.apple_roots.is_empty() {
        apple.extend(roots_from_files(&args.apple_roots, "Apple roots")?.1);
    }
    let device = public.extended("public and Apple roots", &apple);
    Ok(TrustContext {
        public,
        native,
        device,
    })
}

/// Trust anchors from files; a certificate that cannot be an anchor is an input error naming it.
fn roots_from_files(
    paths: &[PathBuf],
    role: &str,
) -> anyhow::Result<(RootSet, Vec<rustls_pki_types::CertificateDer<'static>>)> {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut set = RootSet::empty(&format!("{role} ({})", shown.join(", ")));
    let mut all = Vec::new();
    for path in paths {
        let certs = input::load_certs(path)?;
        if let Some(r) = set.add(&certs).first() {
            bail!(
                "{}: certificate {} cannot be a trust anchor: {}",
                path.display(),
                r.index + 1,
                r.reason
            );
        }
        all.extend(certs);
    }
    Ok((set, all))
}

fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    now.format(&Rfc3339).unwrap_or_else(|_| now.to_string())
}

/// Writes the report and returns the exit code its verdicts imply.
fn emit(report: &RunReport, output: &OutputArgs, sink: Sink) -> anyhow::Result<u8> {
    let color = output.format == Format::Table && sink.is_terminal() && color_allowed();
    let text = report.render(output.format, color);
    let code = report.summary().exit_code;
    if let Err(e) = sink.write(&text) {
        // The results exist; do not lose them because the file could not be written.
        eprintln!("pinscope: error: {e:#}; writing the results to standard output instead");
        write_stdout(&text);
        return Ok(exit::USAGE);
    }
    Ok(code)
}

fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Where output goes. A file is written through a temporary file in the same directory, created
/// before any probing so an unwritable destination fails fast, and renamed into place at the end so
/// a crash never leaves half a report.
struct Sink {
    file: Option<(PathBuf, tempfile::NamedTempFile)>,
}

impl Sink {
    fn open(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self { file: None });
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            bail!(
                "cannot write --output {}: the directory {} does not exist",
                path.display(),
                dir.display()
            );
        }
        // The temporary file's own name means nothing to the user; report the destination.
        let temp = tempfile::Builder::new()
            .prefix(".pinscope-")
            .tempfile_in(&dir)
            .map_err(|e| {
                anyhow!(
                    "cannot write --output {}: {}",
                    path.display(),
                    std::io::Error::from(e.kind())
                )
            })?;
        Ok(Self {
            file: Some((path.to_path_buf(), temp)),
        })
    }

    fn is_terminal(&self) -> bool {
        self.file.is_none() && std::io::stdout().is_terminal()
    }

    fn write(self, text: &str) -> anyhow::Result<()> {
        match self.file {
            None => {
                write_stdout(text);
                Ok(())
            }
            Some((path, mut temp)) => {
                temp.write_all(text.as_bytes())
                    .and_then(|()| temp.flush())
                    .with_context(|| format!("cannot write --output {}", path.display()))?;
                temp.persist(&path).map_err(|e| {
                    anyhow!("cannot write --output {}: {}", path.display(), e.error)
                })?;
                Ok(())
            }
        }
    }
}

/// Writes to stdout; a closed pipe (`pinscope … | head`) is not an error worth reporting.
fn write_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
