//! Results into wire types. The only place that knows both the analysis's types and the JSON's.

use super::{
    ApplePinning, Cert, CertificateTransparency, CtRoute, Finding, HttpAnswer, Interception,
    NtpAnswer, QuicAnswer, Revocation, RevocationKind, RevocationStatus, RuleResult, Sct,
    SctSource, SctStatus, Service, Severity, SshAnswer, Summary, Target, Tls, Trailer, TrustViews,
    Verdict, View,
};
use sha2::{Digest as _, Sha256};

use super::Key;
use crate::analysis::{self, apple, chain, ct, revocation, signatures};
use crate::model::observation::{self as obs, Outcome};
use crate::report::{RunReport, TargetResult};

/// One target as the JSON writes it.
pub fn target(r: &TargetResult) -> Target {
    let obs = &r.observation;
    let a = &r.assessment;
    let row = obs.target.row.as_ref();
    let tls = match &obs.outcome {
        Outcome::Handshake { params, .. } => Some(Tls {
            version: params.version.to_string(),
            cipher_suite: params.cipher_suite.clone(),
            alpn: params.alpn.clone(),
        }),
        _ => None,
    };
    Target {
        host: obs.target.host.clone(),
        port: obs.target.port,
        transport: obs.target.transport,
        section: row.map(|r| r.section.clone()),
        representative: row.is_some_and(|r| r.representative),
        pattern: row.and_then(|r| r.pattern.clone()),
        legacy: row.is_some_and(|r| r.legacy),
        sni: obs.sni.clone(),
        proxy: obs.proxy.clone(),
        route: obs.route.as_ref().map(|r| super::Route {
            pac: r.pac.clone(),
            answer: r.answer.clone(),
            chosen: r.chosen.clone(),
            failed: r
                .failed
                .iter()
                .map(|f| super::RouteFailure {
                    entry: f.entry.clone(),
                    detail: f.detail.clone(),
                })
                .collect(),
        }),
        addresses: obs.addresses.iter().map(ToString::to_string).collect(),
        address_used: obs.address_used.map(|a| a.ip().to_string()),
        verdict: a.verdict.into(),
        findings: a.findings.iter().map(Finding::from).collect(),
        explanation: a.explanation.clone(),
        tls,
        anchor: a.anchor.clone(),
        anchor_spki_sha256: a.anchor_spki_sha256.clone(),
        chain: a
            .chain
            .iter()
            .map(|c| {
                let mut cert = Cert::from(c);
                if let Some(der) = presented(obs, &c.sha256) {
                    describe(&mut cert, der);
                }
                cert
            })
            .collect(),
        apple_pinning: a.pinning.as_ref().map(ApplePinning::from),
        interception: a.interception.as_ref().map(Interception::from),
        trust_views: a.views.as_ref().map(TrustViews::from),
        certificate_transparency: a.ct.as_ref().map(CertificateTransparency::from),
        service: match &obs.outcome {
            Outcome::Service(answer) => Some(Service::from(answer)),
            _ => None,
        },
        revocation: a.revocation.iter().map(Revocation::from).collect(),
        elapsed_ms: u64::try_from(obs.elapsed.as_millis()).unwrap_or(u64::MAX),
    }
}

/// The presented certificate whose DER has this SHA-256 (hex), if the observation holds it.
fn presented<'o>(obs: &'o obs::Observation, sha256: &str) -> Option<&'o [u8]> {
    let captured = match &obs.outcome {
        Outcome::Handshake { captured, .. } | Outcome::Offline { captured } => captured,
        Outcome::Failed {
            captured: Some(captured),
            ..
        } => captured,
        _ => return None,
    };
    captured
        .chain
        .iter()
        .map(|der| der.as_ref())
        .find(|der| chain::hex(&Sha256::digest(der)) == sha256)
}

/// Adds what the DER tells beyond the analysis's summary: names, key, signature algorithm.
fn describe(cert: &mut Cert, der: &[u8]) {
    use x509_parser::extensions::GeneralName;
    use x509_parser::prelude::{FromDer, X509Certificate};
    if let Ok((_, parsed)) = X509Certificate::from_der(der)
        && let Ok(Some(san)) = parsed.subject_alternative_name()
    {
        cert.sans = san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(n) => Some((*n).to_owned()),
                GeneralName::IPAddress(bytes) => match bytes.len() {
                    4 => <[u8; 4]>::try_from(*bytes)
                        .ok()
                        .map(|b| std::net::IpAddr::from(b).to_string()),
                    16 => <[u8; 16]>::try_from(*bytes)
                        .ok()
                        .map(|b| std::net::IpAddr::from(b).to_string()),
                    _ => None,
                },
                _ => None,
            })
            .collect();
    }
    let spki = chain::facts(&der.to_vec().into()).spki_der;
    cert.key = signatures::key_info(&spki).map(|k| {
        let (kind, curve) = match k.kind {
            signatures::KeyKind::Rsa => ("rsa".to_owned(), None),
            signatures::KeyKind::Ec(curve) => ("ec".to_owned(), Some(curve)),
            signatures::KeyKind::Ed25519 => ("ed25519".to_owned(), None),
            signatures::KeyKind::Other(oid) => (oid, None),
        };
        Key {
            kind,
            bits: k.bits,
            curve,
        }
    });
    cert.signature_algorithm = signatures::signature_algorithm(der).map(|a| a.name);
}

/// JSON Lines' last line for a finished run.
pub fn trailer(run: &RunReport) -> Trailer {
    Trailer {
        summary: Summary::from(&run.summary()),
        tool: "pinscope".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        schema_version: super::SCHEMA_VERSION,
        started_at: run.started_at.clone(),
        finished_at: run.finished_at.clone(),
        context: run.context.clone(),
        revocation_checked: run.revocation_checked,
    }
}

impl From<&crate::report::Summary> for Summary {
    fn from(s: &crate::report::Summary) -> Self {
        Self {
            total: s.total,
            counts: s
                .counts
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            exit_code: s.exit_code,
            interrupted: s.interrupted,
            deadline_passed: s.deadline_passed,
            not_probed: s.not_probed,
        }
    }
}

impl From<analysis::Verdict> for Verdict {
    fn from(v: analysis::Verdict) -> Self {
        use analysis::Verdict as V;
        match v {
            V::Pass => Self::Pass,
            V::Intercepted => Self::Intercepted,
            V::Untrusted => Self::Untrusted,
            V::Blocked => Self::Blocked,
            V::Timeout => Self::Timeout,
            V::DnsError => Self::DnsError,
            V::TlsError => Self::TlsError,
            V::ProxyError => Self::ProxyError,
            V::ProtocolError => Self::ProtocolError,
            V::Skipped => Self::Skipped,
        }
    }
}

impl From<analysis::Severity> for Severity {
    fn from(s: analysis::Severity) -> Self {
        match s {
            analysis::Severity::Info => Self::Info,
            analysis::Severity::Warning => Self::Warning,
            analysis::Severity::Error => Self::Error,
        }
    }
}

impl From<&analysis::Finding> for Finding {
    fn from(f: &analysis::Finding) -> Self {
        Self {
            code: f.code.as_str().to_owned(),
            severity: f.severity.into(),
            message: f.message.clone(),
        }
    }
}

impl From<&chain::CertSummary> for Cert {
    fn from(c: &chain::CertSummary) -> Self {
        Self {
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            serial: c.serial.clone(),
            not_before: c.not_before.clone(),
            not_after: c.not_after.clone(),
            sha256: c.sha256.clone(),
            spki_sha256: c.spki_sha256.clone(),
            sans: Vec::new(),
            key: None,
            signature_algorithm: None,
            parse_error: c.parse_error.clone(),
        }
    }
}

impl From<&apple::PinningResult> for ApplePinning {
    fn from(p: &apple::PinningResult) -> Self {
        Self {
            policy: p.policy.clone(),
            source: p.source.clone(),
            satisfied: p.satisfied,
            rule_results: p
                .rule_results
                .iter()
                .map(|r| RuleResult {
                    rule: r.rule.clone(),
                    passed: r.passed,
                    failed_checks: r.failed_checks.clone(),
                })
                .collect(),
        }
    }
}

impl From<&analysis::Interception> for Interception {
    fn from(i: &analysis::Interception) -> Self {
        Self {
            product: i.product.clone(),
            anchor_subject: i.anchor_subject.clone(),
            evidence: i.evidence.iter().map(|c| c.as_str().to_owned()).collect(),
        }
    }
}

impl From<&analysis::View> for View {
    fn from(v: &analysis::View) -> Self {
        Self {
            store: v.store.clone(),
            accepted: v.accepted,
            anchor: v.anchor.clone(),
            reason: v.reason.clone(),
        }
    }
}

impl From<&analysis::TrustViews> for TrustViews {
    fn from(v: &analysis::TrustViews) -> Self {
        Self {
            apple_devices: View::from(&v.apple_devices),
            public_clients: View::from(&v.public_clients),
            this_machine: View::from(&v.this_machine),
        }
    }
}

impl From<&ct::CtReport> for CertificateTransparency {
    fn from(r: &ct::CtReport) -> Self {
        Self {
            scts: r.scts.iter().map(Sct::from).collect(),
            required: r.required,
            verified: r.verified,
            operators: r.operators,
            operator_names: r.operator_names.clone(),
            compliant: r.compliant,
            route: match r.route {
                ct::CtRoute::Embedded => CtRoute::Embedded,
                ct::CtRoute::Delivered => CtRoute::Delivered,
            },
            rule: r.rule.clone(),
            lifetime_days: r.lifetime_days,
            notes: r.notes.clone(),
        }
    }
}

impl From<&ct::SctCheck> for Sct {
    fn from(s: &ct::SctCheck) -> Self {
        Self {
            source: match s.source {
                ct::SctSource::Embedded => SctSource::Embedded,
                ct::SctSource::TlsExtension => SctSource::TlsExtension,
                ct::SctSource::Ocsp => SctSource::Ocsp,
            },
            log_id: s.log_id.clone(),
            log: s.log.clone(),
            operator: s.operator.clone(),
            timestamp: s.timestamp.clone(),
            status: match s.status {
                ct::SctStatus::Verified => SctStatus::Verified,
                ct::SctStatus::InvalidSignature => SctStatus::InvalidSignature,
                ct::SctStatus::UnknownLog => SctStatus::UnknownLog,
                ct::SctStatus::LogNotAccepted => SctStatus::LogNotAccepted,
                ct::SctStatus::FutureTimestamp => SctStatus::FutureTimestamp,
                ct::SctStatus::Malformed => SctStatus::Malformed,
                ct::SctStatus::IssuerUnknown => SctStatus::IssuerUnknown,
            },
            detail: s.detail.clone(),
        }
    }
}

impl From<&revocation::RevocationStatus> for Revocation {
    fn from(r: &revocation::RevocationStatus) -> Self {
        Self {
            kind: match r.kind {
                obs::RevocationKind::Ocsp => RevocationKind::Ocsp,
                obs::RevocationKind::Crl => RevocationKind::Crl,
            },
            url: r.url.clone(),
            certificate: r.certificate.clone(),
            certificate_sha256: r.certificate_sha256.clone(),
            status: match r.status {
                revocation::Status::Good => RevocationStatus::Good,
                revocation::Status::Revoked => RevocationStatus::Revoked,
                revocation::Status::Unknown => RevocationStatus::Unknown,
                revocation::Status::Unreachable => RevocationStatus::Unreachable,
                revocation::Status::Invalid => RevocationStatus::Invalid,
                revocation::Status::NotChecked => RevocationStatus::NotChecked,
            },
            detail: r.detail.clone(),
            reason: r.reason.clone(),
            revoked_at: r.revoked_at.clone(),
            this_update: r.this_update.clone(),
            next_update: r.next_update.clone(),
        }
    }
}

impl From<&obs::ServiceAnswer> for Service {
    fn from(a: &obs::ServiceAnswer) -> Self {
        match a {
            obs::ServiceAnswer::Http(h) => Self::Http(HttpAnswer {
                status: h.status,
                reason: h.reason.clone(),
                headers: h.headers.clone(),
            }),
            obs::ServiceAnswer::Ntp(n) => Self::Ntp(NtpAnswer {
                stratum: n.stratum,
                leap: n.leap,
                version: n.version,
                reference_id: n.reference_id.clone(),
                offset_ms: n.offset_ms,
                round_trip_ms: n.round_trip_ms,
            }),
            obs::ServiceAnswer::Ssh(s) => Self::Ssh(SshAnswer {
                banner: s.banner.clone(),
            }),
            obs::ServiceAnswer::Quic(q) => Self::Quic(QuicAnswer {
                versions: q.versions.clone(),
            }),
        }
    }
}
