//! A chain Apple devices' view accepts: a valid path to a root of Apple's trust store (or to a root
//! the user supplied). It is genuine as far as keys go; what remains is whether devices use it:
//! Apple's pinning rules for the host, Apple's certificate requirements and its CT policy. Names
//! never make such a chain suspect.

use rustls_pki_types::{CertificateDer, UnixTime};

use super::apple::{self, AnchorView, PathView};
use super::chain::{self, CertFacts};
use super::ct;
use super::findings::Findings;
use super::judge::{ChainFacts, ChainInput, Paths, tls_profile_mismatch};
use super::requirements::{self, RootOrigin};
use super::trust::{AnchorInfo, RootSet, verify_path, webpki_reason};
use super::{Code, Finding, Severity};

/// Apple requires CT for certificates issued from this moment (15 October 2018 00:00 UTC) that
/// chain to a root of its trust store.
const CT_REQUIRED_FROM: i64 = 1_539_561_600;

pub(super) fn judge(
    anchor: &AnchorInfo,
    paths: &Paths<'_>,
    input: &ChainInput<'_>,
    found: &mut Findings,
) -> ChainFacts {
    let ctx = input.ctx;
    let host = input.host();
    let facts = input.facts;
    let store_root = ctx.trust.apple.root_by_spki(&anchor.spki_sha256);
    let origin = if store_root.is_some() {
        RootOrigin::System
    } else {
        RootOrigin::Installed
    };
    let view = accepted_view(anchor, facts);
    let how = match store_root {
        Some(_) => format!(
            "against Apple's trust store (version {})",
            ctx.trust.apple.version
        ),
        None => format!("against the {}", ctx.trust.device.label),
    };
    let lead = if input.dated {
        "apart from its validity dates, "
    } else {
        ""
    };
    found.info(
        Code::ChainValid,
        format!(
            "{lead}the chain is valid for {host} {how}; it ends at '{}'",
            anchor.subject
        ),
    );
    let mut j = ChainFacts::anchored(anchor.subject.clone(), Some(anchor.spki_sha256.clone()));
    // The chain is genuine, so another TLS profile is the server changing, not a forgery.
    found.extend(tls_profile_mismatch(input.obs, input.tls, true));

    // Apple's requirements for TLS certificates: a chain that fails one is refused by devices
    // whatever its anchor.
    let path: Vec<&[u8]> = std::iter::once(input.certs[0].as_ref())
        .chain(anchor.intermediates.iter().map(CertificateDer::as_ref))
        .chain(anchor.cert.as_ref().map(CertificateDer::as_ref))
        .collect();
    found.extend(
        requirements::check(&path, origin)
            .into_iter()
            .map(requirements::Unmet::refusal),
    );

    // Certificate Transparency: required for chains to Apple's system roots, but Apple's own roots
    // issue for Apple's services without logging, so those are reported and not required.
    let issuer_spki = anchor
        .intermediates
        .first()
        .map(|c| chain::facts(c).spki_der)
        .or_else(|| store_root.map(|r| r.spki_der.clone()))
        .or_else(|| anchor.cert.as_ref().map(|c| chain::facts(c).spki_der));
    let report = ct::evaluate(
        input.certs[0].as_ref(),
        issuer_spki.as_deref(),
        None,
        input.stapled_ocsp,
        &ctx.trust.apple.ct_logs,
        paths.at,
    );
    let exemption = if store_root.is_none() {
        Some("its root is not one of Apple's store but one installed on the device")
    } else if ctx.knowledge.cas.is_apple_root(&anchor.spki_sha256) {
        Some(
            "its root is one of Apple's own, under which Apple issues for its services without logging",
        )
    } else if facts[0].not_before < CT_REQUIRED_FROM {
        Some("the certificate was issued before 15 October 2018")
    } else {
        None
    };
    found.extend(ct_finding(&report, exemption));
    j.ct = Some(report);

    if let Err(e) = paths.public() {
        found.info(
            Code::PublicClientsRefuse,
            format!(
                "clients that use Mozilla's roots (Linux, Android, Firefox) would refuse this chain \
                 ({}): it leads to none of the {}; Apple devices accept it",
                webpki_reason(e),
                ctx.trust.public.label
            ),
        );
    }

    if let Some(policy) = input.policy {
        let mut result = apple::evaluate(policy, &view, &ctx.knowledge.cas);
        if !result.satisfied
            && let Some(longer) = path_beyond_trusted_ca(anchor, input, paths.at)
        {
            // Apple's path builder keeps every candidate path and takes one that satisfies the
            // policy: a CA given as an anchor that itself chains to a root of Apple's store gives
            // the longer path too.
            let alt = apple::evaluate(policy, &accepted_view(&longer, facts), &ctx.knowledge.cas);
            if alt.satisfied {
                result = alt;
            }
        }
        if result.satisfied {
            let which = result
                .rule_results
                .iter()
                .position(|r| r.passed)
                .map_or(0, |i| i + 1);
            found.info(
                Code::PinningSatisfied,
                format!(
                    "Apple pins {host} with policy {}; the chain satisfies rule set {which}",
                    policy.name
                ),
            );
        } else {
            found.error(
                Code::PinningFailed,
                format!(
                    "Apple pins {host} with policy {}, and the chain fails it: {}",
                    policy.name,
                    result
                        .closest_failure()
                        .unwrap_or("no rule set is satisfied")
                ),
            );
        }
        j.pinning = Some(result);
        return j;
    }

    // Not pinned: devices use their system trust store. For a catalog host, say so when the CA is
    // not one this host is normally served under; hosts outside the catalog have no expectation.
    let expected = &ctx.knowledge.expected;
    if let Some(row) = input.obs.target.row.as_ref()
        && let Some(rule) = expected.rule_for(host, Some(row.section.as_str()))
    {
        let ca_names = view
            .certs
            .iter()
            .skip(1)
            .flat_map(|c| c.names())
            .chain(std::iter::once(view.anchor.name.as_str()));
        if !expected.matches(rule, ca_names) {
            let issuer = view.certs.first().map_or("?", |c| c.issuer_cn.as_str());
            found.warn(
                Code::UnexpectedIssuer,
                format!(
                    "the chain comes from '{issuer}' under '{}', not from a CA family expected for {host} ({}); devices accept it, but check what issues this certificate",
                    anchor.subject,
                    expected.family_titles(rule).join(", ")
                ),
            );
        }
    }
    j
}

/// What Apple's CT policy makes of the leaf; `exemption` says why Apple does not require CT of this
/// chain, when it does not. Without any SCT in sight the leaf may still carry them in the TLS
/// extension, which this client does not see: a warning, never a refusal.
fn ct_finding(report: &ct::CtReport, exemption: Option<&str>) -> Option<Finding> {
    let summary = ct::summary(report);
    if report.scts.is_empty() {
        return exemption.is_none().then(|| {
            Finding::new(
                Code::MissingSct,
                Severity::Warning,
                "no Signed Certificate Timestamps were found in the leaf or a stapled OCSP \
                 response; Apple devices require Certificate Transparency for certificates from \
                 public roots (SCTs may also come in a TLS extension, which this check does not \
                 see)",
            )
        });
    }
    if report.compliant {
        return Some(Finding::new(Code::CtCompliant, Severity::Info, summary));
    }
    if let Some(why) = exemption {
        return Some(Finding::new(
            Code::CtNotRequired,
            Severity::Info,
            format!("{summary}; Apple does not require Certificate Transparency here: {why}"),
        ));
    }
    Some(Finding::new(
        Code::CtNotCompliant,
        Severity::Error,
        format!(
            "{summary}; Apple devices refuse certificates from the roots of their store that do \
             not meet it"
        ),
    ))
}

/// When the anchor is a CA certificate that is not self-issued (an intermediate given as a trust
/// anchor), the path that continues through it to a root of Apple's store, if one exists.
fn path_beyond_trusted_ca(
    anchor: &AnchorInfo,
    input: &ChainInput<'_>,
    at: UnixTime,
) -> Option<AnchorInfo> {
    let ca = anchor.cert.as_ref()?;
    if chain::facts(ca).self_issued() {
        return None;
    }
    let chain: Vec<CertificateDer<'static>> = std::iter::once(input.certs[0].clone())
        .chain(anchor.intermediates.iter().cloned())
        .chain(std::iter::once(ca.clone()))
        .collect();
    let apple = &input.ctx.trust.apple;
    let store = RootSet::from_anchors("Apple's trust store", apple.tls_anchors());
    verify_path(&chain, &store, at).ok()
}

/// The validated path as Apple's checks see it.
fn accepted_view(anchor: &AnchorInfo, facts: &[CertFacts]) -> PathView {
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
    let has_cert = anchor_facts.is_some();
    let view_anchor = AnchorView {
        name: anchor.subject.clone(),
        spki_sha256: Some(anchor.spki_sha256.clone()),
        cert_sha256: anchor_facts.as_ref().map(|f| f.summary.sha256.clone()),
    };
    if let Some(f) = anchor_facts {
        certs.push(f);
    }
    let length = certs.len() + usize::from(!has_cert);
    PathView {
        certs,
        anchor: view_anchor,
        length,
    }
}
