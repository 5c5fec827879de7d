//! A chain Apple devices' view refuses. Interception or a broken chain? Decided from evidence: the
//! chain is followed by its signatures (`signed_path`), so who signed what is known whatever the
//! algorithms, and only evidence of a forgery (an anchor only this machine trusts, a self-signed
//! anchor nobody trusts, a signature that fails under the named issuer's key, copied names or SCTs,
//! a reused key, a product's CA, an issuer foreign to the host) makes it `intercepted`.

use super::Detail;
use super::apple::{self, AnchorView, PathView};
use super::chain::{CertFacts, SCT_LIST_OID};
use super::ct::{self, SctStatus};
use super::findings::Findings;
use super::judge::{ChainFacts, ChainInput, Paths, hex_prefix, issuer_walk, tls_profile_mismatch};
use super::knowledge::{CaNames, ProductMatch};
use super::requirements::{self, RootOrigin};
use super::signed_path::{self, PathEnd, SignedPath};
use super::trust::{verify_path, webpki_reason};
use super::{Code, Finding, Severity, policy};

/// Apple's marker extensions live under this arc.
const APPLE_MARKER_ARC: &str = "1.2.840.113635.100.6.";

pub(super) fn judge(
    err: &webpki::Error,
    paths: &Paths<'_>,
    input: &ChainInput<'_>,
    found: &mut Findings,
) -> ChainFacts {
    let ctx = input.ctx;
    let facts = input.facts;
    let ders: Vec<&[u8]> = input.certs.iter().map(|c| c.as_ref()).collect();
    let signed = signed_path::follow(facts, &ders, ctx.trust);
    let walk = issuer_walk(facts);

    if let Some(j) = transparent(&signed, paths, input, found) {
        return j;
    }
    let mut j = from_path_end(err, &signed, input, found);
    let device_anchored = signed.anchor_stores().is_some_and(|s| s.device);
    if !device_anchored {
        found.extend(names_copied(facts, &signed, &walk, input));
        found.extend(leaf_key_reused(facts, &walk, &signed));
        found.extend(copied_scts(&signed, input));
    }
    let top = &facts[*walk.last().unwrap_or(&0)];
    let cas_presented: Vec<&CertFacts> = walk.iter().skip(1).map(|&i| &facts[i]).collect();
    let unsent_issuer = (!top.self_issued()).then(|| CaNames::issuer_of(top));
    if let Some((p, how)) = ctx
        .knowledge
        .products
        .identify(&cas_presented, unsent_issuer)
    {
        let why = match how {
            ProductMatch::Key { ca } => format!("'{ca}' has the key of {}'s CA", p.name),
            ProductMatch::Name { ca, pattern } => {
                format!("'{ca}' carries {}'s CA name ('{pattern}')", p.name)
            }
        };
        found.push(
            Finding::new(
                Code::KnownInspectionProduct,
                Severity::Error,
                format!("the chain was issued by {} ({}): {why}", p.name, p.kind),
            )
            .with_detail(Detail::Product {
                name: p.name.clone(),
                kind: p.kind.clone(),
            }),
        );
    }
    // The chain is refused, so another TLS profile is evidence that something else terminated TLS.
    found.extend(tls_profile_mismatch(input.obs, input.tls, false));
    let forged = policy::shows_interception(found.as_slice());
    if forged && !facts[0].has_extension(SCT_LIST_OID) {
        found.warn(
            Code::MissingSct,
            "the leaf embeds no Signed Certificate Timestamps: publicly trusted certificates must carry them, forged ones rarely do",
        );
    }
    // Apple's certificate requirements, for the path as signed. On a forged chain they answer the
    // question a proxy vendor asks: would devices take this product's certificates even where its
    // CA is installed and the host not pinned?
    // The anchor's own certificate counts too (its key size), when a store holds it.
    let trust = ctx.trust;
    let anchor_cert = match &signed.end {
        PathEnd::Anchor { spki_sha256, .. } => [&trust.native, &trust.transparent, &trust.device]
            .into_iter()
            .find_map(|set| set.cert_for_spki(spki_sha256)),
        _ => None,
    };
    let path: Vec<&[u8]> = signed
        .walk
        .iter()
        .map(|&i| ders[i])
        .chain(anchor_cert.map(|c| c.as_ref()))
        .collect();
    let in_apple_store = |spki: &str| trust.apple.root_by_spki(spki).is_some();
    let origin = match &signed.end {
        PathEnd::Anchor { spki_sha256, .. } if in_apple_store(spki_sha256) => RootOrigin::System,
        PathEnd::SelfSigned { .. } if in_apple_store(&facts[signed.top()].summary.spki_sha256) => {
            RootOrigin::System
        }
        _ => RootOrigin::Installed,
    };
    found.extend(requirements::check(&path, origin).into_iter().map(|unmet| {
        if forged {
            unmet.on_forged_chain()
        } else {
            unmet.refusal()
        }
    }));

    let top_signed = &facts[signed.top()];
    if j.anchor.is_none() {
        j.anchor = Some(if top_signed.self_issued() {
            top_signed.subject_cn.clone()
        } else {
            top_signed.issuer_cn.clone()
        });
    }
    if j.anchor_spki.is_none() && top_signed.self_issued() {
        j.anchor_spki = Some(top_signed.summary.spki_sha256.clone());
    }
    if let Some(policy) = input.policy {
        let view = presented_view(facts, &walk);
        let mut result = apple::evaluate(policy, &view, &ctx.knowledge.cas);
        let message = match result.closest_failure() {
            Some(failure) => format!(
                "Apple pins {} with policy {}, and the chain fails it: {failure}",
                input.host(),
                policy.name
            ),
            // The certificates say what the policy asks for, but the chain does not verify:
            // copied contents on other keys, or a broken chain.
            None => format!(
                "Apple pins {} with policy {}; the chain's certificates carry what it asks for, but devices refuse the chain itself",
                input.host(),
                policy.name
            ),
        };
        found.error(Code::PinningFailed, message);
        // A chain devices refuse satisfies no pin, whatever its contents.
        result.satisfied = false;
        j.pinning = Some(result);
    }
    j
}

/// A chain anchored at a CA that an MDM profile names as a transparent-connection pin, on a host
/// whose policy allows it: devices accept it instead of Apple's pin.
fn transparent(
    signed: &SignedPath,
    paths: &Paths<'_>,
    input: &ChainInput<'_>,
    found: &mut Findings,
) -> Option<ChainFacts> {
    let stores = signed.anchor_stores()?;
    let policy = input.policy?;
    if !stores.transparent || !policy.transparent_connection {
        return None;
    }
    let trust = &input.ctx.trust;
    let anchor = verify_path(input.certs, &trust.transparent, paths.at).ok()?;
    found.warn(
        Code::TransparentConnectionAllowed,
        format!(
            "the chain ends at '{}', which an MDM profile names as a transparent-connection pin ({}); \
             Apple's policy {} for {} allows such a pin in place of its own, so devices with that \
             profile accept the connection, and the traffic is inspected",
            anchor.subject,
            trust.transparent.label,
            policy.name,
            input.host()
        ),
    );
    let path: Vec<&[u8]> = std::iter::once(input.certs[0].as_ref())
        .chain(anchor.intermediates.iter().map(|c| c.as_ref()))
        .chain(anchor.cert.as_ref().map(|c| c.as_ref()))
        .collect();
    found.extend(
        requirements::check(&path, RootOrigin::Installed)
            .into_iter()
            .map(requirements::Unmet::refusal),
    );
    Some(ChainFacts::anchored(
        anchor.subject.clone(),
        Some(anchor.spki_sha256.clone()),
    ))
}

/// What follows from where the signatures lead: one finding (the anchor's standing, or why the
/// path ends where it does) and the anchor.
fn from_path_end(
    err: &webpki::Error,
    signed: &SignedPath,
    input: &ChainInput<'_>,
    found: &mut Findings,
) -> ChainFacts {
    let facts = input.facts;
    let trust = input.ctx.trust;
    let top_index = signed.top();
    let top = &facts[top_index];
    let (name, spki, stores) = match &signed.end {
        PathEnd::SelfSigned { stores } => (
            top.subject_cn.clone(),
            top.summary.spki_sha256.clone(),
            *stores,
        ),
        PathEnd::Anchor {
            name,
            spki_sha256,
            stores,
        } => (name.clone(), spki_sha256.clone(), *stores),
        PathEnd::SignatureMismatch { issuer, in_store } => {
            let whose = if *in_store {
                "a CA a trust store holds"
            } else {
                "a CA the server sent"
            };
            found.error(
                Code::IssuerSignatureMismatch,
                format!(
                    "'{}' names '{issuer}' as its issuer, {whose}, but that CA's key did not \
                     sign it (signature checked): the issuer's name was copied onto a forged \
                     certificate",
                    top.subject_cn
                ),
            );
            return ChainFacts::default();
        }
        PathEnd::Unchecked { algorithm } => {
            found.error(
                Code::ChainInvalid,
                format!(
                    "'{}' is signed with {algorithm}, which cannot be checked; Apple devices \
                     refuse such signatures",
                    top.subject_cn
                ),
            );
            return ChainFacts::default();
        }
        PathEnd::UnknownIssuer => return unknown_issuer(top, signed, input, found),
    };
    let self_signed_leaf = top_index == 0 && matches!(signed.end, PathEnd::SelfSigned { .. });
    if stores.device {
        // Apple's store has the anchor and the signatures hold: the chain breaks one of the
        // validator's rules (an algorithm, a usage, a constraint), which the requirement findings
        // spell out. No sign of forgery.
        let rollover = matches!(err, webpki::Error::InvalidSignatureForPublicKey)
            .then(|| {
                signed.walk[..presented_cas_end(signed)]
                    .iter()
                    .skip(1)
                    .map(|&i| &facts[i])
                    .find(|f| f.self_issued())
            })
            .flatten();
        let message = match rollover {
            Some(rollover) => format!(
                "the chain holds '{}', a self-issued CA certificate from a key rollover (same name, \
                 another key, signed by the old key), which the path validator does not follow; the \
                 signatures hold, so no sign of forgery",
                rollover.subject_cn
            ),
            None => format!(
                "the chain leads to '{name}', a root Apple devices trust, but devices refuse it: {}",
                webpki_reason(err)
            ),
        };
        found.error(Code::ChainInvalid, message);
    } else if stores.native || stores.transparent {
        let which = if stores.native {
            trust.native.label.as_str()
        } else {
            trust.transparent.label.as_str()
        };
        let what = if self_signed_leaf {
            format!("the server presented a self-signed certificate '{name}'")
        } else {
            format!("the chain ends at '{name}'")
        };
        found.error(
            Code::AnchorNativeOnly,
            format!(
                "{what}, which only the {which} trusts and no public or Apple root does: a CA \
                 installed on this machine, as SSL-inspection products install theirs"
            ),
        );
    } else if let Some(removed) = trust.apple.removed_by_spki(&spki) {
        found.error(
            Code::RootRemovedByApple,
            format!(
                "the chain ends at '{}', a root Apple removed from its trust store: devices no \
                 longer accept it; the server needs a certificate from a current CA",
                removed.name
            ),
        );
    } else if stores.public {
        found.error(
            Code::ChainInvalid,
            format!(
                "the chain ends at '{name}', which the {} trusts but Apple's trust store does \
                 not: Apple devices refuse it; no sign of forgery",
                trust.public.label
            ),
        );
    } else {
        let message = if self_signed_leaf {
            let ca = if top.is_ca {
                " It is marked as a CA (CA:TRUE), as `openssl req -x509` makes by default and as \
                 some appliances serve."
            } else {
                ""
            };
            format!(
                "the server presented a self-signed certificate '{name}' that no trust store holds.{ca}"
            )
        } else {
            format!(
                "the chain ends at '{name}', a self-signed CA that no trust store holds \
                 (neither Apple's, nor the {}, nor the {})",
                trust.public.label, trust.native.label
            )
        };
        found.error(Code::AnchorInNoStore, message);
    }
    ChainFacts::anchored(name, Some(spki))
}

/// Where the presented CA certificates of the walk end: before the last one when it is the
/// self-signed root, after it when a store's anchor signed it.
fn presented_cas_end(signed: &SignedPath) -> usize {
    match signed.end {
        PathEnd::SelfSigned { .. } => signed.walk.len().saturating_sub(1),
        _ => signed.walk.len(),
    }
}

/// The last certificate names an issuer nobody has. A leaf signed by its own key, or (for a catalog
/// host) an issuer of no CA family expected there, is evidence; otherwise the chain is incomplete
/// or private.
fn unknown_issuer(
    top: &CertFacts,
    signed: &SignedPath,
    input: &ChainInput<'_>,
    found: &mut Findings,
) -> ChainFacts {
    let expected = &input.ctx.knowledge.expected;
    let foreign = input.obs.target.row.as_ref().and_then(|row| {
        let rule = expected.rule_for(input.host(), Some(row.section.as_str()))?;
        (!expected.matches(rule, top.issuer_names())).then(|| expected.family_titles(rule))
    });
    match foreign {
        Some(families) if !signed.leaf_signed_by_own_key => found.error(
            Code::UnexpectedUnknownIssuer,
            format!(
                "'{}' was issued by '{}', which the server did not send, no trust store holds, and \
                 which is of no CA family that issues for {} ({}): a gateway's own CA",
                top.subject_cn,
                top.issuer_cn,
                input.host(),
                families.join(", ")
            ),
        ),
        _ => found.error(
            Code::UnknownIssuer,
            format!(
                "'{}' was issued by '{}', which the server did not send and no trust store \
                 holds: the chain is incomplete, or it comes from a private CA",
                top.subject_cn, top.issuer_cn
            ),
        ),
    }
    ChainFacts {
        anchor: Some(top.issuer_cn.clone()),
        ..ChainFacts::default()
    }
}

/// Apple's CA names, or Apple's marker extensions, on keys that are not Apple's. Certificates the
/// signatures lead up to a root Apple devices trust are genuine whatever they are named, so only
/// the others are examined.
fn names_copied(
    facts: &[CertFacts],
    signed: &SignedPath,
    walk: &[usize],
    input: &ChainInput<'_>,
) -> Option<Finding> {
    let cas = &input.ctx.knowledge.cas;
    for f in facts {
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
                    "'{}' carries the name of a known CA, but not its key (SPKI SHA-256 {}), and it \
                     does not verify up to any root Apple devices trust: the name was copied",
                    f.subject_cn,
                    hex_prefix(&f.summary.spki_sha256)
                ),
            ));
        }
    }
    // A leaf with Apple's service markers, issued by a CA whose key is not Apple's.
    let leaf = &facts[0];
    let marker = leaf
        .extensions
        .iter()
        .map(|(oid, _)| oid.as_str())
        .find(|oid| oid.starts_with(APPLE_MARKER_ARC))?;
    let issuer = signed
        .walk
        .get(1)
        .or_else(|| walk.get(1))
        .map(|&i| &facts[i])?;
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

/// mitmproxy, squid and similar tools sign every forged leaf with one key, often the CA's own; when
/// that CA is not sent, the leaf still verifies under its own key.
fn leaf_key_reused(facts: &[CertFacts], walk: &[usize], signed: &SignedPath) -> Option<Finding> {
    let leaf = &facts[0];
    if let Some(issuer) = walk.get(1).map(|&i| &facts[i])
        && !leaf.summary.spki_sha256.is_empty()
        && leaf.summary.spki_sha256 == issuer.summary.spki_sha256
    {
        return Some(Finding::new(
            Code::LeafKeyEqualsIssuerKey,
            Severity::Error,
            format!(
                "the leaf has the same key as its issuer '{}', as inspection proxies that reuse their CA key produce",
                issuer.subject_cn
            ),
        ));
    }
    signed.leaf_signed_by_own_key.then(|| {
        Finding::new(
            Code::LeafKeyEqualsIssuerKey,
            Severity::Error,
            format!(
                "the leaf's signature verifies under the leaf's own key although it names '{}' as \
                 its issuer: that CA signs with the key it puts in its leaves, as mitmproxy does",
                leaf.issuer_cn
            ),
        )
    })
}

/// SCTs that do not verify for this leaf under its actual issuer's key: they were made for another
/// certificate (copied from the genuine one) or the certificate was altered after logging.
fn copied_scts(signed: &SignedPath, input: &ChainInput<'_>) -> Option<Finding> {
    let facts = input.facts;
    let leaf = &facts[0];
    if !leaf.has_extension(SCT_LIST_OID) {
        return None;
    }
    // Only with the real issuer's key can a failed SCT mean anything.
    let issuer_spki = signed.walk.get(1).map(|&i| facts[i].spki_der.clone())?;
    let report = ct::evaluate(
        input.certs[0].as_ref(),
        Some(&issuer_spki),
        None,
        None,
        &input.ctx.trust.apple.ct_logs,
        input.ctx.now,
    );
    let invalid: Vec<&str> = report
        .scts
        .iter()
        .filter(|s| s.status == SctStatus::InvalidSignature)
        .map(|s| s.log.as_deref().unwrap_or("a known log"))
        .collect();
    (!invalid.is_empty()).then(|| {
        Finding::new(
            Code::SctInvalid,
            Severity::Error,
            format!(
                "the leaf carries {} SCT(s) from {} whose signatures do not verify for this \
                 certificate: they were copied from the genuine certificate onto a forged one",
                invalid.len(),
                invalid.join(", ")
            ),
        )
    })
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
