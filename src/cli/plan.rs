//! From flags to plans: every flag is checked here, once, and turned into what the run layer
//! needs ([`AuditPlan`], [`InspectPlan`]) or into the checked values of the smaller commands. Errors
//! name the flag and say what is wrong with it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use clap::ValueEnum;
use rustls_pki_types::UnixTime;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::args::{AuditArgs, ExportArgs, InspectArgs, OutputArgs, Selection};
use super::trust::{exact_trust, trust_context};
use crate::analysis::knowledge::Knowledge;
use crate::analysis::trust::TrustContext;
use crate::catalog::{Catalog, Filter, TenantValues, Transport};
use crate::input;
use crate::model::baseline::Baseline;
use crate::model::context::{DataUsed, ProxyUsed, RunContext};
use crate::model::target::{Target, normalise_host, parse_spec};
use crate::probe::connect_to::{ConnectTo, ConnectToResolver};
use crate::probe::pac_route::PacScript;
use crate::probe::proxy::ProxySettings;
use crate::probe::resolve::{
    DnsServerResolver, OverrideResolver, Resolve, ResolveRule, SystemResolver,
};
use crate::probe::revocation::RevocationConfig;
use crate::report::export::ExportFormat;
use crate::report::{Format, wire};
use crate::run::plan::{
    AuditPlan, InspectPlan, Judging, OutputPlan, Probing, ProgressPlan, Targets,
};

/// The longest per-target deadline accepted; anything longer is almost certainly a typo.
const MAX_TIMEOUT_SECS: f64 = 3600.0;
/// The longest `--deadline` accepted (a week); anything longer is almost certainly a typo.
const MAX_DEADLINE_SECS: f64 = 7.0 * 24.0 * 3600.0;
/// Caps on what a revocation fetch may download and how often it may be redirected.
const REVOCATION_MAX_BYTES: usize = 10 * 1024 * 1024;
const REVOCATION_MAX_REDIRECTS: u8 = 3;

/// `audit` (and `baseline save` without `--from`). `with_baseline`: whether `--baseline` is read
/// (`baseline save` ignores it).
pub fn audit(args: &AuditArgs, with_baseline: bool) -> anyhow::Result<AuditPlan> {
    let baseline = match &args.baseline {
        Some(path) if with_baseline => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read baseline {}", path.display()))?;
            Some(Baseline::parse(&text, &path.display().to_string())?)
        }
        _ => None,
    };
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
    let deadline = match args.deadline {
        Some(d) if !(d > 0.0 && d <= MAX_DEADLINE_SECS) => {
            bail!("--deadline {d}: must be more than 0 and at most {MAX_DEADLINE_SECS} seconds")
        }
        Some(d) => Some(Duration::from_secs_f64(d)),
        None => None,
    };
    let rules = args
        .resolve
        .iter()
        .map(|r| resolve_rule(r))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let connect_to = args
        .connect_to
        .iter()
        .map(|r| r.parse::<ConnectTo>())
        .collect::<Result<Vec<_>, _>>()?;
    let targets = select_targets(args, &catalog)?;
    let knowledge = Knowledge::builtin()?;
    let trust = trust_context(&args.trust)?;
    let base: Arc<dyn Resolve> = match &args.dns_server {
        // Each DNS query gets three quarters of the target's deadline, so a silent server is
        // reported as one (dns_no_answer) rather than as a bare timeout.
        Some(server) => {
            Arc::new(DnsServerResolver::new(server)?.with_query_timeout(timeout * 3 / 4)?)
        }
        None => Arc::new(SystemResolver),
    };
    let overridden: Arc<dyn Resolve> = Arc::new(OverrideResolver::new(rules, base));
    let resolver: Arc<dyn Resolve> = if connect_to.is_empty() {
        overridden
    } else {
        Arc::new(ConnectToResolver::new(connect_to, overridden))
    };
    let proxy = proxy_settings(args)?;
    let pac = pac_script(args, timeout, &resolver)?;
    let context = RunContext {
        pac: pac.as_ref().map(|(p, from)| ProxyUsed {
            url: p.shown.clone(),
            from: (*from).to_owned(),
        }),
        proxy: proxy.as_ref().map(|(p, from)| ProxyUsed {
            url: p.display.clone(),
            from: (*from).to_owned(),
        }),
        trust_stores: trust.used(),
        data: data_used(&trust, &knowledge, args.selection.catalog.as_deref()),
        ..RunContext::default()
    };
    let proxy = proxy.map(|(p, _)| p);
    let revocation = (!args.no_revocation).then(|| RevocationConfig {
        timeout,
        max_bytes: REVOCATION_MAX_BYTES,
        max_redirects: REVOCATION_MAX_REDIRECTS,
        resolver: Arc::clone(&resolver),
    });
    Ok(AuditPlan {
        targets,
        judging: Judging {
            trust,
            knowledge,
            baseline,
        },
        probing: Probing {
            timeout,
            concurrency: args.concurrency,
            resolver,
            proxy,
            pac: pac.map(|(p, _)| Arc::new(p)),
            proxy_tls: proxy_tls(args)?,
        },
        revocation,
        deadline,
        progress: ProgressPlan {
            bar: !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            verbose: args.verbose,
        },
        output: output(&args.output),
        context,
    })
}

/// What judged: Apple's trust data, the pinning database, the catalog.
fn data_used(
    trust: &TrustContext,
    knowledge: &Knowledge,
    catalog: Option<&std::path::Path>,
) -> Vec<DataUsed> {
    let mut data = trust.data_used();
    data.push(DataUsed {
        name: "Apple pinning database".into(),
        version: knowledge.pinning.content_version.to_string(),
    });
    data.push(DataUsed {
        name: "catalog".into(),
        version: match catalog {
            Some(path) => format!("built in, with {}", path.display()),
            None => "built in".into(),
        },
    });
    data
}

/// `inspect`: the chain from its files, the host and port it was presented for, when and under
/// which policy it is judged, and against which roots.
pub fn inspect(args: &InspectArgs) -> anyhow::Result<InspectPlan> {
    if args
        .files
        .iter()
        .filter(|f| f.as_os_str() == input::STDIN)
        .count()
        > 1
    {
        bail!("'-' (standard input) can be given only once");
    }
    let mut chain = Vec::new();
    for file in &args.files {
        chain.extend(input::load_certs(file)?);
    }
    let host = normalise_host(args.host.trim(), &args.host).map_err(|e| anyhow!("--host {e}"))?;
    if args.port == 0 {
        bail!("--port 0: not a usable port (1-65535)");
    }
    let at = match &args.at {
        Some(at) => parse_at(at)?,
        None => UnixTime::now(),
    };
    let knowledge = Knowledge::builtin()?;
    let policy = match &args.apple_policy {
        Some(name) if knowledge.pinning.by_name(name).is_some() => Some(name.clone()),
        Some(name) => {
            let mut known: Vec<&str> = knowledge
                .pinning
                .policies
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            known.dedup();
            bail!(
                "--apple-policy '{name}': no such policy (known: {})",
                known.join(", ")
            )
        }
        None => None,
    };
    let trust = if args.roots.is_empty() {
        trust_context(&args.trust)?
    } else {
        exact_trust(&args.roots, &args.trust)?
    };
    let catalog = Catalog::load(None, &TenantValues::default())?;
    let context = RunContext {
        trust_stores: trust.used(),
        data: data_used(&trust, &knowledge, None),
        ..RunContext::default()
    };
    let target = Target {
        row: catalog.find(&host, args.port).cloned(),
        host,
        port: args.port,
        transport: Transport::Tcp,
    };
    Ok(InspectPlan {
        target,
        chain,
        judging: Judging {
            trust,
            knowledge,
            baseline: None,
        },
        at,
        policy,
        output: output(&args.output),
        context,
    })
}

/// One `--resolve` value: curl's `HOST:PORT:ADDR[,ADDR…]`, also with curl's leading `+` (which
/// curl uses for entries that time out; here every entry lasts the run). A name is normalised as
/// targets are (lower case, punycode, no trailing dot), so the rule covers the target it names.
fn resolve_rule(value: &str) -> anyhow::Result<ResolveRule> {
    if value.starts_with('-') {
        bail!(
            "--resolve '{value}': curl's '-HOST:PORT' removes a cached entry; there is no cache to remove from here"
        );
    }
    let bare = value.strip_prefix('+').unwrap_or(value);
    let mut rule = bare.parse::<ResolveRule>().map_err(|mut e| {
        e.value = value.to_owned();
        e
    })?;
    if rule.host != "*" {
        rule.host = normalise_host(&rule.host, &rule.host)
            .map_err(|e| anyhow!("--resolve '{value}': {e}"))?;
    }
    Ok(rule)
}

/// `catalog --format`: the catalog is written as a table or as JSON.
pub fn catalog_format(output: &OutputArgs) -> anyhow::Result<Format> {
    match output.format {
        Format::Table | Format::Json => Ok(output.format),
        other => bail!(
            "catalog --format {}: the catalog is written as table or json",
            other
                .to_possible_value()
                .map_or_else(String::new, |v| v.get_name().to_owned())
        ),
    }
}

/// `export --pac-proxy`: the PAC's answer for what is not exempted (`PROXY host:port`), required
/// with `--format pac`.
pub fn pac_proxy(args: &ExportArgs) -> anyhow::Result<Option<String>> {
    match (&args.pac_proxy, args.format) {
        (Some(p), _) => {
            let (host, port) = p
                .rsplit_once(':')
                .filter(|(h, port)| !h.is_empty() && port.parse::<u16>().is_ok_and(|n| n > 0))
                .ok_or_else(|| anyhow!("--pac-proxy '{p}': expected HOST:PORT"))?;
            Ok(Some(format!("PROXY {host}:{port}")))
        }
        (None, ExportFormat::Pac) => {
            bail!(
                "--format pac needs --pac-proxy HOST:PORT: the proxy everything not exempted goes to"
            )
        }
        (None, _) => Ok(None),
    }
}

/// `export --only`: verdict names.
pub fn only_verdicts(only: &[String]) -> anyhow::Result<Vec<wire::Verdict>> {
    only.iter()
        .map(|v| {
            wire::Verdict::from_name(v).ok_or_else(|| {
                let known: Vec<&str> = wire::Verdict::ALL.iter().map(|v| v.as_str()).collect();
                anyhow!("--only '{v}': not a verdict (known: {})", known.join(", "))
            })
        })
        .collect()
}

/// The catalog rows a selection keeps.
pub fn catalog_rows(sel: &Selection) -> anyhow::Result<(Catalog, Filter)> {
    let values = tenant_values(sel)?;
    let catalog = Catalog::load(sel.catalog.as_deref(), &values)?;
    let filter = filter(sel, &catalog)?;
    Ok((catalog, filter))
}

fn output(args: &OutputArgs) -> OutputPlan {
    OutputPlan {
        format: args.format,
        path: args.output.clone(),
    }
}

/// The TLS configuration for https:// proxies when `--proxy-cacert` names extra CAs.
fn proxy_tls(args: &AuditArgs) -> anyhow::Result<Option<Arc<rustls::ClientConfig>>> {
    if args.proxy_cacert.is_empty() {
        return Ok(None);
    }
    let mut extra = Vec::new();
    for path in &args.proxy_cacert {
        extra.extend(
            input::load_certs(path)
                .map_err(|e| anyhow!("--proxy-cacert {}: {e}", path.display()))?,
        );
    }
    Ok(Some(crate::probe::proxy::tls_config(&extra)))
}

/// The `--pac` script: read from its file or fetched from its http:// URL (`auto`: the first WPAD
/// URL that answers, from `--wpad-domain` or resolv.conf's search domains), then loaded once to
/// check it (a script that does not parse, throws at load or defines no `FindProxyForURL` is bad
/// input). With where it came from: `--pac` or `WPAD`.
fn pac_script(
    args: &AuditArgs,
    timeout: Duration,
    resolver: &Arc<dyn Resolve>,
) -> anyhow::Result<Option<(PacScript, &'static str)>> {
    use crate::probe::pac_route;
    let Some(source) = &args.pac else {
        if !args.wpad_domain.is_empty() {
            bail!("--wpad-domain is for --pac auto");
        }
        return Ok(None);
    };
    let (shown, text, from) = if source == "auto" {
        let domains = if args.wpad_domain.is_empty() {
            let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
            pac_route::search_domains(&conf)
        } else {
            args.wpad_domain.clone()
        };
        let candidates = pac_route::wpad_candidates(&domains);
        if candidates.is_empty() {
            bail!("--pac auto: no search domain to look for WPAD in (give --wpad-domain)");
        }
        let mut tried = Vec::new();
        let mut found = None;
        for url in candidates {
            match pac_route::fetch(&url, timeout, resolver) {
                Ok(text) => {
                    found = Some((url, text));
                    break;
                }
                Err(e) => tried.push(format!("{url}: {e}")),
            }
        }
        let Some((url, text)) = found else {
            bail!("--pac auto: no WPAD file found ({})", tried.join("; "));
        };
        (url, text, "WPAD")
    } else if source.starts_with("http://") || source.starts_with("https://") {
        let shown = crate::probe::proxy::redact(source);
        let text = pac_route::fetch(source, timeout, resolver)
            .map_err(|e| anyhow!("--pac {shown}: {e}"))?;
        (shown, text, "--pac")
    } else {
        let text = std::fs::read_to_string(source)
            .map_err(|e| anyhow!("--pac {source}: cannot read it: {e}"))?;
        (source.clone(), text, "--pac")
    };
    // The top level runs in a memory-limited child (a WPAD file is anyone's on the LAN); the
    // engine quotes the script: shown on one line, escaped.
    crate::probe::pac_child::load(&text, std::time::Instant::now() + timeout)
        .map_err(|e| anyhow!("{shown}: {}", crate::pac::clean_line(&e.to_string())))?;
    Ok(Some((PacScript { shown, text }, from)))
}

/// The proxy for TLS targets: `--proxy`, else the environment (unless `--no-proxy`), with where
/// it came from (the flag or the variable's name), which reports state.
fn proxy_settings(args: &AuditArgs) -> anyhow::Result<Option<(ProxySettings, &'static str)>> {
    let env = |names: &[&'static str]| {
        names.iter().find_map(|n| {
            std::env::var(n)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(|v| (v, *n))
        })
    };
    let bypass: Vec<String> = if args.no_proxy {
        Vec::new()
    } else {
        env(&["NO_PROXY", "no_proxy"])
            .into_iter()
            .map(|(v, _)| v)
            .collect()
    };
    let url = match (&args.proxy, args.no_proxy) {
        (Some(url), _) => Some((url.clone(), "--proxy")),
        (None, true) => None,
        (None, false) => env(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]),
    };
    url.map(|(u, from)| {
        ProxySettings::parse(&u, &bypass)
            .map(|p| (p, from))
            .map_err(anyhow::Error::from)
    })
    .transpose()
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
pub fn tenant_values(sel: &Selection) -> anyhow::Result<TenantValues> {
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

pub fn filter(sel: &Selection, catalog: &Catalog) -> anyhow::Result<Filter> {
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

/// Explicit targets (arguments and `--targets`) or the filtered catalog. A targets file (other
/// than standard input) is checked whole now, every bad line reported, and read again line by
/// line as the run takes its targets: a run over millions of lines does not hold them.
fn select_targets(args: &AuditArgs, catalog: &Catalog) -> anyhow::Result<Targets> {
    let mut specs = Vec::new();
    for t in &args.targets {
        specs.push(parse_spec(t).map_err(|e| anyhow!("target {e}"))?);
    }
    let file = match &args.targets_file {
        Some(path) if path.as_os_str() == input::STDIN => {
            // Standard input cannot be read twice: it is read whole.
            specs.extend(input::read_targets_file(path)?);
            None
        }
        Some(path) => Some(input::check(path)?),
        None => None,
    };
    let explicit = !args.targets.is_empty() || args.targets_file.is_some();
    if explicit {
        if !args.selection.section.is_empty() || !args.selection.hosts.is_empty() {
            bail!(
                "--section and --host filter the catalog; they cannot be combined with explicit targets"
            );
        }
        if specs.is_empty() && file.as_ref().is_none_or(|f| f.count == 0) {
            bail!("no targets: the targets file has no host[:port] lines");
        }
        let mut seen = std::collections::HashSet::new();
        specs.retain(|s| seen.insert(s.clone()));
        let catalog = Arc::new(catalog.clone());
        let target = move |(host, port): (String, u16)| Target {
            row: catalog.find(&host, port).cloned(),
            host,
            port,
            transport: Transport::Tcp,
        };
        let Some(file) = file else {
            return Ok(Targets::listed(specs.into_iter().map(target).collect()));
        };
        // The arguments' targets come first; the file's follow, less any the arguments named.
        let count = specs.len() + file.count - file_repeats(&file, &seen)?;
        let read = move || -> Box<dyn Iterator<Item = Target>> {
            let first = specs.clone();
            let named: std::collections::HashSet<(String, u16)> = first.iter().cloned().collect();
            let target = target.clone();
            let from_file = file
                .specs()
                .map_while(|spec| {
                    spec.map_err(|e| {
                        // Checked a moment ago; only a file changed or lost since stops here.
                        eprintln!("pinscope: warning: {e}; its remaining targets are not probed");
                    })
                    .ok()
                })
                .filter(move |spec| !named.contains(spec));
            Box::new(first.into_iter().chain(from_file).map(target))
        };
        return Ok(Targets::read(count, Box::new(read)));
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
    Ok(Targets::listed(targets))
}

/// How many of the file's targets the command line's arguments already name (`seen`); a read
/// of the file that keeps only those.
fn file_repeats(
    file: &input::TargetsFile,
    seen: &std::collections::HashSet<(String, u16)>,
) -> anyhow::Result<usize> {
    if seen.is_empty() {
        return Ok(0);
    }
    let mut repeats = 0;
    for spec in file.specs() {
        if seen.contains(&spec?) {
            repeats += 1;
        }
    }
    Ok(repeats)
}
