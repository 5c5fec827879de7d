//! Resolved plans: everything a run needs, validated, with no flag left to interpret. The command
//! line builds them (`cli::plan`); a long-running mode would build them the same way and call
//! [`super::audit`] again and again.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};

use crate::analysis::knowledge::Knowledge;
use crate::analysis::trust::TrustContext;
use crate::model::baseline::Baseline;
use crate::model::context::RunContext;
use crate::model::target::Target;
use crate::probe::proxy::ProxySettings;
use crate::probe::resolve::Resolve;
use crate::probe::revocation::RevocationConfig;
use crate::report::Format;

/// An audit: probe the targets, fetch what their chains name for revocation, judge each one.
#[derive(Debug)]
pub struct AuditPlan {
    /// What to probe, in the order results are reported.
    pub targets: Targets,
    /// What the chains are judged against.
    pub judging: Judging,
    /// How each target is probed.
    pub probing: Probing,
    /// OCSP and CRL fetches for the captured chains; `None` with `--no-revocation`.
    pub revocation: Option<RevocationConfig>,
    /// When the whole run must end (`--deadline`), counted from its start.
    pub deadline: Option<Duration>,
    /// What standard error shows while the run goes.
    pub progress: ProgressPlan,
    /// Where and how the results are written.
    pub output: OutputPlan,
    /// What the report states about the run: the proxy, the stores and data that judge. The run
    /// adds the vantage (host name, local addresses).
    pub context: RunContext,
}

/// The targets of a run, in their order: a list, or a source read as the run takes them (a targets
/// file), so that a streamed run over millions of targets never holds them all.
pub struct Targets {
    count: usize,
    source: Source,
}

enum Source {
    Listed(Vec<Target>),
    /// Makes a fresh pass over the targets each time it is called.
    Read(Box<TargetReader>),
}

/// Reads the targets again, from the start.
pub type TargetReader = dyn Fn() -> Box<dyn Iterator<Item = Target>> + Send + Sync;

impl Targets {
    /// These targets.
    pub fn listed(targets: Vec<Target>) -> Self {
        Self {
            count: targets.len(),
            source: Source::Listed(targets),
        }
    }

    /// `count` targets that `read` yields, in order, each time it is called.
    pub fn read(count: usize, read: Box<TargetReader>) -> Self {
        Self {
            count,
            source: Source::Read(read),
        }
    }

    /// How many targets there are (as counted before the run, for the progress bar).
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The targets in order; read from their source when they come from one.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Target> + '_> {
        match &self.source {
            Source::Listed(targets) => Box::new(targets.iter().cloned()),
            Source::Read(read) => read(),
        }
    }
}

impl std::fmt::Debug for Targets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match self.source {
            Source::Listed(_) => "listed",
            Source::Read(_) => "read as the run goes",
        };
        f.debug_struct("Targets")
            .field("count", &self.count)
            .field("source", &source)
            .finish()
    }
}

/// What the chains are judged against.
#[derive(Debug)]
pub struct Judging {
    /// The trust stores: Apple devices', public clients', this machine's.
    pub trust: TrustContext,
    /// Apple's pinning policies and the other embedded knowledge.
    pub knowledge: Knowledge,
    /// Compare each chain with what this baseline recorded (`--baseline`).
    pub baseline: Option<Baseline>,
}

/// How each target is probed.
#[derive(Debug)]
pub struct Probing {
    /// One deadline per target, covering DNS, connect and handshake.
    pub timeout: Duration,
    /// Targets in flight at once, as asked (the run may lower it to fit the open-file limit).
    pub concurrency: usize,
    /// How names are resolved (`--resolve` rules over the system resolver or `--dns-server`).
    pub resolver: Arc<dyn Resolve>,
    /// The HTTP proxy TLS targets are tunnelled through.
    pub proxy: Option<ProxySettings>,
    /// The TLS client configuration for https:// proxies, when `--proxy-cacert` adds roots.
    pub proxy_tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// The PAC choosing each TLS target's path (`--pac`).
    pub pac: Option<std::sync::Arc<crate::probe::pac_route::PacScript>>,
}

/// What standard error shows while an audit runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProgressPlan {
    /// A progress bar (standard error is a terminal, and not `--quiet`).
    pub bar: bool,
    /// Each target's timings and the run's totals (`-v`).
    pub verbose: bool,
}

/// Where and how results are written.
#[derive(Clone, Debug)]
pub struct OutputPlan {
    pub format: Format,
    /// A file written atomically; standard output when `None`.
    pub path: Option<PathBuf>,
}

/// Inspecting a chain read from files, as the audit would judge it.
#[derive(Debug)]
pub struct InspectPlan {
    /// The host and port the chain was presented for (with its catalog row, if any).
    pub target: Target,
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// What the chain is judged against (never a baseline).
    pub judging: Judging,
    /// The moment the chain is judged at.
    pub at: UnixTime,
    /// Judge under this Apple pinning policy (a name `judging.knowledge` knows) instead of the
    /// host's.
    pub policy: Option<String>,
    pub output: OutputPlan,
    /// The stores and data that judge, as the report states them.
    pub context: RunContext,
}
