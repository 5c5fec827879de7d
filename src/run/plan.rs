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
    pub targets: Vec<Target>,
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
