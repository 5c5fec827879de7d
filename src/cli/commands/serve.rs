//! `pinscope serve`: the Prometheus exporter. The command line and the config file are merged into
//! the same `AuditArgs` that `pinscope audit` takes, and the plan is built by the same
//! [`plan::audit`], so the exporter audits exactly as the command does; flags given on the command
//! line override the file. The serving itself is [`crate::serve`].

use std::collections::HashSet;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};

use super::super::args::{AuditArgs, DEFAULT_LISTEN, ServeArgs};
use super::super::plan;
use crate::catalog::Catalog;
use crate::report::exit;
use crate::report::prometheus::Site;
use crate::run::plan::ProgressPlan;
use crate::serve::allow::Allow;
use crate::serve::config::{AuditSection, Config};
use crate::serve::web::WebConfig;
use crate::serve::{self, Loaded, Loader, Options};

/// Between audits when neither `--interval` nor the file says.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
/// The shortest interval accepted: audits back to back would hammer the site's hosts.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The longest interval accepted (a week); anything longer is almost certainly a typo.
const MAX_INTERVAL_SECS: f64 = 7.0 * 24.0 * 3600.0;

pub fn run(args: ServeArgs, given: &[String]) -> anyhow::Result<u8> {
    let given: HashSet<String> = given.iter().cloned().collect();
    // The audit's output flags would name files no one reads: the exporter serves its results.
    for (id, flag) in [
        ("format", "--format"),
        ("output", "--output"),
        ("save_chains", "--save-chains"),
    ] {
        if given.contains(id) {
            bail!(
                "serve {flag}: the exporter writes no report; it serves the last audit at \
                 /results.json (JSON) and / (HTML)"
            );
        }
    }
    if let Some(path) = &args.check_config {
        let config = Config::load(path)?;
        let loader = CliLoader { args, given };
        let loaded = loader.build_with(config)?;
        println!(
            "{}: ok (site {}, {} targets every {} s)",
            loader.config_path_shown(),
            crate::report::text::line(&loaded.site.name),
            loaded.plan.targets.len(),
            loaded.interval.as_secs_f64()
        );
        return Ok(exit::OK);
    }
    let web = match &args.web_config_file {
        Some(path) => WebConfig::load(path).context("--web.config.file")?,
        None => WebConfig::default(),
    };
    let listen = listen_addr(args.listen.as_deref().unwrap_or(DEFAULT_LISTEN))?;
    let loader = CliLoader { args, given };
    let first = loader.build()?;
    serve::serve(Options { listen, web }, Box::new(loader), first)?;
    Ok(exit::OK)
}

/// `--listen`: ADDR:PORT, or a name that resolves (`localhost:9847`).
fn listen_addr(value: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(addr) = value.parse() {
        return Ok(addr);
    }
    value
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| anyhow!("--listen '{value}': expected ADDR:PORT, such as {DEFAULT_LISTEN}"))
}

/// The command line as given, turned into a site's configuration each time it is asked: at start
/// and on every SIGHUP (the file is re-read; the flags stay).
struct CliLoader {
    args: ServeArgs,
    /// The flags given on the command line (clap's ids): they win over the file.
    given: HashSet<String>,
}

impl Loader for CliLoader {
    fn load(&self) -> Result<Loaded, String> {
        self.build().map_err(|e| format!("{e:#}"))
    }
}

impl CliLoader {
    fn config_path_shown(&self) -> String {
        self.args
            .check_config
            .as_ref()
            .or(self.args.config.as_ref())
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    fn build(&self) -> anyhow::Result<Loaded> {
        let config = match &self.args.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        self.build_with(config)
    }

    fn build_with(&self, config: Config) -> anyhow::Result<Loaded> {
        let file = self
            .args
            .check_config
            .as_ref()
            .or(self.args.config.as_ref());
        // An error about one of the file's keys, at the key's line.
        let at = |key: &str, message: String| match file
            .and_then(|p| key_line(p, key).map(|line| (p, line)))
        {
            Some((path, line)) => anyhow!("{}:{line}: {message}", path.display()),
            None => anyhow!(message),
        };
        let audit = merge(&self.args.audit, &config.audit, &self.given);
        // The same plan `pinscope audit` would build from these flags.
        let mut plan = plan::audit(&audit, true).map_err(|e| match file {
            Some(path) => from_file(e, path, &self.given),
            None => e,
        })?;
        // An exporter's standard error is a log: one line per audit, no progress, no timings.
        plan.progress = ProgressPlan::default();
        let values = plan::tenant_values(&audit.selection)?;
        let catalog = Catalog::load(audit.selection.catalog.as_deref(), &values)?;
        let interval = match self.args.interval {
            Some(secs) => {
                if !(secs.is_finite()
                    && secs >= MIN_INTERVAL.as_secs_f64()
                    && secs <= MAX_INTERVAL_SECS)
                {
                    bail!(
                        "--interval {secs}: must be at least {} and at most {MAX_INTERVAL_SECS} \
                         seconds",
                        MIN_INTERVAL.as_secs()
                    )
                }
                Duration::from_secs_f64(secs)
            }
            None => {
                let interval = config.schedule.interval.map_or(DEFAULT_INTERVAL, |s| s.0);
                if interval < MIN_INTERVAL || interval.as_secs_f64() > MAX_INTERVAL_SECS {
                    return Err(at(
                        "interval",
                        format!(
                            "interval: must be at least {} and at most {MAX_INTERVAL_SECS} seconds",
                            MIN_INTERVAL.as_secs()
                        ),
                    ));
                }
                interval
            }
        };
        let jitter = config.schedule.jitter.map_or(Duration::ZERO, |s| s.0);
        if jitter >= interval {
            return Err(at(
                "jitter",
                format!(
                    "jitter ({} s) must be less than the interval ({} s)",
                    jitter.as_secs_f64(),
                    interval.as_secs_f64()
                ),
            ));
        }
        let name = match config.site {
            Some(name) if name.trim().is_empty() => {
                return Err(at("site", "site: must not be empty".into()));
            }
            Some(name) => name,
            None => gethostname::gethostname()
                .into_string()
                .unwrap_or_else(|_| "pinscope".into()),
        };
        Ok(Loaded {
            site: Site {
                name,
                labels: config.labels.into_iter().map(|(k, v)| (k.0, v)).collect(),
            },
            interval,
            jitter,
            allow: config.probe.allow.map(Allow).unwrap_or_default(),
            catalog,
            plan,
        })
    }
}

/// An error in the plan built from the file's `[audit]` keys: when it names a flag that the
/// command line did not give and the file sets, it is the file's key that is wrong, so the error
/// names the file, the key's line and the key (`pinscope.toml:7: sections 'x': no such section`).
fn from_file(e: anyhow::Error, path: &Path, given: &HashSet<String>) -> anyhow::Error {
    let message = format!("{e:#}");
    let located = flag_in(&message).and_then(|flag| {
        let id = flag.trim_start_matches("--").replace('-', "_");
        let key = match id.as_str() {
            "section" => "sections",
            "host" => "hosts",
            "targets" => "targets_file",
            "no_revocation" => "revocation",
            other => other,
        };
        let given_here = given.contains(&id)
            || (id == "host" && given.contains("hosts"))
            || (id == "targets" && given.contains("targets_file"));
        if given_here {
            return None;
        }
        let line = key_line(path, key)?;
        Some((line, message.replacen(flag, key, 1)))
    });
    match located {
        Some((line, message)) => anyhow!("{}:{line}: {message}", path.display()),
        None => e.context(format!("{} (with the command line)", path.display())),
    }
}

/// The 1-based line on which the file sets `key` (`key = …`), if it does.
fn key_line(path: &Path, key: &str) -> Option<usize> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// The first `--flag` a message names.
fn flag_in(message: &str) -> Option<&str> {
    let start = message.find("--")?;
    let rest = &message[start + 2..];
    let len = rest
        .find(|c: char| !(c.is_ascii_lowercase() || c == '-'))
        .unwrap_or(rest.len());
    (len > 0).then(|| &message[start..start + 2 + len])
}

/// The audit's flags: those given on the command line, else the file's `[audit]` keys, else the
/// defaults. What to audit (targets, `--targets`, `--section`, `--host`) is one choice: any of it
/// on the command line replaces all of the file's.
fn merge(cli: &AuditArgs, file: &AuditSection, given: &HashSet<String>) -> AuditArgs {
    let mut a = cli.clone();
    let g = |id: &str| given.contains(id);
    if !["targets", "targets_file", "section", "hosts"]
        .iter()
        .any(|id| g(id))
    {
        a.targets.clone_from(&file.targets);
        a.targets_file.clone_from(&file.targets_file);
        a.selection.section.clone_from(&file.sections);
        a.selection.hosts.clone_from(&file.hosts);
    }
    fn set<T: Clone>(given: bool, to: &mut Option<T>, from: &Option<T>) {
        if !given && from.is_some() {
            to.clone_from(from);
        }
    }
    fn set_all<T: Clone>(given: bool, to: &mut Vec<T>, from: &[T]) {
        if !given && !from.is_empty() {
            *to = from.to_vec();
        }
    }
    set(g("catalog"), &mut a.selection.catalog, &file.catalog);
    set(
        g("kandji_tenant"),
        &mut a.selection.kandji_tenant,
        &file.kandji_tenant,
    );
    set(
        g("kandji_subdomain"),
        &mut a.selection.kandji_subdomain,
        &file.kandji_subdomain,
    );
    set(g("region"), &mut a.selection.region, &file.region);
    // --proxy and --no-proxy are one choice too.
    if !g("proxy") && !g("no_proxy") {
        set(false, &mut a.proxy, &file.proxy);
        if let Some(no) = file.no_proxy {
            a.no_proxy = no;
        }
    }
    set(g("pac"), &mut a.pac, &file.pac);
    set_all(g("wpad_domain"), &mut a.wpad_domain, &file.wpad_domain);
    set(g("dns_server"), &mut a.dns_server, &file.dns_server);
    set(
        g("apple_trust_store"),
        &mut a.trust.apple_trust_store,
        &file.apple_trust_store,
    );
    set(g("baseline"), &mut a.baseline, &file.baseline);
    set_all(g("resolve"), &mut a.resolve, &file.resolve);
    set_all(g("connect_to"), &mut a.connect_to, &file.connect_to);
    set_all(
        g("public_roots"),
        &mut a.trust.public_roots,
        &file.public_roots,
    );
    set_all(
        g("native_roots"),
        &mut a.trust.native_roots,
        &file.native_roots,
    );
    set_all(
        g("apple_roots"),
        &mut a.trust.apple_roots,
        &file.apple_roots,
    );
    set_all(
        g("transparent_ca"),
        &mut a.trust.transparent_ca,
        &file.transparent_ca,
    );
    if let (false, Some(t)) = (g("timeout"), file.timeout) {
        a.timeout = t.0.as_secs_f64();
    }
    if let (false, Some(c)) = (g("concurrency"), file.concurrency) {
        a.concurrency = c;
    }
    if let (false, Some(d)) = (g("deadline"), file.deadline) {
        a.deadline = Some(d.0.as_secs_f64());
    }
    if let (false, Some(r)) = (g("no_revocation"), file.revocation) {
        a.no_revocation = !r;
    }
    a
}
