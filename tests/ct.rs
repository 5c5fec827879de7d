//! Certificate Transparency on real certificates: the Apple leaves in `../shared/reference/apple-pki`
//! whose SCTs are embedded, checked against Apple's own CT log list
//! (`../shared/reference/apple-trust-store/certificate_transparency/log_list.json`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use pinscope::analysis::ct::{self, CtLog, CtReport, LogState, SctStatus};
use pinscope::apple_store::AppleTrustStore;
use rustls_pki_types::UnixTime;
use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate};

const OID_SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";

/// Apple's CT log list, as the product loads it.
fn apple_logs(reference: &Path) -> Vec<CtLog> {
    AppleTrustStore::load_dir(&reference.join("apple-trust-store"))
        .unwrap()
        .ct_logs
}

/// One certificate file of apple-pki, with what matching needs.
struct Cert {
    file: String,
    der: Vec<u8>,
}

impl Cert {
    fn parsed(&self) -> X509Certificate<'_> {
        X509Certificate::from_der(&self.der).unwrap().1
    }

    fn spki(&self) -> Vec<u8> {
        self.parsed().public_key().raw.to_vec()
    }

    fn has_scts(&self) -> bool {
        self.parsed()
            .extensions()
            .iter()
            .any(|e| e.oid.to_id_string() == OID_SCT_LIST)
    }

    fn ski(&self) -> Option<Vec<u8>> {
        self.parsed()
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                _ => None,
            })
    }

    fn aki(&self) -> Option<Vec<u8>> {
        self.parsed()
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    a.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                _ => None,
            })
    }

    /// A moment inside the validity period.
    fn midpoint(&self) -> UnixTime {
        let c = self.parsed();
        let nb = c.validity().not_before.timestamp();
        let na = c.validity().not_after.timestamp();
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(((nb + na) / 2) as u64))
    }

    fn not_before(&self) -> UnixTime {
        let nb = self.parsed().validity().not_before.timestamp();
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(nb as u64))
    }
}

fn pki(reference: &Path) -> Vec<Cert> {
    let dir: PathBuf = reference.join("apple-pki");
    let mut certs: Vec<Cert> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cer"))
        .map(|p| Cert {
            file: p.file_name().unwrap().to_string_lossy().into_owned(),
            der: std::fs::read(&p).unwrap(),
        })
        .collect();
    certs.sort_by(|a, b| a.file.cmp(&b.file));
    certs
}

/// The issuer of `leaf` among `certs`: subject = leaf's issuer and SKI = leaf's AKI.
fn issuer_of<'a>(leaf: &Cert, certs: &'a [Cert]) -> Option<&'a Cert> {
    let aki = leaf.aki();
    let want = leaf.parsed().issuer().as_raw().to_vec();
    certs.iter().find(|c| {
        c.file != leaf.file
            && c.parsed().subject().as_raw() == want.as_slice()
            && (aki.is_none() || c.ski() == aki)
    })
}

fn statuses(r: &CtReport) -> Vec<SctStatus> {
    r.scts.iter().map(|s| s.status).collect()
}

/// Asserts that every SCT of the report has this status.
fn assert_all(r: &CtReport, status: SctStatus) {
    let got = statuses(r);
    assert!(got.iter().all(|&st| st == status), "{got:?}");
}

fn show(name: &str, r: &CtReport) {
    eprintln!("{name}: {}", ct::summary(r));
    for s in &r.scts {
        eprintln!(
            "    {:?} {} ({}) {:?} {}",
            s.status,
            s.log.as_deref().unwrap_or("?"),
            s.operator.as_deref().unwrap_or("?"),
            s.timestamp.as_deref().unwrap_or("?"),
            s.detail.as_deref().unwrap_or("")
        );
    }
}

struct Setup {
    logs: Vec<CtLog>,
    certs: Vec<Cert>,
}

fn setup() -> Option<Setup> {
    let reference = common::reference()?;
    Some(Setup {
        logs: apple_logs(&reference),
        certs: pki(&reference),
    })
}

impl Setup {
    /// The embedded SCTs of `der` judged at `at` against Apple's logs, with `issuer`'s key if given.
    fn embedded(&self, der: &[u8], issuer: Option<&Cert>, at: UnixTime) -> CtReport {
        let key = issuer.map(Cert::spki);
        ct::evaluate(der, key.as_deref(), None, None, &self.logs, at)
    }
}

fn cert<'a>(s: &'a Setup, file: &str) -> &'a Cert {
    s.certs.iter().find(|c| c.file == file).unwrap()
}

#[test]
fn the_log_list_reads() {
    let Some(s) = setup() else { return };
    assert!(s.logs.len() > 100, "{} logs", s.logs.len());
    for l in &s.logs {
        let id = ring::digest::digest(&ring::digest::SHA256, &l.key_der);
        assert_eq!(
            id.as_ref(),
            l.log_id,
            "{}: log id is not SHA-256(key)",
            l.description
        );
    }
}

#[test]
fn every_real_leaf_with_embedded_scts_verifies_against_its_issuer() {
    let Some(s) = setup() else { return };
    let mut seen = 0;
    for leaf in s.certs.iter().filter(|c| c.has_scts()) {
        let issuer = issuer_of(leaf, &s.certs)
            .unwrap_or_else(|| panic!("{}: no issuer in apple-pki", leaf.file));
        let r = s.embedded(&leaf.der, Some(issuer), leaf.midpoint());
        show(&format!("{} (issuer {})", leaf.file, issuer.file), &r);
        assert!(!r.scts.is_empty(), "{}", leaf.file);
        for st in statuses(&r) {
            assert!(
                matches!(st, SctStatus::Verified | SctStatus::LogNotAccepted),
                "{}: {st:?}",
                leaf.file
            );
        }
        serde_json::to_value(&r).unwrap();
        seen += 1;
    }
    assert!(seen >= 3, "only {seen} leaves carry SCTs");
}

#[test]
fn api_smoot_verifies_and_complies() {
    let Some(s) = setup() else { return };
    let leaf = cert(&s, "api-smoot.cer");
    let issuer = cert(&s, "ApplePublicServerRSA12-G1.cer");
    let r = s.embedded(&leaf.der, Some(issuer), leaf.midpoint());
    show("api-smoot", &r);
    assert_eq!(r.scts.len(), 4);
    assert!(
        statuses(&r)
            .iter()
            .all(|st| matches!(st, SctStatus::Verified | SctStatus::LogNotAccepted)),
        "{:?}",
        statuses(&r)
    );
    assert!(statuses(&r).contains(&SctStatus::Verified));
    assert_eq!(r.lifetime_days, Some(84));
    assert_eq!(r.required, 2);
    assert!(r.compliant, "{}", ct::summary(&r));
    assert!(ct::summary(&r).contains(": compliant"));
}

#[test]
fn a_wrong_issuer_key_invalidates_every_embedded_sct() {
    let Some(s) = setup() else { return };
    let leaf = cert(&s, "api-smoot.cer");
    let wrong = cert(&s, "AppleISTCA2G1.cer");
    let r = s.embedded(&leaf.der, Some(wrong), leaf.midpoint());
    show("api-smoot, wrong issuer", &r);
    assert_eq!(r.scts.len(), 4);
    assert_all(&r, SctStatus::InvalidSignature);
    assert!(!r.compliant);
    assert_eq!(r.verified, 0);
}

#[test]
fn an_altered_certificate_invalidates_every_embedded_sct() {
    let Some(s) = setup() else { return };
    let leaf = cert(&s, "api-smoot.cer");
    let issuer = cert(&s, "ApplePublicServerRSA12-G1.cer");
    let serial = leaf.parsed().raw_serial().to_vec();
    let at = leaf
        .der
        .windows(serial.len())
        .position(|w| w == serial.as_slice())
        .unwrap();
    let mut altered = leaf.der.clone();
    altered[at + serial.len() - 1] ^= 0x01;
    let r = s.embedded(&altered, Some(issuer), leaf.midpoint());
    show("api-smoot, serial altered", &r);
    assert_eq!(r.scts.len(), 4);
    assert_all(&r, SctStatus::InvalidSignature);
    assert!(!r.compliant);
}

#[test]
fn without_the_issuer_embedded_scts_cannot_be_checked() {
    let Some(s) = setup() else { return };
    let leaf = cert(&s, "api-smoot.cer");
    let r = s.embedded(&leaf.der, None, leaf.midpoint());
    assert_all(&r, SctStatus::IssuerUnknown);
    assert!(!r.compliant);
}

#[test]
fn scts_dated_after_the_moment_of_judgement_do_not_count() {
    let Some(s) = setup() else { return };
    let leaf = cert(&s, "api-smoot.cer");
    let issuer = cert(&s, "ApplePublicServerRSA12-G1.cer");
    // The SCTs were issued ten minutes after notBefore.
    let r = s.embedded(&leaf.der, Some(issuer), leaf.not_before());
    assert_all(&r, SctStatus::FutureTimestamp);
}

#[test]
fn embedded_scts_are_not_tls_scts() {
    // The same SCT list handed over as if from the TLS extension signs the precertificate, not
    // the certificate: every signature fails as an x509_entry.
    let Some(s) = setup() else { return };
    let leaf = cert(&s, "api-smoot.cer");
    let parsed = leaf.parsed();
    let ext = parsed
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == OID_SCT_LIST)
        .unwrap();
    // extnValue is an OCTET STRING around the TLS list: tag 04, then a short or long length.
    let v = ext.value;
    let skip = if v[1] < 0x80 {
        2
    } else {
        2 + usize::from(v[1] & 0x7f)
    };
    let r = ct::evaluate(
        &leaf.der,
        None,
        Some(&v[skip..]),
        None,
        &s.logs,
        leaf.midpoint(),
    );
    let tls: Vec<_> = r
        .scts
        .iter()
        .filter(|c| c.source == ct::SctSource::TlsExtension)
        .map(|c| c.status)
        .collect();
    assert_eq!(tls.len(), 4);
    assert!(
        tls.iter().all(|&st| st == SctStatus::InvalidSignature),
        "{tls:?}"
    );
}

#[test]
fn leaves_whose_logs_apple_later_rejected_count_only_before_the_rejection() {
    // ckdatabasews (2021) and escrowproxy (2022) were logged to the 2022 and 2023 shards, which
    // Apple's list marked rejected once their intervals were over (2023-07-26, 2024-01-20): judged
    // while the leaves were valid, the logs were approved and the leaves comply; judged after the
    // rejection, the signatures still verify but the logs no longer count.
    let Some(s) = setup() else { return };
    let after_rejection = UnixTime::since_unix_epoch(Duration::from_secs(1_720_000_000));
    for file in ["ckdatabasews.cer", "escrowproxy.cer"] {
        let leaf = cert(&s, file);
        let issuer = cert(&s, "AppleISTCA2G1.cer");
        let r = s.embedded(&leaf.der, Some(issuer), leaf.midpoint());
        show(&format!("{file}, while valid"), &r);
        assert_eq!(statuses(&r), vec![SctStatus::Verified; 4], "{file}");
        assert!(r.compliant, "{}", ct::summary(&r));
        assert_eq!((r.required, r.lifetime_days), (3, Some(395)));

        let r = s.embedded(&leaf.der, Some(issuer), after_rejection);
        assert_eq!(statuses(&r), vec![SctStatus::LogNotAccepted; 4], "{file}");
        assert!(
            r.scts
                .iter()
                .all(|c| c.detail.as_deref().unwrap().contains("rejected"))
        );
        assert!(!r.compliant);
    }
}

#[test]
fn an_rsa_log_key_verifies_a_tls_sct() {
    // Apple's list has RSA logs only among rejected ones, so a real RSA key (eDellRoot's, public
    // since 2015) plays a log here, signing an x509_entry over a real leaf.
    use rustls_pki_types::PrivateKeyDer;
    use rustls_pki_types::pem::PemObject;

    let Some(reference) = common::reference() else {
        return;
    };
    let s = setup().unwrap();
    let dir = reference.join("interception-cas");
    let PrivateKeyDer::Pkcs8(key) =
        PrivateKeyDer::from_pem_file(dir.join("ca-edellroot.key")).unwrap()
    else {
        panic!("eDellRoot's key is PKCS#8");
    };
    let pair = ring::signature::RsaKeyPair::from_pkcs8(key.secret_pkcs8_der()).unwrap();
    let crt =
        rustls_pki_types::CertificateDer::from_pem_file(dir.join("ca-edellroot.crt")).unwrap();
    let spki = X509Certificate::from_der(&crt)
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec();
    let log_id: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, &spki)
        .as_ref()
        .try_into()
        .unwrap();
    let log = CtLog {
        log_id,
        key_der: spki,
        description: "eDellRoot as a log".into(),
        operator: "Test".into(),
        state: LogState::Usable,
        state_since: None,
        temporal_interval: None,
    };

    let leaf = cert(&s, "api-smoot.cer");
    let ts: u64 = 1_730_400_000_000; // 2024-10-31T18:40:00Z, inside the leaf's validity
    let mut signed = vec![0u8, 0];
    signed.extend_from_slice(&ts.to_be_bytes());
    signed.extend_from_slice(&[0, 0]);
    signed.extend_from_slice(&(leaf.der.len() as u32).to_be_bytes()[1..]);
    signed.extend_from_slice(&leaf.der);
    signed.extend_from_slice(&[0, 0]);
    let mut sig = vec![0u8; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        &signed,
        &mut sig,
    )
    .unwrap();
    let list = |sig_alg: u8| {
        let mut sct = vec![0u8];
        sct.extend_from_slice(&log_id);
        sct.extend_from_slice(&ts.to_be_bytes());
        sct.extend_from_slice(&[0, 0, 4, sig_alg]);
        sct.extend_from_slice(&(sig.len() as u16).to_be_bytes());
        sct.extend_from_slice(&sig);
        let mut out = ((sct.len() + 2) as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&(sct.len() as u16).to_be_bytes());
        out.extend(sct);
        out
    };
    let logs = [log];
    // The statuses of the SCTs handed over as if from the TLS extension, signed with `sig_alg`.
    let tls_statuses = |sig_alg: u8| -> Vec<SctStatus> {
        let r = ct::evaluate(
            &leaf.der,
            None,
            Some(&list(sig_alg)),
            None,
            &logs,
            leaf.midpoint(),
        );
        r.scts
            .iter()
            .filter(|c| c.source == ct::SctSource::TlsExtension)
            .map(|c| c.status)
            .collect()
    };
    assert_eq!(tls_statuses(1), vec![SctStatus::Verified]);

    // The same signature labelled ECDSA does not verify with an RSA key.
    assert_eq!(tls_statuses(3), vec![SctStatus::InvalidSignature]);
}
