//! Table-driven tests of [`assess`]: lab chains made with rcgen, judged at a fixed moment against
//! lab trust stores, the embedded Apple data and the built-in knowledge. Every verdict and every
//! evidence code of interception is reached here through the pure analysis alone (no network, no
//! binary); each case asserts what a user sees: the verdict, the finding codes, the interception
//! record and, where it matters, the headline and the explanation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::{CertificateDer, UnixTime};
use time::macros::datetime;

use super::chain;
use super::knowledge::Knowledge;
use super::trust::{RootSet, TrustContext};
use super::{Assessment, Code, Context, Severity, Verdict, assess};
use crate::apple_store::AppleTrustStore;
use crate::catalog::{ProxySupport, Row, Transport};
use crate::model::baseline::Baseline;
use crate::model::observation::{
    Captured, DnsProblem, Failure, FailureKind, HttpAnswer, NtpAnswer, Observation, Outcome, Phase,
    ServiceAnswer, SshAnswer, TlsParams,
};
use crate::model::target::Target;

/// 2025-06-01T00:00:00Z: inside the validity of every lab certificate but the expired one.
const NOW: u64 = 1_748_736_000;

fn knowledge() -> &'static Knowledge {
    static K: OnceLock<Knowledge> = OnceLock::new();
    K.get_or_init(|| Knowledge::builtin().expect("the built-in tables load"))
}

fn apple() -> Arc<AppleTrustStore> {
    Arc::new(AppleTrustStore::embedded().expect("the embedded Apple store loads"))
}

// ---------------------------------------------------------------------------------------------
// A lab PKI

fn dn(cn: &str, org: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    if let Some(o) = org {
        dn.push(DnType::OrganizationName, o);
    }
    dn
}

fn key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()
}

/// A CA: its certificate and what signs with its key.
struct Ca {
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// A self-signed root.
    fn root(cn: &str, org: Option<&str>) -> Self {
        Self::root_with_key(cn, org, key())
    }

    fn root_with_key(cn: &str, org: Option<&str>, key: KeyPair) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(cn, org);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.not_before = datetime!(2020-01-01 0:00 UTC);
        params.not_after = datetime!(2035-01-01 0:00 UTC);
        let der = params.self_signed(&key).unwrap().der().clone();
        Self {
            der,
            issuer: Issuer::new(params, key),
        }
    }

    /// The SHA-256 of this CA's key, as findings and baselines write it.
    fn spki(&self) -> String {
        chain::facts(&self.der).summary.spki_sha256
    }

    /// A TLS server certificate for `host`, valid around [`NOW`].
    fn leaf(&self, host: &str) -> CertificateDer<'static> {
        self.leaf_with(leaf_params(host), &key())
    }

    fn leaf_with(&self, params: CertificateParams, key: &KeyPair) -> CertificateDer<'static> {
        params.signed_by(key, &self.issuer).unwrap().der().clone()
    }
}

fn leaf_params(host: &str) -> CertificateParams {
    let mut params = CertificateParams::new(vec![host.to_owned()]).unwrap();
    params.distinguished_name = dn(host, None);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = datetime!(2025-03-01 0:00 UTC);
    params.not_after = datetime!(2025-09-01 0:00 UTC);
    params
}

/// Trust stores for one case: which lab roots each view holds.
#[derive(Default)]
struct Stores<'a> {
    device: Vec<&'a Ca>,
    public: Vec<&'a Ca>,
    native: Vec<&'a Ca>,
    transparent: Vec<&'a Ca>,
}

impl Stores<'_> {
    fn trust(&self) -> TrustContext {
        let set = |label: &str, cas: &[&Ca]| {
            let certs: Vec<CertificateDer<'static>> = cas.iter().map(|c| c.der.clone()).collect();
            let (set, rejected) = RootSet::from_certs(label, &certs);
            assert!(rejected.is_empty(), "{rejected:?}");
            set
        };
        TrustContext {
            device: set("Apple's trust store and the lab roots", &self.device),
            public: set("lab public roots", &self.public),
            native: set("native store", &self.native),
            transparent: set("transparent-connection CAs", &self.transparent),
            apple: apple(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Observations

fn observe(host: &str, row: Option<Row>, outcome: Outcome) -> Observation {
    Observation {
        target: Target {
            row,
            host: host.to_owned(),
            port: 443,
            transport: Transport::Tcp,
        },
        addresses: Vec::new(),
        address_used: None,
        answered_by: None,
        sni: None,
        outcome,
        elapsed: Duration::ZERO,
        proxy: None,
        route: None,
        revocation: Vec::new(),
        timings: Vec::new(),
    }
}

fn captured(chain: &[&CertificateDer<'static>]) -> Captured {
    Captured {
        chain: chain.iter().map(|c| (*c).clone()).collect(),
        stapled_ocsp: None,
    }
}

fn offline(host: &str, chain: &[&CertificateDer<'static>]) -> Observation {
    observe(
        host,
        None,
        Outcome::Offline {
            captured: captured(chain),
        },
    )
}

fn handshake(
    host: &str,
    row: Row,
    chain: &[&CertificateDer<'static>],
    version: &str,
) -> Observation {
    observe(
        host,
        Some(row),
        Outcome::Handshake {
            captured: captured(chain),
            params: TlsParams {
                version: crate::model::observation::TlsVersion::parse(version),
                cipher_suite: "TLS13_AES_128_GCM_SHA256".to_owned(),
                alpn: None,
            },
        },
    )
}

fn failed(
    host: &str,
    kind: FailureKind,
    chain: Option<&[&CertificateDer<'static>]>,
) -> Observation {
    observe(
        host,
        None,
        Outcome::Failed {
            failure: Failure {
                kind,
                phase: Phase::Handshake,
                detail: "lab failure".to_owned(),
            },
            captured: chain.map(captured),
        },
    )
}

fn service(host: &str, answer: ServiceAnswer) -> Observation {
    observe(host, None, Outcome::Service(answer))
}

/// A catalog row for `host` in `section`, at most TLS 1.2 when `tls_max` says so.
fn row(host: &str, section: &str, tls_max: Option<&str>) -> Row {
    Row {
        host: host.to_owned(),
        port: 443,
        transport: Transport::Tcp,
        section: section.to_owned(),
        sections: vec![section.to_owned()],
        description: "lab service".to_owned(),
        os: Vec::new(),
        supports_proxy: ProxySupport::Unknown,
        legacy: false,
        representative: false,
        pattern: None,
        source: "apple-enterprise".to_owned(),
        sources: vec!["apple-enterprise".to_owned()],
        note: None,
        tls_max: tls_max.map(str::to_owned),
        tls_ciphers: Vec::new(),
        probe: None,
        pinned_by: None,
        pinned_with: Vec::new(),
        networks: Vec::new(),
    }
}

/// A baseline that recorded `leaf` under `anchor` for `host`.
fn baseline(host: &str, leaf: &CertificateDer<'_>, anchor: &Ca) -> Baseline {
    let text = serde_json::json!({
        "pinscope_baseline": 1,
        "created_at": "2025-05-01T00:00:00Z",
        "tool_version": "lab",
        "targets": [{
            "host": host,
            "port": 443,
            "transport": "tcp",
            "recorded_at": "2025-05-01T00:00:00Z",
            "chain": [{
                "position": 0,
                "subject": host,
                "spki_sha256": chain::facts(leaf).summary.spki_sha256,
            }],
            "anchor": { "subject": "Lab Root", "spki_sha256": anchor.spki() },
            "tls": null,
            "apple_pinning_policy": null,
        }],
    });
    Baseline::parse(&text.to_string(), "lab baseline").expect("the lab baseline parses")
}

/// An embedded SCT list whose one SCT names a log of Apple's list but whose signature is not that
/// log's: what a forged certificate carries when its SCTs were copied from the genuine one.
fn copied_sct_extension(trust: &TrustContext) -> CustomExtension {
    // id-ecPublicKey: an ECDSA log, so the (wrong) signature is checked, not refused as unsupported.
    const EC_KEY: [u8; 9] = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    let log = trust
        .apple
        .ct_logs
        .iter()
        .find(|l| l.key_der.windows(EC_KEY.len()).any(|w| w == EC_KEY))
        .expect("Apple's list has an ECDSA log");
    let signature = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01];
    let mut sct = vec![0u8]; // v1
    sct.extend_from_slice(&log.log_id);
    sct.extend_from_slice(&(1_746_057_600_000u64).to_be_bytes()); // 2025-05-01, before NOW
    sct.extend_from_slice(&[0, 0]); // no extensions
    sct.extend_from_slice(&[4, 3]); // SHA-256, ECDSA
    sct.extend_from_slice(&u16::try_from(signature.len()).unwrap().to_be_bytes());
    sct.extend_from_slice(&signature);
    let mut list = u16::try_from(sct.len() + 2).unwrap().to_be_bytes().to_vec();
    list.extend_from_slice(&u16::try_from(sct.len()).unwrap().to_be_bytes());
    list.extend_from_slice(&sct);
    // The extension's value is an OCTET STRING holding the TLS-encoded list.
    let mut value = vec![0x04, u8::try_from(list.len()).unwrap()];
    value.extend_from_slice(&list);
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2], value)
}

// ---------------------------------------------------------------------------------------------
// The table

/// One row of the table: an observation judged under some trust, and what a user must see.
struct Case {
    name: &'static str,
    obs: Observation,
    trust: TrustContext,
    baseline: Option<Baseline>,
    verdict: Verdict,
    /// Codes the findings must carry.
    has: Vec<Code>,
    /// Codes they must not carry.
    lacks: Vec<Code>,
    /// `interception.evidence`, exactly (empty: no interception record).
    evidence: Vec<Code>,
    /// The code of the headline, when it matters.
    headline: Option<Code>,
}

impl Case {
    fn new(name: &'static str, obs: Observation, trust: TrustContext, verdict: Verdict) -> Self {
        Self {
            name,
            obs,
            trust,
            baseline: None,
            verdict,
            has: Vec::new(),
            lacks: Vec::new(),
            evidence: Vec::new(),
            headline: None,
        }
    }

    fn has(mut self, codes: &[Code]) -> Self {
        self.has.extend_from_slice(codes);
        self
    }

    fn lacks(mut self, codes: &[Code]) -> Self {
        self.lacks.extend_from_slice(codes);
        self
    }

    fn evidence(mut self, codes: &[Code]) -> Self {
        self.evidence = codes.to_vec();
        self
    }

    fn headline(mut self, code: Code) -> Self {
        self.headline = Some(code);
        self
    }

    fn baseline(mut self, baseline: Baseline) -> Self {
        self.baseline = Some(baseline);
        self
    }

    fn judge(&self) -> Assessment {
        let ctx = Context {
            trust: &self.trust,
            knowledge: knowledge(),
            now: UnixTime::since_unix_epoch(Duration::from_secs(NOW)),
            policy: None,
            baseline: self.baseline.as_ref(),
        };
        assess(&self.obs, &ctx)
    }

    fn check(&self) -> Assessment {
        let a = self.judge();
        let codes: Vec<Code> = a.findings.iter().map(|f| f.code).collect();
        let name = self.name;
        assert_eq!(
            a.verdict, self.verdict,
            "{name}: verdict; findings {codes:?}"
        );
        for c in &self.has {
            assert!(codes.contains(c), "{name}: no {c:?} in {codes:?}");
        }
        for c in &self.lacks {
            assert!(!codes.contains(c), "{name}: {c:?} in {codes:?}");
        }
        // The interception record exists exactly for intercepted targets.
        let evidence = a.interception.as_ref().map(|i| i.evidence.clone());
        if self.verdict == Verdict::Intercepted {
            assert_eq!(evidence, Some(self.evidence.clone()), "{name}: evidence");
        } else {
            assert_eq!(evidence, None, "{name}: an interception record");
            assert!(
                !a.findings.iter().any(|f| f.is_evidence()),
                "{name}: evidence under {:?}: {codes:?}",
                a.verdict
            );
        }
        if let Some(code) = self.headline {
            assert_eq!(a.headline().map(|f| f.code), Some(code), "{name}: headline");
        }
        assert!(!a.explanation.is_empty(), "{name}: no explanation");
        a
    }
}

mod verdicts;

#[test]
fn the_interception_record_names_product_and_anchor() {
    let mitm = Ca::root("mitmproxy", Some("mitmproxy"));
    let host = "lab.example";
    let a = Case::new(
        "mitmproxy",
        offline(host, &[&mitm.leaf(host), &mitm.der]),
        Stores::default().trust(),
        Verdict::Intercepted,
    )
    .evidence(&[
        Code::AnchorInNoStore,
        Code::KnownInspectionProduct,
        Code::MissingSct,
    ])
    .check();
    let i = a.interception.expect("an interception record");
    assert_eq!(i.product.as_deref(), Some("mitmproxy"));
    assert_eq!(i.anchor_subject.as_deref(), Some("mitmproxy"));
    // The product's finding carries it as structured detail, not only in words.
    let product = a
        .findings
        .iter()
        .find(|f| f.code == Code::KnownInspectionProduct);
    assert_eq!(product.and_then(|f| f.product()), Some("mitmproxy"));
    // The CA's name already says the product: the explanation does not repeat it.
    assert!(
        a.explanation
            .contains("ends at 'mitmproxy', which no public or Apple root trusts"),
        "{}",
        a.explanation
    );
}

#[test]
fn a_substitution_of_an_accepted_chain_is_explained_by_the_baseline() {
    let lab = Ca::root("Lab Root", None);
    let other = Ca::root("Other Root", None);
    let host = "lab.example";
    let good = lab.leaf(host);
    let a = Case::new(
        "substitution",
        offline(host, &[&good]),
        Stores {
            device: vec![&lab],
            ..Stores::default()
        }
        .trust(),
        Verdict::Intercepted,
    )
    .baseline(baseline(host, &other.leaf(host), &other))
    .evidence(&[Code::PinMismatch])
    .check();
    assert!(
        a.explanation
            .contains("now presents a chain devices accept, but not the one the baseline recorded"),
        "{}",
        a.explanation
    );
}

#[test]
fn requirements_on_a_forged_chain_are_warnings() {
    // A leaf valid for 1000 days under a CA no store holds: forged, and devices would refuse its
    // certificates even where the CA is installed (825 days at most).
    let ca = Ca::root("Lab Box CA", None);
    let host = "lab.example";
    let mut params = leaf_params(host);
    params.not_before = datetime!(2024-01-01 0:00 UTC);
    params.not_after = datetime!(2026-09-27 0:00 UTC);
    let long = ca.leaf_with(params, &key());
    let a = Case::new(
        "long-lived forged leaf",
        offline(host, &[&long, &ca.der]),
        Stores::default().trust(),
        Verdict::Intercepted,
    )
    .evidence(&[Code::AnchorInNoStore, Code::MissingSct])
    .check();
    let f = a
        .findings
        .iter()
        .find(|f| f.code == Code::ValidityTooLong)
        .expect("validity_too_long");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.message.starts_with("even where this CA is installed"),
        "{}",
        f.message
    );

    // The same leaf under a root the device view holds: a refusal.
    let a = Case::new(
        "long-lived leaf under an installed root",
        offline(host, &[&long]),
        Stores {
            device: vec![&ca],
            ..Stores::default()
        }
        .trust(),
        Verdict::Untrusted,
    )
    .has(&[Code::ChainValid, Code::ValidityTooLong])
    .check();
    let f = a
        .findings
        .iter()
        .find(|f| f.code == Code::ValidityTooLong)
        .expect("validity_too_long");
    assert_eq!(f.severity, Severity::Error);
}

#[test]
fn a_name_mismatch_lists_the_leaf_names() {
    let lab = Ca::root("Lab Root", None);
    let mut params = leaf_params("a.example");
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("192.0.2.7".parse().unwrap()));
    let leaf = lab.leaf_with(params, &key());
    let a = Case::new(
        "mismatch",
        offline("b.example", &[&leaf]),
        Stores {
            device: vec![&lab],
            ..Stores::default()
        }
        .trust(),
        Verdict::Untrusted,
    )
    .has(&[Code::NameMismatch])
    .check();
    let f = a
        .findings
        .iter()
        .find(|f| f.code == Code::NameMismatch)
        .expect("name_mismatch");
    assert_eq!(
        f.message,
        "the leaf 'a.example' is not valid for b.example (it is for a.example, 192.0.2.7)"
    );
}
