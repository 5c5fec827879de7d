//! Judging what a probe saw. Pure: an observation, the trust stores and a point in time go in; a
//! verdict with graded findings and an explanation comes out. No I/O, no clock, no tokio, so every
//! result can be reproduced from checked-in certificates at any later date.
//!
//! The stages (`judge.rs` for chains and probe failures, with `accepted.rs` and `refused.rs` for
//! the two sides of Apple devices' view; `services.rs`, `drift.rs` against a baseline, and
//! revocation) push graded findings into a sink; `policy.rs` alone turns them into the verdict
//! and the interception record, and `explain.rs` puts the result in words.

mod accepted;
pub mod apple;
pub mod chain;
pub mod ct;
mod drift;
pub mod exemptions;
mod explain;
mod findings;
mod judge;
pub mod knowledge;
mod networks;
mod policy;
mod refused;
pub mod requirements;
pub mod revocation;
mod services;
pub mod signatures;
pub mod signed_path;
#[cfg(test)]
mod test_keys;
pub mod trust;

#[cfg(test)]
mod assess_tests;

use rustls_pki_types::UnixTime;
use serde::Serialize;

pub use crate::model::finding::{Code, Detail, Finding, Severity, Verdict};
use crate::model::observation::{Observation, Outcome};
use apple::PinningResult;
use chain::CertSummary;
use findings::Findings;
use judge::ChainFacts;
use knowledge::{Knowledge, Policy};
pub use policy::Role;
use trust::TrustContext;

/// The verdict for one target, with its evidence.
#[derive(Clone, Debug)]
pub struct Assessment {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    /// What an admin should understand and do, in plain words.
    pub explanation: String,
    /// The presented chain, described, leaf first.
    pub chain: Vec<CertSummary>,
    /// The CA the chain ends at (trusted or not), when known.
    pub anchor: Option<String>,
    /// SHA-256 of the anchor's key, when known.
    pub anchor_spki_sha256: Option<String>,
    /// Apple's pinning policy for this host and how the chain fares (None: Apple does not pin it).
    pub pinning: Option<PinningResult>,
    /// For intercepted targets: who, and on what evidence.
    pub interception: Option<Interception>,
    /// What the OCSP responders and CRLs for this chain said.
    pub revocation: Vec<revocation::RevocationStatus>,
    /// How Apple devices, public clients and this machine each see the chain.
    pub views: Option<TrustViews>,
    /// Certificate Transparency, as Apple's policy reads the leaf.
    pub ct: Option<ct::CtReport>,
}

/// The three views of a chain (JSON `trust_views`). Apple devices' view decides the verdict; the
/// other two explain it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrustViews {
    /// Apple's trust store (plus `--apple-roots` and `--public-roots` files).
    pub apple_devices: View,
    /// Mozilla's store (or `--public-roots`): what Linux and Android clients would do.
    pub public_clients: View,
    /// This machine's native store (or `--native-roots`).
    pub this_machine: View,
}

/// Whether one store leads the chain to an anchor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct View {
    /// The store, as it is described to users.
    pub store: String,
    /// Whether a valid path to one of its anchors exists (dates, names and Apple's extra rules
    /// are judged separately).
    pub accepted: bool,
    /// The anchor the path ends at, when accepted.
    pub anchor: Option<String>,
    /// Why no path was found, when not accepted.
    pub reason: Option<String>,
}

/// Why a target is judged intercepted (JSON `interception`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Interception {
    /// The inspection product, when the chain identifies one.
    pub product: Option<String>,
    pub anchor_subject: Option<String>,
    /// The finding codes that are evidence of interception.
    pub evidence: Vec<Code>,
}

impl Assessment {
    /// What a one-line view shows: for an intercepted target the most telling evidence (the
    /// product, then copied names, then the anchor: the rank of [`Code::role`]), otherwise the
    /// most severe finding (the first of equals).
    pub fn headline(&self) -> Option<&Finding> {
        policy::headline(self.verdict, &self.findings)
    }
}

/// What a judgement depends on besides the observation.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub trust: &'a TrustContext,
    pub knowledge: &'a Knowledge,
    /// The moment the chain is judged at.
    pub now: UnixTime,
    /// Judge every chain under this pinning policy instead of the one Apple applies to its host.
    pub policy: Option<&'a Policy>,
    /// Compare each chain with what this baseline recorded for its target.
    pub baseline: Option<&'a crate::model::baseline::Baseline>,
}

/// Judges one observation: every stage pushes its findings, then the policy decides.
pub fn assess(obs: &Observation, ctx: &Context<'_>) -> Assessment {
    let mut found = Findings::default();
    let facts = match &obs.outcome {
        Outcome::Skipped(reason) => {
            found.info(Code::NotProbed, reason.clone());
            ChainFacts::default()
        }
        Outcome::Handshake { captured, params } => {
            judge::chain(captured, obs, Some(params), ctx, &mut found)
        }
        Outcome::Offline { captured } => judge::chain(captured, obs, None, ctx, &mut found),
        Outcome::Failed { failure, captured } => {
            judge::failure(failure, captured.as_ref(), obs, ctx, &mut found)
        }
        Outcome::Service(answer) => {
            services::judge(answer, obs, ctx, &mut found);
            ChainFacts::default()
        }
    };
    if let (Some(proxy), Some(row)) = (&obs.proxy, &obs.target.row)
        && row.supports_proxy == crate::catalog::ProxySupport::No
    {
        found.warn(
            Code::ProxyNotSupported,
            format!(
                "this connection went through the proxy {proxy}, but the source does not list {} as working through proxies; devices may need a direct path",
                obs.target.host
            ),
        );
    }
    networks::check(obs, &mut found);
    if let Some(entry) = ctx
        .baseline
        .and_then(|b| b.entry(&obs.target.host, obs.target.port, obs.target.transport))
    {
        drift::compare(entry, obs, &facts, &mut found);
    }
    let revocation = revocation::judge(obs, &facts.chain, ctx.now);
    found.extend(revocation.findings);

    let decision = policy::decide(found.as_slice(), facts.anchor.as_deref());
    let explanation = explain::explain(obs, &found, &facts, &decision, ctx);
    Assessment {
        verdict: decision.verdict,
        findings: found.into_vec(),
        explanation,
        chain: facts.chain.into_iter().map(|f| f.summary).collect(),
        anchor: facts.anchor,
        anchor_spki_sha256: facts.anchor_spki,
        pinning: facts.pinning,
        interception: decision.interception,
        revocation: revocation.statuses,
        views: facts.views,
        ct: facts.ct,
    }
}
