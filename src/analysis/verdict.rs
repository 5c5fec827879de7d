//! The verdict logic, in one place.
//!
//! A chain is judged three ways: against the public roots (what the world trusts), against this
//! machine's native store (where an inspection CA installed by policy shows up), and against an
//! Apple device's view (the public roots, Apple's roots where available, and the keys of Apple's own
//! CAs, so a genuine Apple chain is recognised even when Apple Root CA is not at hand). A chain the
//! device view accepts is then held to Apple's pinning rules for its host; names never make such a
//! chain suspect. A chain it refuses is searched for evidence of interception, and only evidence
//! makes it `intercepted` rather than `untrusted` (a known inspection product's CA name counts as
//! evidence here, on a chain devices already refuse).

use std::cell::OnceCell;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};

use super::apple::{self, AnchorView, PathView, PinningResult};
use super::chain::{self, CertFacts, SCT_LIST_OID};
use super::knowledge::{CaKind, Policy};
use super::trust::{AnchorInfo, RootSet, TrustContext, check_name, verify_path};
use super::{Assessment, Code, Context, Finding, Interception, Severity, Verdict};
use crate::observation::{Captured, DnsProblem, Failure, FailureKind, Observation, TlsParams};

/// Findings that are evidence of interception: any one makes a refused chain `intercepted`.
const EVIDENCE: [Code; 7] = [
    Code::AnchorNativeOnly,
    Code::AnchorInNoStore,
    Code::IssuerSignatureMismatch,
    Code::AppleNamesCopied,
    Code::LeafKeyEqualsIssuerKey,
    Code::KnownInspectionProduct,
    Code::TlsProfileMismatch,
];

/// Apple's marker extensions live under this arc.
const APPLE_MARKER_ARC: &str = "1.2.840.113635.100.6.";

/// The verdict logic's working state.
pub(super) struct Judgement {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub chain: Vec<CertFacts>,
    pub anchor: Option<String>,
    /// SHA-256 of the anchor's key, when known.
    pub anchor_spki: Option<String>,
    pub pinning: Option<PinningResult>,
    /// The inspection product the chain identifies, if any.
    pub product: Option<String>,
}

impl Judgement {
    pub fn new(verdict: Verdict, findings: Vec<Finding>) -> Self {
        Self {
            verdict,
            findings,
            chain: Vec::new(),
            anchor: None,
            anchor_spki: None,
            pinning: None,
            product: None,
        }
    }

    pub fn into_assessment(
        self,
        explanation: String,
        revocation: Vec<super::revocation::RevocationStatus>,
    ) -> Assessment {
        let interception = self.interception();
        Assessment {
            revocation,
            verdict: self.verdict,
            findings: self.findings,
            explanation,
            chain: self.chain.into_iter().map(|f| f.summary).collect(),
            anchor: self.anchor,
            anchor_spki_sha256: self.anchor_spki,
            pinning: self.pinning,
            interception,
        }
    }

    pub fn has(&self, code: Code) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }

    /// For an intercepted target: the product, the anchor and the evidence, all read off the
    /// judgement. A missing SCT counts as evidence only on a chain devices refuse; on an accepted
    /// one it is a plain warning.
    pub fn interception(&self) -> Option<Interception> {
        if self.verdict != Verdict::Intercepted {
            return None;
        }
        let refused = !self.has(Code::ChainValid);
        Some(Interception {
            product: self.product.clone(),
            anchor_subject: self.anchor.clone(),
            evidence: self
                .findings
                .iter()
                .map(|f| f.code)
                .filter(|c| {
                    EVIDENCE.contains(c)
                        || *c == Code::PinMismatch
                        || (refused && *c == Code::MissingSct)
                })
                .collect(),
        })
    }
}

pub(super) fn judge_failure(
    failure: &Failure,
    captured: Option<&Captured>,
    obs: &Observation,
    ctx: &Context<'_>,
) -> Judgement {
    let (verdict, code) = match &failure.kind {
        FailureKind::Dns(problem) => (Verdict::DnsError, dns_code(*problem)),
        FailureKind::Refused => (Verdict::Blocked, Code::ConnectionRefused),
        FailureKind::Reset => (Verdict::Blocked, Code::ConnectionReset),
        FailureKind::Closed => (Verdict::Blocked, Code::ConnectionClosed),
        FailureKind::Unreachable => (Verdict::Blocked, Code::Unreachable),
        FailureKind::Io => (Verdict::Blocked, Code::IoError),
        FailureKind::Timeout => (Verdict::Timeout, Code::Timeout),
        FailureKind::TlsAlert(_) => (Verdict::TlsError, Code::TlsAlert),
        FailureKind::NotTls => (Verdict::TlsError, Code::NotTls),
        FailureKind::TlsProtocol => (Verdict::TlsError, Code::TlsProtocolError),
        FailureKind::UnexpectedAnswer => (Verdict::ProtocolError, Code::UnexpectedAnswer),
        FailureKind::Proxy(Some(407)) => (Verdict::ProxyError, Code::ProxyAuthRequired),
        FailureKind::Proxy(Some(500..=599)) => (Verdict::ProxyError, Code::ProxyUpstreamError),
        FailureKind::Proxy(Some(200)) | FailureKind::Proxy(None) => {
            (Verdict::ProxyError, Code::ProxyClosed)
        }
        FailureKind::Proxy(Some(_)) => (Verdict::ProxyError, Code::ProxyRefused),
    };
    let failed = Finding::new(
        code,
        Severity::Error,
        format!("{}: {}", failure.phase.as_str(), failure.detail),
    );
    let Some(captured) = captured.filter(|c| !c.chain.is_empty()) else {
        return Judgement::new(verdict, vec![failed]);
    };
    // A chain arrived before the failure: judge it too. Evidence of interception outranks the
    // failure (a middlebox that forges and then drops is still the cause); otherwise the failure is
    // the verdict and the chain's findings are context.
    let mut j = judge_chain(captured, obs, None, ctx);
    if j.verdict == Verdict::Intercepted {
        j.findings.push(failed);
    } else {
        j.verdict = verdict;
        j.findings.retain(|f| f.code != Code::ChainValid);
        j.findings.insert(0, failed);
    }
    j
}

/// Each reason a name did not resolve has its own finding code.
fn dns_code(problem: DnsProblem) -> Code {
    match problem {
        DnsProblem::NoSuchName => Code::DnsNxdomain,
        DnsProblem::ServerFailure => Code::DnsServfail,
        DnsProblem::Refused => Code::DnsRefused,
        DnsProblem::NoAddresses => Code::DnsNoAddresses,
        DnsProblem::NoAnswer => Code::DnsNoAnswer,
        _ => Code::DnsFailure,
    }
}

/// How the device's view and this machine's native store see one chain at one instant. The native
/// path is worked out only when a refused chain needs it: a chain the device accepts is settled
/// with one path validation, which is most of an audit's work.
struct Paths<'c> {
    chain: &'c [CertificateDer<'static>],
    native_store: &'c RootSet,
    at: UnixTime,
    device: Result<AnchorInfo, webpki::Error>,
    native: OnceCell<Result<AnchorInfo, webpki::Error>>,
}

impl<'c> Paths<'c> {
    /// `known` is the device store extended with the chain's known CA keys; it is consulted only
    /// when the store alone fails, so a path to a real root is preferred when one is available.
    fn at(
        chain: &'c [CertificateDer<'static>],
        trust: &'c TrustContext,
        known: Option<&RootSet>,
        at: UnixTime,
    ) -> Self {
        let device = verify_path(chain, &trust.device, at)
            .or_else(|e| known.map_or(Err(e), |k| verify_path(chain, k, at)));
        Self {
            chain,
            native_store: &trust.native,
            at,
            device,
            native: OnceCell::new(),
        }
    }

    fn native(&self) -> &Result<AnchorInfo, webpki::Error> {
        self.native
            .get_or_init(|| verify_path(self.chain, self.native_store, self.at))
    }

    /// Whether a date, not trust, is what fails the chain (see `judge_chain`).
    fn time_error(&self) -> bool {
        match &self.device {
            Ok(_) => false,
            Err(e) if is_time_error(e) => true,
            Err(_) => matches!(self.native(), Err(e) if is_time_error(e)),
        }
    }
}

/// The most certificates of one chain the analysis reads. Servers send a handful (webpki builds paths
/// of at most six intermediates); more is a broken server or a hostile file.
pub const MAX_CHAIN_CERTS: usize = 32;
/// The largest certificate the analysis reads. Real certificates, even with hundreds of names, take
/// a few KiB; and rustls accepts no handshake message (the whole chain) over 64 KiB.
pub const MAX_CERT_BYTES: usize = 64 * 1024;
/// The most bytes of certificates in one chain the analysis reads.
pub const MAX_CHAIN_BYTES: usize = 256 * 1024;

/// Why a chain is beyond what the analysis reads, if it is.
fn over_budget(chain: &[CertificateDer<'_>]) -> Option<String> {
    let total: usize = chain.iter().map(|c| c.len()).sum();
    if chain.len() > MAX_CHAIN_CERTS {
        return Some(format!(
            "the chain has {} certificates; pinscope judges chains of at most {MAX_CHAIN_CERTS} (servers send a handful), so it is refused unjudged",
            chain.len()
        ));
    }
    if let Some((i, c)) = chain
        .iter()
        .enumerate()
        .find(|(_, c)| c.len() > MAX_CERT_BYTES)
    {
        return Some(format!(
            "certificate {i} in the chain takes {} bytes; pinscope judges certificates of at most {MAX_CERT_BYTES} bytes (real ones take a few KiB), so the chain is refused unjudged",
            c.len()
        ));
    }
    (total > MAX_CHAIN_BYTES).then(|| {
        format!(
            "the chain's certificates take {total} bytes; pinscope judges chains of at most {MAX_CHAIN_BYTES} bytes, so it is refused unjudged"
        )
    })
}

pub(super) fn judge_chain(
    captured: &Captured,
    obs: &Observation,
    tls: Option<&TlsParams>,
    ctx: &Context<'_>,
) -> Judgement {
    let chain = &captured.chain;
    let host = obs.target.host.as_str();
    if let Some(problem) = over_budget(chain) {
        // Describe what fits the budgets, judge nothing: the work stays bounded whatever was sent.
        let mut j = Judgement::new(
            Verdict::Untrusted,
            vec![Finding::new(Code::ChainInvalid, Severity::Error, problem)],
        );
        j.chain = chain
            .iter()
            .take(MAX_CHAIN_CERTS)
            .take_while(|c| c.len() <= MAX_CERT_BYTES)
            .map(chain::facts)
            .collect();
        return j;
    }
    let facts: Vec<CertFacts> = chain.iter().map(chain::facts).collect();
    let mut findings: Vec<Finding> = facts
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            f.summary.parse_error.as_ref().map(|e| {
                Finding::new(
                    Code::MalformedCertificate,
                    Severity::Warning,
                    format!("certificate {i} in the chain could not be parsed: {e}"),
                )
            })
        })
        .collect();
    let Some(leaf) = chain.first() else {
        findings.push(Finding::new(
            Code::EmptyChain,
            Severity::Error,
            "the server presented no certificate",
        ));
        return Judgement::new(Verdict::Untrusted, findings);
    };
    let name_finding = check_name(leaf, host).err().map(|e| {
        Finding::new(
            Code::NameMismatch,
            Severity::Error,
            format!(
                "the leaf '{}' is not valid for {host} ({})",
                facts[0].subject_cn,
                webpki_reason(&e)
            ),
        )
    });
    let knowledge = ctx.knowledge;
    let policy = ctx.policy.or_else(|| knowledge.pinning.lookup(host));

    // Certificates whose keys are Apple's CAs (or roots Apple trusts) may anchor the device's view:
    // nobody else can sign with those keys, so a chain verified up to one is genuine even when
    // Apple Root CA itself is not available on this machine.
    let known: Vec<CertificateDer<'static>> = chain
        .iter()
        .zip(&facts)
        .filter(|(_, f)| {
            ctx.trust.known_keys && knowledge.cas.is_trusted_key(&f.summary.spki_sha256)
        })
        .map(|(c, _)| c.clone())
        .collect();
    let extended =
        (!known.is_empty()).then(|| ctx.trust.device.extended("Apple's known CA keys", &known));
    let device = extended.as_ref();

    let mut paths = Paths::at(chain, ctx.trust, device, ctx.now);
    let mut time_findings = Vec::new();
    if paths.time_error() {
        // webpki reports an expired certificate before it looks for the issuer, so an expired chain
        // says nothing yet about who signed it: judge the trust at an instant when every presented
        // certificate was valid, and report the dates separately.
        time_findings = time_problems(&facts, ctx.now);
        if let Some(at) = common_validity_instant(&facts) {
            paths = Paths::at(chain, ctx.trust, device, at);
        }
    }
    let dated = !time_findings.is_empty();

    let mut j = match &paths.device {
        Ok(anchor) => judge_accepted(anchor, &facts, obs, tls, policy, ctx, dated),
        Err(err) => judge_refused(err, &paths, &facts, obs, tls, policy, ctx),
    };
    findings.append(&mut j.findings);
    if dated && j.verdict == Verdict::Pass {
        j.verdict = Verdict::Untrusted;
    }
    findings.extend(time_findings);
    if let Some(f) = name_finding {
        if j.verdict == Verdict::Pass {
            j.verdict = Verdict::Untrusted;
        }
        findings.push(f);
    }
    j.findings = findings;
    j.chain = facts;
    j
}

/// The device's view accepts the chain: it is genuine. Apple's pinning rules (if any) decide
/// whether devices use it; otherwise check the issuer is one expected for this host.
#[allow(clippy::too_many_arguments)] // one call site; the arguments are the judgement's inputs
fn judge_accepted(
    anchor: &AnchorInfo,
    facts: &[CertFacts],
    obs: &Observation,
    tls: Option<&TlsParams>,
    policy: Option<&Policy>,
    ctx: &Context<'_>,
    dated: bool,
) -> Judgement {
    let host = obs.target.host.as_str();
    let cas = &ctx.knowledge.cas;
    // The public roots are a subset of the device's store, so the path found there is valid
    // against them exactly when its anchor is a public root.
    let anchored_publicly = ctx.trust.public.has_spki(&anchor.spki_sha256);
    let view = accepted_view(anchor, facts, ctx);
    let anchor_name = view
        .anchor
        .implied_root
        .clone()
        .unwrap_or_else(|| view.anchor.name.clone());
    let how = match cas.by_spki(&anchor.spki_sha256) {
        _ if anchored_publicly => format!("against the {}", ctx.trust.public.label),
        Some(ca) if ca.kind == CaKind::Intermediate && anchor_is_presented(anchor, facts) => {
            format!(
                "up to the known key of Apple's '{}' (signatures checked; the root above it is not needed)",
                ca.name
            )
        }
        _ => format!("against the {}", ctx.trust.device.label),
    };
    let lead = if dated {
        "apart from its validity dates, "
    } else {
        ""
    };
    let mut j = Judgement::new(
        Verdict::Pass,
        vec![Finding::new(
            Code::ChainValid,
            Severity::Info,
            format!("{lead}the chain is valid for {host} {how}; it ends at '{anchor_name}'"),
        )],
    );
    j.anchor = Some(anchor_name.clone());
    j.anchor_spki = match &view.anchor.implied_root {
        Some(root) => cas
            .by_name(root)
            .find(|c| c.kind == CaKind::Root)
            .and_then(|c| c.spki_sha256.clone()),
        None => Some(anchor.spki_sha256.clone()),
    };
    if let Some(mut f) = tls_profile_mismatch(obs, tls) {
        // The chain is genuine, so this is the server changing rather than a forgery: a warning.
        f.severity = Severity::Warning;
        let observed = f
            .message
            .split(": something else")
            .next()
            .unwrap_or("")
            .to_owned();
        f.message =
            format!("{observed}; the chain is genuine, so the service itself may have changed");
        j.findings.push(f);
    }

    if let Some(policy) = policy {
        let result = apple::evaluate(policy, &view, cas);
        if result.satisfied {
            let which = result
                .rule_results
                .iter()
                .position(|r| r.passed)
                .map_or(0, |i| i + 1);
            j.findings.push(Finding::new(
                Code::PinningSatisfied,
                Severity::Info,
                format!(
                    "Apple pins {host} with policy {}; the chain satisfies rule set {which}",
                    policy.name
                ),
            ));
        } else {
            j.verdict = Verdict::Untrusted;
            j.findings.push(Finding::new(
                Code::PinningFailed,
                Severity::Error,
                format!(
                    "Apple pins {host} with policy {}, and the chain fails it: {}",
                    policy.name,
                    result
                        .closest_failure()
                        .unwrap_or("no rule set is satisfied")
                ),
            ));
        }
        j.pinning = Some(result);
        return j;
    }

    // Not pinned: devices use their system trust store. Say so when the CA is not one this host is
    // normally served under.
    let expected = &ctx.knowledge.expected;
    let section = obs.target.row.as_ref().map(|r| r.section.as_str());
    if let Some(rule) = expected.rule_for(host, section) {
        let ca_names = view.certs.iter().skip(1).flat_map(|c| c.names()).chain(
            std::iter::once(view.anchor.name.as_str()).chain(view.anchor.implied_root.as_deref()),
        );
        if !expected.matches(rule, ca_names) {
            let issuer = view.certs.first().map_or("?", |c| c.issuer_cn.as_str());
            j.findings.push(Finding::new(
                Code::UnexpectedIssuer,
                Severity::Warning,
                format!(
                    "the chain comes from '{issuer}' under '{anchor_name}', not from a CA family expected for {host} ({}); devices accept it, but check what issues this certificate",
                    expected.family_titles(rule).join(", ")
                ),
            ));
        }
    }
    if anchored_publicly && !facts[0].has_extension(SCT_LIST_OID) {
        j.findings.push(Finding::new(
            Code::MissingSct,
            Severity::Warning,
            "the leaf embeds no Signed Certificate Timestamps; Apple devices require Certificate \
             Transparency for publicly trusted certificates (SCTs may also come in the handshake, \
             which this check does not see)",
        ));
    }
    j
}

/// Whether the path's anchor is one of the presented certificates (a known key), not a root from
/// a store.
fn anchor_is_presented(anchor: &AnchorInfo, facts: &[CertFacts]) -> bool {
    facts
        .iter()
        .any(|f| f.summary.spki_sha256 == anchor.spki_sha256)
}

/// The validated path as Apple's checks see it.
fn accepted_view(anchor: &AnchorInfo, facts: &[CertFacts], ctx: &Context<'_>) -> PathView {
    let find = |der: &CertificateDer<'_>| {
        let f = chain::facts(der);
        facts
            .iter()
            .find(|p| p.summary.sha256 == f.summary.sha256)
            .cloned()
            .unwrap_or(f)
    };
    let mut certs = vec![facts[0].clone()];
    certs.extend(anchor.intermediates.iter().map(find));
    let anchor_facts = anchor.cert.as_ref().map(find);
    let known = ctx.knowledge.cas.by_spki(&anchor.spki_sha256);
    let implied_root = match (known, &anchor_facts) {
        (Some(ca), Some(f)) if ca.kind == CaKind::Intermediate => Some(f.issuer_cn.clone()),
        _ => None,
    };
    let has_cert = anchor_facts.is_some();
    let view_anchor = AnchorView {
        name: anchor.subject.clone(),
        spki_sha256: Some(anchor.spki_sha256.clone()),
        cert_sha256: anchor_facts.as_ref().map(|f| f.summary.sha256.clone()),
        implied_root: implied_root.clone(),
    };
    if let Some(f) = anchor_facts {
        certs.push(f);
    }
    let length = certs.len() + usize::from(!has_cert) + usize::from(implied_root.is_some());
    PathView {
        certs,
        anchor: view_anchor,
        length,
    }
}

/// The device's view refuses the chain. Decide between interception and a broken chain, from
/// evidence.
fn judge_refused(
    err: &webpki::Error,
    paths: &Paths,
    facts: &[CertFacts],
    obs: &Observation,
    tls: Option<&TlsParams>,
    policy: Option<&Policy>,
    ctx: &Context<'_>,
) -> Judgement {
    let knowledge = ctx.knowledge;
    let walk = issuer_walk(facts);
    let mut j = match paths.native() {
        Ok(anchor) => native_only(anchor, &ctx.trust.native.label),
        Err(_) => judge_unanchored(err, facts, &walk, ctx.trust),
    };

    if let Some(f) = names_copied(facts, &walk, ctx) {
        j.findings.push(f);
    }
    if let Some(f) = leaf_key_reused(facts, &walk) {
        j.findings.push(f);
    }
    let top = &facts[*walk.last().unwrap_or(&0)];
    let cas_presented: Vec<&CertFacts> = walk.iter().skip(1).map(|&i| &facts[i]).collect();
    let unsent_issuer: Vec<&str> = if top.self_issued() {
        Vec::new()
    } else {
        top.issuer_names().collect()
    };
    let mut product = None;
    if let Some((p, how)) = knowledge.products.identify(&cas_presented, &unsent_issuer) {
        let why = match how {
            super::knowledge::ProductMatch::Key { ca } => {
                format!("'{ca}' has the key of {}'s CA", p.name)
            }
            super::knowledge::ProductMatch::Name { ca, pattern } => {
                format!("'{ca}' carries {}'s CA name ('{pattern}')", p.name)
            }
        };
        j.findings.push(Finding::new(
            Code::KnownInspectionProduct,
            Severity::Error,
            format!("the chain was issued by {} ({}): {why}", p.name, p.kind),
        ));
        product = Some(p.name.clone());
    }
    if let Some(f) = tls_profile_mismatch(obs, tls) {
        j.findings.push(f);
    }
    if EVIDENCE.iter().any(|c| j.has(*c)) {
        j.verdict = Verdict::Intercepted;
        if !facts[0].has_extension(SCT_LIST_OID) {
            j.findings.push(Finding::new(
                Code::MissingSct,
                Severity::Warning,
                "the leaf embeds no Signed Certificate Timestamps: publicly trusted certificates must carry them, forged ones rarely do",
            ));
        }
    }
    if j.anchor.is_none() {
        j.anchor = Some(if top.self_issued() {
            top.subject_cn.clone()
        } else {
            top.issuer_cn.clone()
        });
    }
    if j.anchor_spki.is_none() && top.self_issued() {
        j.anchor_spki = Some(top.summary.spki_sha256.clone());
    }
    if let Some(policy) = policy {
        let view = presented_view(facts, &walk);
        let mut result = apple::evaluate(policy, &view, &knowledge.cas);
        let message = match result.closest_failure() {
            Some(failure) => format!(
                "Apple pins {} with policy {}, and the chain fails it: {failure}",
                obs.target.host, policy.name
            ),
            // The certificates say what the policy asks for, but the chain does not verify:
            // copied contents on other keys, or a broken chain.
            None => format!(
                "Apple pins {} with policy {}; the chain's certificates carry what it asks for, but devices refuse the chain itself",
                obs.target.host, policy.name
            ),
        };
        j.findings
            .push(Finding::new(Code::PinningFailed, Severity::Error, message));
        // A chain devices refuse satisfies no pin, whatever its contents.
        result.satisfied = false;
        j.pinning = Some(result);
    }
    j.product = product;
    j
}

/// The presented chain in issuer order, for reporting which pinning checks a refused chain fails.
fn presented_view(facts: &[CertFacts], walk: &[usize]) -> PathView {
    let certs: Vec<CertFacts> = walk.iter().map(|&i| facts[i].clone()).collect();
    let top = &facts[*walk.last().unwrap_or(&0)];
    let (anchor, extra) = if top.self_issued() {
        (
            AnchorView {
                name: top.subject_cn.clone(),
                spki_sha256: Some(top.summary.spki_sha256.clone()),
                cert_sha256: Some(top.summary.sha256.clone()),
                implied_root: None,
            },
            0,
        )
    } else {
        (
            AnchorView {
                name: top.issuer_cn.clone(),
                ..AnchorView::default()
            },
            1,
        )
    };
    PathView {
        length: certs.len() + extra,
        certs,
        anchor,
    }
}

fn native_only(anchor: &AnchorInfo, label: &str) -> Judgement {
    let mut j = Judgement::new(
        Verdict::Intercepted,
        vec![Finding::new(
            Code::AnchorNativeOnly,
            Severity::Error,
            format!(
                "the chain ends at '{}', which only the {label} trusts and no public or Apple \
                 root does: a CA installed on this machine, as SSL-inspection products install theirs",
                anchor.subject
            ),
        )],
    );
    j.anchor = Some(anchor.subject.clone());
    j.anchor_spki = Some(anchor.spki_sha256.clone());
    j
}

/// Neither the device's view nor the native store accepts the chain: does it end at a CA that is
/// not public (a forgery), or is it merely broken?
fn judge_unanchored(
    err: &webpki::Error,
    facts: &[CertFacts],
    walk: &[usize],
    trust: &TrustContext,
) -> Judgement {
    if matches!(err, webpki::Error::InvalidSignatureForPublicKey) {
        // A CA key rollover puts a self-issued certificate (same name, new key, signed by the old
        // key) in the chain. The validator does not follow it and reports a bad signature; that
        // is a chain devices may refuse, not a forgery.
        if let Some(rollover) = facts.iter().skip(1).find(|f| is_key_rollover(f)) {
            return Judgement::new(
                Verdict::Untrusted,
                vec![Finding::new(
                    Code::ChainInvalid,
                    Severity::Error,
                    format!(
                        "the chain holds '{}', a self-issued CA certificate from a key rollover \
                         (same name, another key), which the path validator does not follow; no \
                         sign of forgery",
                        rollover.subject_cn
                    ),
                )],
            );
        }
        return Judgement::new(
            Verdict::Intercepted,
            vec![Finding::new(
                Code::IssuerSignatureMismatch,
                Severity::Error,
                "a certificate in the chain names a trusted CA as its issuer, but that CA's key \
                 did not sign it: the issuer's name was copied onto a forged certificate",
            )],
        );
    }
    if !matches!(err, webpki::Error::UnknownIssuer) {
        return Judgement::new(
            Verdict::Untrusted,
            vec![Finding::new(
                Code::ChainInvalid,
                Severity::Error,
                format!("the chain is invalid: {}", webpki_reason(err)),
            )],
        );
    }
    let top_index = *walk.last().unwrap_or(&0);
    let top = &facts[top_index];
    if top.self_issued() {
        let message = if top_index == 0 {
            format!(
                "the server presented a self-signed certificate '{}' that no trust store holds",
                top.subject_cn
            )
        } else {
            format!(
                "the chain ends at '{}', a self-signed CA that no trust store holds \
                 (neither the {}, nor Apple's roots, nor the {})",
                top.subject_cn, trust.public.label, trust.native.label
            )
        };
        let mut j = Judgement::new(
            Verdict::Intercepted,
            vec![Finding::new(
                Code::AnchorInNoStore,
                Severity::Error,
                message,
            )],
        );
        j.anchor = Some(top.subject_cn.clone());
        j
    } else if trust.device.has_subject(&top.issuer_der) || trust.native.has_subject(&top.issuer_der)
    {
        Judgement::new(
            Verdict::Intercepted,
            vec![Finding::new(
                Code::IssuerSignatureMismatch,
                Severity::Error,
                format!(
                    "'{}' names '{}' as its issuer, a CA this machine trusts, but that CA's key did \
                     not sign it: the issuer's name was copied",
                    top.subject_cn, top.issuer_cn
                ),
            )],
        )
    } else {
        let mut j = Judgement::new(
            Verdict::Untrusted,
            vec![Finding::new(
                Code::UnknownIssuer,
                Severity::Error,
                format!(
                    "'{}' was issued by '{}', which the server did not send and no trust store \
                     holds: the chain is incomplete, or it comes from a private CA",
                    top.subject_cn, top.issuer_cn
                ),
            )],
        );
        j.anchor = Some(top.issuer_cn.clone());
        j
    }
}

/// A self-issued certificate whose authority key identifier names another key than its own
/// subject key identifier: the new-key certificate of a CA key rollover.
fn is_key_rollover(f: &CertFacts) -> bool {
    const SKI: &str = "2.5.29.14";
    const AKI: &str = "2.5.29.35";
    let ext = |oid: &str| {
        f.extensions
            .iter()
            .find(|(o, _)| o == oid)
            .map(|(_, v)| v.as_slice())
    };
    // SKI is an OCTET STRING holding the key id; AKI a SEQUENCE whose [0] holds it.
    let (Some([0x04, len, ski @ ..]), Some(aki)) = (ext(SKI), ext(AKI)) else {
        return false;
    };
    f.self_issued()
        && usize::from(*len) == ski.len()
        && !ski.is_empty()
        && !aki.windows(ski.len()).any(|w| w == ski)
}

/// Apple's CA names, or Apple's marker extensions, on keys that are not Apple's.
fn names_copied(facts: &[CertFacts], walk: &[usize], ctx: &Context<'_>) -> Option<Finding> {
    let cas = &ctx.knowledge.cas;
    for f in facts.iter() {
        let known: Vec<_> = cas.by_name(&f.subject_cn).collect();
        if !known.is_empty()
            && !known
                .iter()
                .any(|k| k.spki_sha256.as_deref() == Some(f.summary.spki_sha256.as_str()))
        {
            return Some(Finding::new(
                Code::AppleNamesCopied,
                Severity::Error,
                format!(
                    "'{}' carries the name of a known CA, but not its key (SPKI SHA-256 {}): the name was copied",
                    f.subject_cn,
                    short(&f.summary.spki_sha256)
                ),
            ));
        }
    }
    // A leaf with Apple's service markers, issued by a presented CA whose key is not Apple's.
    let leaf = &facts[0];
    let marker = leaf
        .extensions
        .iter()
        .map(|(oid, _)| oid.as_str())
        .find(|oid| oid.starts_with(APPLE_MARKER_ARC))?;
    let issuer = walk.get(1).map(|&i| &facts[i])?;
    if cas.by_spki(&issuer.summary.spki_sha256).is_none() {
        return Some(Finding::new(
            Code::AppleNamesCopied,
            Severity::Error,
            format!(
                "the leaf carries Apple's marker {marker}, but its issuer '{}' is not one of Apple's CA keys: the marker was copied",
                issuer.subject_cn
            ),
        ));
    }
    None
}

/// mitmproxy, squid and similar tools sign every forged leaf with one key, often the CA's own.
fn leaf_key_reused(facts: &[CertFacts], walk: &[usize]) -> Option<Finding> {
    let leaf = &facts[0];
    let issuer = walk.get(1).map(|&i| &facts[i])?;
    (!leaf.summary.spki_sha256.is_empty() && leaf.summary.spki_sha256 == issuer.summary.spki_sha256)
        .then(|| {
            Finding::new(
                Code::LeafKeyEqualsIssuerKey,
                Severity::Error,
                format!(
                    "the leaf has the same key as its issuer '{}', as inspection proxies that reuse their CA key produce",
                    issuer.subject_cn
                ),
            )
        })
}

/// A catalog row may say the real server speaks at most some TLS version.
fn tls_profile_mismatch(obs: &Observation, tls: Option<&TlsParams>) -> Option<Finding> {
    let row = obs.target.row.as_ref()?;
    let tls = tls?;
    let got = tls.version.as_str();
    if let Some(max) = row.tls_max.as_deref()
        && version_number(got)? > version_number(max)?
    {
        return Some(Finding::new(
            Code::TlsProfileMismatch,
            Severity::Error,
            format!(
                "the connection used {got}, but the real server speaks at most TLS {max}: something else terminated TLS"
            ),
        ));
    }
    // The documented cipher list is for TLS 1.2 and below; TLS 1.3 suites are not in it.
    let suite = tls.cipher_suite.as_str();
    if !row.tls_ciphers.is_empty()
        && !suite.starts_with("TLS13_")
        && !row.tls_ciphers.iter().any(|c| c == suite)
    {
        return Some(Finding::new(
            Code::TlsProfileMismatch,
            Severity::Error,
            format!(
                "the connection used the cipher suite {suite}, which the real server does not offer: something else terminated TLS"
            ),
        ));
    }
    None
}

/// "TLSv1.3" or "1.3" as (1, 3).
fn version_number(v: &str) -> Option<(u8, u8)> {
    let digits = v.trim_start_matches("TLSv").trim_start_matches("TLS ");
    let (a, b) = digits.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn short(hex: &str) -> &str {
    hex.get(..16).unwrap_or(hex)
}

fn is_time_error(e: &webpki::Error) -> bool {
    matches!(
        e,
        webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. }
    )
}

fn time_problems(facts: &[CertFacts], now: UnixTime) -> Vec<Finding> {
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let mut found: Vec<Finding> = facts
        .iter()
        .filter_map(|f| {
            if f.not_after < now {
                Some(Finding::new(
                    Code::Expired,
                    Severity::Error,
                    format!("'{}' expired on {}", f.subject_cn, f.summary.not_after),
                ))
            } else if f.not_before > now {
                Some(Finding::new(
                    Code::NotYetValid,
                    Severity::Error,
                    format!(
                        "'{}' is not valid before {}",
                        f.subject_cn, f.summary.not_before
                    ),
                ))
            } else {
                None
            }
        })
        .collect();
    if found.is_empty() {
        found.push(Finding::new(
            Code::Expired,
            Severity::Error,
            "a certificate on the path is outside its validity period",
        ));
    }
    found
}

/// An instant at which every presented certificate is valid, if there is one.
fn common_validity_instant(facts: &[CertFacts]) -> Option<UnixTime> {
    let latest_start = facts.iter().map(|f| f.not_before).max()?;
    let earliest_end = facts.iter().map(|f| f.not_after).min()?;
    if latest_start > earliest_end {
        return None;
    }
    let secs = u64::try_from(latest_start.saturating_add(1).min(earliest_end)).ok()?;
    Some(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
}

/// Indices from the leaf through the presented certificates, following issuer names as far as
/// they go. Each certificate is visited once, so loops end.
fn issuer_walk(facts: &[CertFacts]) -> Vec<usize> {
    let mut walk = vec![0];
    let mut visited = vec![false; facts.len()];
    visited[0] = true;
    let mut current = 0;
    while !facts[current].self_issued() {
        let issuer = &facts[current].issuer_der;
        match (0..facts.len()).find(|&i| !visited[i] && facts[i].subject_der == *issuer) {
            Some(i) => {
                visited[i] = true;
                walk.push(i);
                current = i;
            }
            None => break,
        }
    }
    walk
}

/// webpki's errors, in words.
fn webpki_reason(e: &webpki::Error) -> String {
    use webpki::Error as E;
    match e {
        E::CertNotValidForName(ctx) => {
            // webpki renders names as `DnsName("host")`; show the bare names.
            let presented: Vec<String> = ctx
                .presented
                .iter()
                .map(|p| match (p.find('"'), p.rfind('"')) {
                    (Some(a), Some(b)) if b > a => p[a + 1..b].to_owned(),
                    _ => p.clone(),
                })
                .collect();
            if presented.is_empty() {
                "it names no host".to_owned()
            } else {
                format!("it is for {}", presented.join(", "))
            }
        }
        E::CertExpired { .. } => "expired".into(),
        E::CertNotValidYet { .. } => "not yet valid".into(),
        E::UnknownIssuer => "unknown issuer".into(),
        E::CaUsedAsEndEntity => "a CA certificate is used as the server certificate".into(),
        E::EndEntityUsedAsCa => "a server certificate is used as a CA".into(),
        E::RequiredEkuNotFoundContext(_) => "not issued for TLS server authentication".into(),
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            "signed with an algorithm that is not accepted (for example SHA-1)".into()
        }
        E::NameConstraintViolation => "a CA's name constraints forbid this name".into(),
        E::PathLenConstraintViolated => "a CA's path length constraint is violated".into(),
        E::MaximumPathDepthExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumSignatureChecksExceeded => {
            "path building gave up (too many candidates or too deep)".into()
        }
        other => format!("{other:?}"),
    }
}
