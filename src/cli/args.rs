//! The command line as clap sees it: raw flags only ("low-level" arguments). Turning them into a
//! validated plan happens in `plan.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::catalog::Region;
use crate::report::Format;

#[derive(Debug, Parser)]
#[command(
    name = "pinscope",
    version,
    about = "Checks whether the TLS connections Apple devices and MDM agents make leave this network untouched",
    long_about = None,
    arg_required_else_help = true,
    after_help = "Exit codes: 0 every target passed; 1 at least one intercepted; 3 no interception but some target failed; 2 usage or input error; 130 interrupted (Ctrl-C, SIGTERM)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Colour the table: `auto` on a terminal unless NO_COLOR is set, `always`, or `never`.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value = "auto",
        global = true
    )]
    pub color: ColorChoice,
}

/// When to colour the table (`--color`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set (and not empty).
    Auto,
    /// Always, even into a pipe or a file.
    Always,
    /// Never.
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Probe the catalog (or the given targets) and judge every chain.
    Audit(AuditArgs),
    /// Print the catalog of hosts devices must reach.
    Catalog(CatalogArgs),
    /// Judge a PEM chain from a file, as the audit would.
    Inspect(InspectArgs),
    /// Write the host patterns to exempt from SSL inspection (plain, PAC, squid, CSV, JSON).
    Export(ExportArgs),
    /// Check a team's own exemption list (plain, CSV, JSON, squid, PAC) against the catalog.
    Exemptions(ExemptionsArgs),
    /// Record what a clean network presents, for `audit --baseline`.
    Baseline(BaselineArgs),
    /// Re-render saved results (`--format json` or `jsonl` output) in another format, without
    /// probing; exits with the code the audit had.
    Report(ReportArgs),
    /// Run as a Prometheus exporter: audit on a schedule and serve the results over HTTP
    /// (/metrics, /probe?target=HOST:PORT, /results.json, /, /-/healthy, /-/ready). Takes every
    /// `audit` option but the output ones (--format, --output, --save-chains).
    Serve(ServeArgs),
    /// Write a shell completion script to standard output.
    Completions(CompletionsArgs),
    /// Write a manual page (roff) to standard output: `pinscope man | man -l -`.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell, e.g. `pinscope completions bash > /etc/bash_completion.d/pinscope`.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The page of this subcommand instead of pinscope(1): `audit` gives pinscope-audit(1),
    /// `baseline save` (or `baseline-save`) gives pinscope-baseline-save(1).
    #[arg(value_name = "COMMAND", num_args = 0..)]
    pub command: Vec<String>,
}

/// Which catalog rows to use.
#[derive(Clone, Debug, Args)]
pub struct Selection {
    /// A catalog file whose entries add to or replace built-in rows (same format as the built-in).
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Only rows in these sections (repeatable or comma-separated; see `pinscope catalog`).
    #[arg(long, value_name = "SECTION", value_delimiter = ',')]
    pub section: Vec<String>,
    /// Only rows whose host (or wildcard) matches; `*` matches any run of characters.
    #[arg(long = "host", value_name = "GLOB", value_delimiter = ',')]
    pub hosts: Vec<String>,
    /// Kandji/Iru tenant UUID: adds the tenant's device domains.
    #[arg(long, value_name = "UUID", requires = "region")]
    pub kandji_tenant: Option<String>,
    /// Kandji/Iru tenant subdomain: adds the web app, API and identity domains.
    #[arg(long, value_name = "NAME", requires = "region")]
    pub kandji_subdomain: Option<String>,
    /// Kandji/Iru region of the tenant.
    #[arg(long, value_enum, value_name = "REGION")]
    pub region: Option<Region>,
}

impl clap::ValueEnum for Region {
    fn value_variants<'a>() -> &'a [Self] {
        &[Self::Us, Self::Eu]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(match self {
            Self::Us => "us",
            Self::Eu => "eu",
        }))
    }
}

/// Which trust stores judge the chains.
#[derive(Clone, Debug, Args)]
pub struct TrustArgs {
    /// Replace the public roots (Mozilla's, from webpki-roots) with the certificates in these PEM or
    /// DER files (repeatable). Roots given here are declared public: Apple devices' view trusts
    /// them too.
    #[arg(long, value_name = "PEM")]
    pub public_roots: Vec<PathBuf>,
    /// Replace this machine's native trust store with the certificates in these PEM or DER files
    /// (repeatable).
    #[arg(long, value_name = "PEM")]
    pub native_roots: Vec<PathBuf>,
    /// More roots for Apple devices' view, as PEM or DER files (repeatable). Apple's trust store is
    /// built in; this adds roots to it, for example a lab's.
    #[arg(long, value_name = "PEM")]
    pub apple_roots: Vec<PathBuf>,
    /// Read Apple's trust store from this checkout of Apple's security_certificates data instead of
    /// the copy built in (the layout of its `certificates/`, `certificate_transparency/`, `config/`
    /// and `TrustSupplementalsAsset/` folders), to follow Apple's updates without a new release.
    #[arg(long, value_name = "DIR")]
    pub apple_trust_store: Option<PathBuf>,
    /// A CA certificate (PEM or DER) that an MDM profile names as a transparent-connection pin
    /// (repeatable). On hosts whose Apple pinning policy allows transparent connections (BAA,
    /// Pallas, Activation, Updates, Personalization, AppleIssuedTransparent) a chain anchored there
    /// passes with a warning; anywhere else it is interception.
    #[arg(long, value_name = "PEM")]
    pub transparent_ca: Vec<PathBuf>,
}

/// How the table groups rows (`audit`, `catalog`, `report`).
#[derive(Clone, Debug, Args)]
pub struct TableArgs {
    /// In the table, list every numbered variant of a wildcard (1-courier.push.apple.com …
    /// 50-courier.push.apple.com) on its own line instead of one line per wildcard, port and
    /// transport. Other formats always list every row.
    #[arg(long)]
    pub expand: bool,
}

/// Where and how results are written.
#[derive(Clone, Debug, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Write the output to this file instead of standard output (`-`): a regular file is replaced
    /// atomically, a symbolic link, FIFO or device is written through.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Clone, Debug, Args)]
pub struct AuditArgs {
    /// Targets as host[:port] (port 443 when omitted; IPv6 as [addr]:port) or as URLs
    /// (https://host[:port]/path, port 443; http://…, port 80). Internationalised names are
    /// probed in punycode; a trailing dot is dropped. Without targets, the built-in catalog is
    /// audited.
    #[arg(value_name = "HOST[:PORT]")]
    pub targets: Vec<String>,
    /// Read targets from a file (`-`: standard input): one host[:port] or URL per line, `#` starts
    /// a comment.
    #[arg(long = "targets", value_name = "FILE")]
    pub targets_file: Option<PathBuf>,
    /// Write each target's presented chain to DIR as PEM, leaf first, one file per target named
    /// after its host and port (`host_443.pem`), to hand on or re-run with `inspect`.
    #[arg(long, value_name = "DIR")]
    pub save_chains: Option<PathBuf>,
    #[command(flatten)]
    pub selection: Selection,
    /// Targets probed at once.
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub concurrency: usize,
    /// Deadline per target in seconds, covering DNS, connect and handshake.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub timeout: f64,
    /// Deadline for the whole run in seconds: when it passes, no new probe starts, probes in flight
    /// are abandoned, and the report is written with the targets left reported as skipped.
    #[arg(long, value_name = "SECS")]
    pub deadline: Option<f64>,
    /// Resolve HOST:PORT to ADDR instead of asking DNS (curl's syntax, a leading `+` accepted;
    /// HOST may be `*`; IPv6 in brackets; several addresses comma-separated). Repeatable.
    #[arg(long, value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<String>,
    /// Connect to HOST2:PORT2 when HOST1:PORT1 is probed (curl's syntax), keeping HOST1 as the name
    /// sent and judged: e.g. `--connect-to ::lab.example:8443` points every catalog row at a lab
    /// port. An empty HOST1 or PORT1 matches any, an empty HOST2 or PORT2 keeps the original; IPv6
    /// in brackets. Applies to named targets connected to directly (not through a proxy).
    /// Repeatable; the first matching rule wins.
    #[arg(long, value_name = "HOST1:PORT1:HOST2:PORT2")]
    pub connect_to: Vec<String>,
    /// Ask this DNS server (IP[:PORT], port 53 by default) instead of the system resolver.
    #[arg(long, value_name = "ADDR")]
    pub dns_server: Option<String>,
    /// Tunnel TLS targets through this proxy: http://[user:pass@]host:port or https://… (HTTP
    /// CONNECT; TLS to the proxy with https), socks5://… or socks5h://… (SOCKS5).
    /// Without it, HTTPS_PROXY, https_proxy, ALL_PROXY and NO_PROXY are honoured.
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy")]
    pub proxy: Option<String>,
    /// Trust these CA certificates (PEM or DER, repeatable) for the certificate of an https://
    /// proxy (`--proxy https://…`, or a PAC's HTTPS entry), besides the public roots and this
    /// machine's store.
    #[arg(long, value_name = "PEM")]
    pub proxy_cacert: Vec<std::path::PathBuf>,
    /// Ignore the proxy environment variables: connect directly.
    #[arg(long)]
    pub no_proxy: bool,
    /// Choose each TLS target's path with this proxy auto-config file (a path, or an http:// URL
    /// fetched once; `auto` for WPAD by DNS: http://wpad.DOMAIN/wpad.dat for each search domain):
    /// `FindProxyForURL` is evaluated per target and its entries (DIRECT, PROXY,
    /// SOCKS5) tried in order, falling back when a proxy cannot be reached. Takes precedence over
    /// --proxy and the proxy environment variables. See docs/proxies.md.
    #[arg(long, value_name = "FILE|URL")]
    pub pac: Option<String>,
    /// With `--pac auto`: look for WPAD in these domains (repeatable) instead of the search
    /// domains of /etc/resolv.conf.
    #[arg(long, value_name = "DOMAIN")]
    pub wpad_domain: Vec<String>,
    /// Do not fetch OCSP responses and CRLs for the captured chains.
    #[arg(long)]
    pub no_revocation: bool,
    /// Compare every chain with this baseline (`pinscope baseline save`): key changes are reported
    /// as a rotation or, with a new anchor or a refused chain, as interception.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub table: TableArgs,
    /// No progress bar on standard error (there is none anyway when standard error is not a
    /// terminal).
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print each target's timings (resolve, connect, handshake) and the run's totals on standard
    /// error.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

/// The port `serve` listens on by default: in Prometheus' range for exporters (9100-9999), and not
/// one any exporter we could find uses (searched offline; to be registered on Prometheus' default
/// port allocations page before 1.0).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9847";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The exporter's config file (TOML; deploy/pinscope.toml is a commented example): the site
    /// and its labels, the schedule, the audit's options, what /probe may audit. Flags given on the
    /// command line override it. SIGHUP re-reads it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Only check this config file (and the files it names): exit 0 when it can be used, 2 with
    /// FILE:LINE: message when not.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["config", "listen", "interval", "web_config_file"])]
    pub check_config: Option<PathBuf>,
    /// Where to listen, as ADDR:PORT (IPv6 in brackets). Port 9847 is in Prometheus' range for
    /// exporters; bind to another address than loopback only behind --web.config.file.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// Seconds from the end of one audit to the start of the next (default: the config's
    /// [schedule] interval, else 300).
    #[arg(long, value_name = "SECS")]
    pub interval: Option<f64>,
    /// A Prometheus exporter-toolkit web configuration (YAML): tls_server_config (cert_file,
    /// key_file) serves HTTPS, basic_auth_users (name: bcrypt hash) requires basic auth.
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,
    #[command(flatten)]
    pub audit: AuditArgs,
}

/// `catalog` is written as a table or JSON only, so its `--format` offers only those.
#[derive(Debug, Args)]
#[command(mut_arg("format", |a| a.value_parser(catalog_formats())))]
pub struct CatalogArgs {
    #[command(flatten)]
    pub selection: Selection,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub table: TableArgs,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The chain, leaf first: a PEM file as `openssl s_client -showcerts` prints it, or several
    /// files (PEM or DER) whose certificates are taken in order; `-` is standard input.
    #[arg(value_name = "FILE", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// The host name the chain was presented for.
    #[arg(long)]
    pub host: String,
    /// The port it was presented on.
    #[arg(long, default_value_t = 443)]
    pub port: u16,
    /// Judge the chain as of this time (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// Judge the chain under this Apple pinning policy (e.g. GS, Escrow, APN) instead of the one
    /// Apple applies to --host.
    #[arg(long, value_name = "POLICY")]
    pub apple_policy: Option<String>,
    /// Judge the chain against exactly the certificates in these PEM or DER files (repeatable):
    /// they replace the public roots, this machine's store and Apple's roots, and Apple's known CA
    /// keys do not anchor. Apple's pinning rules still apply to Apple's host names.
    #[arg(
        long,
        value_name = "PEM",
        conflicts_with_all = ["public_roots", "native_roots", "apple_roots"]
    )]
    pub roots: Vec<PathBuf>,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// List format.
    #[arg(long, value_enum, default_value = "plain")]
    pub format: crate::report::export::ExportFormat,
    /// Take the hosts from an earlier audit's output (`--format json` or `jsonl`; `-` for
    /// standard input) instead of the catalog: those not passing, unless --only says.
    #[arg(long = "from", value_name = "RESULTS")]
    pub from: Option<PathBuf>,
    /// With --from: only targets with these verdicts (repeatable or comma-separated), e.g.
    /// `--only intercepted`; without it, every verdict but pass and skipped.
    #[arg(long, value_name = "VERDICT", value_delimiter = ',', requires = "from")]
    pub only: Vec<String>,
    #[command(flatten)]
    pub selection: Selection,
    /// For --format pac: where everything else goes, as HOST:PORT (the PAC answers
    /// `PROXY HOST:PORT`).
    #[arg(long, value_name = "HOST:PORT")]
    pub pac_proxy: Option<String>,
    /// Write the list to this file instead of standard output (`-`): a regular file is replaced
    /// atomically, a symbolic link, FIFO or device is written through.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(arg_required_else_help = true)]
pub struct BaselineArgs {
    #[command(subcommand)]
    pub action: BaselineAction,
}

#[derive(Debug, Subcommand)]
pub enum BaselineAction {
    /// Audit (or read an audit's JSON with --from) and record each passing target's keys, anchor
    /// and TLS profile in FILE. Takes every `audit` option.
    Save(BaselineSaveArgs),
}

#[derive(Debug, Args)]
pub struct BaselineSaveArgs {
    /// Where to write the baseline (JSON, written atomically).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Build it from an earlier audit's output (`--format json` or `jsonl`; `-` for standard
    /// input) instead of auditing now.
    #[arg(long = "from", value_name = "RESULTS")]
    pub from: Option<PathBuf>,
    #[command(flatten)]
    pub audit: AuditArgs,
}

/// The formats `catalog` writes, with their help, parsed into [`Format`].
fn catalog_formats() -> impl clap::builder::TypedValueParser<Value = Format> {
    use clap::ValueEnum as _;
    use clap::builder::TypedValueParser as _;
    let values: Vec<clap::builder::PossibleValue> = [Format::Table, Format::Json]
        .iter()
        .filter_map(Format::to_possible_value)
        .collect();
    clap::builder::PossibleValuesParser::new(values)
        .map(|name: String| Format::from_str(&name, false).unwrap_or(Format::Table))
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The saved results: a `--format json` document or `--format jsonl` lines; `-` reads
    /// standard input.
    #[arg(value_name = "RESULTS")]
    pub results: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub table: TableArgs,
}

#[derive(Debug, Args)]
#[command(arg_required_else_help = true)]
pub struct ExemptionsArgs {
    #[command(subcommand)]
    pub action: ExemptionsAction,
}

#[derive(Debug, Subcommand)]
pub enum ExemptionsAction {
    /// Report, for each selected catalog host, whether FILE exempts it from SSL inspection and by
    /// which entry; required hosts no entry covers, entries that cover nothing in the catalog,
    /// and dangerously broad ones. Exit 0 when every required host is exempt, 1 when one is not,
    /// 2 when the list cannot be read.
    Check(ExemptionsCheckArgs),
}

#[derive(Debug, Args)]
pub struct ExemptionsCheckArgs {
    /// The exemption list (`-`: standard input).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The list's format, as `export --format` names them; `auto` decides from the content
    /// (a PAC, a squid configuration, JSON), then the extension (`.csv`), else plain.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: crate::input::exemptions::ListFormat,
    #[command(flatten)]
    pub selection: Selection,
    /// How the check is written.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "table")]
    pub output_format: crate::report::exemptions::CheckFormat,
    /// Write the check to this file instead of standard output (`-`).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}
