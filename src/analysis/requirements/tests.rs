//! Tests of `requirements`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::analysis::test_keys::RSA_A;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use time::macros::datetime;

/// A 1024-bit RSA public key (made with `openssl genpkey` for these tests only): rcgen can put
/// it in a certificate but *ring* cannot sign with it.
const RSA_1024_PUBLIC: &str = "\
-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCsxw6enYWmk7v8OZ8BUGA/hvoQ
pFYQpdwsaKxXEwJ2bYzDnZDR5kHKgEzrcRWn2nwDxmvfwTm/LbwW5TVd4uHW2Ymz
vtgmyzCsocCdpvTBX6FSAMbPH1loh624aOv6ArwjavcQZP/IUfLeLtHZPLKmanac
jsv/sscKVCPIosuxVQIDAQAB
-----END PUBLIC KEY-----";

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

fn leaf_params(cn: &str, sans: &[&str]) -> CertificateParams {
    let mut p =
        CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name = name(cn);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.not_before = datetime!(2024-01-01 0:00 UTC);
    p.not_after = datetime!(2024-12-01 0:00 UTC);
    p
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = name(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p
}

/// A self-signed P-256 root: its DER and its issuer.
fn root() -> (Vec<u8>, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let params = ca_params("Lab Root");
    let cert = params.self_signed(&key).unwrap();
    (cert.der().to_vec(), Issuer::new(params, key))
}

fn leaf(params: &CertificateParams, issuer: &Issuer<'_, KeyPair>) -> Vec<u8> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    params.signed_by(&key, issuer).unwrap().der().to_vec()
}

fn codes(findings: &[Unmet]) -> Vec<Code> {
    findings.iter().map(|f| f.code).collect()
}

fn both(path: &[&[u8]]) -> (Vec<Unmet>, Vec<Unmet>) {
    (
        check(path, RootOrigin::System),
        check(path, RootOrigin::Installed),
    )
}

#[test]
fn a_modern_chain_passes() {
    let (root, ca) = root();
    let leaf = leaf(&leaf_params("www.example.test", &["www.example.test"]), &ca);
    let (system, installed) = both(&[&leaf, &root]);
    assert!(system.is_empty(), "{system:?}");
    assert!(installed.is_empty(), "{installed:?}");
    // Without the anchor too.
    assert!(check(&[&leaf], RootOrigin::System).is_empty());
}

#[test]
fn rsa_1024_keys_are_refused_on_leaf_and_cas() {
    let (root, ca) = root();
    let weak = rcgen::SubjectPublicKeyInfo::from_pem(RSA_1024_PUBLIC).unwrap();
    let good = leaf(
        &leaf_params("good.example.test", &["good.example.test"]),
        &ca,
    );
    let leaf = leaf_params("weak.example.test", &["weak.example.test"])
        .signed_by(&weak, &ca)
        .unwrap()
        .der()
        .to_vec();
    let intermediate = ca_params("Weak Intermediate")
        .signed_by(&weak, &ca)
        .unwrap()
        .der()
        .to_vec();
    for origin in [RootOrigin::System, RootOrigin::Installed] {
        let findings = check(&[&leaf, &root], origin);
        assert_eq!(codes(&findings), [Code::WeakKey], "{findings:?}");
        assert_eq!(findings[0].clone().refusal().severity, Severity::Error);
        assert_eq!(
            findings[0].clone().on_forged_chain().severity,
            Severity::Warning
        );
        assert_eq!(
            findings[0].message,
            "'weak.example.test' has a 1024-bit RSA key; Apple devices refuse RSA keys under \
                 2048 bits in TLS chains (iOS 13, macOS 10.15)"
        );
        let findings = check(&[&good, &intermediate, &root], origin);
        assert_eq!(codes(&findings), [Code::WeakKey]);
        assert!(
            findings[0]
                .message
                .starts_with("'Weak Intermediate' has a 1024-bit")
        );
    }
}

#[test]
fn rsa_2048_is_enough() {
    let key = KeyPair::from_pkcs8_pem_and_sign_algo(RSA_A, &PKCS_RSA_SHA256).unwrap();
    let params = ca_params("RSA Root");
    let root = params.self_signed(&key).unwrap().der().to_vec();
    let ca = Issuer::new(params, key);
    let leaf = leaf(&leaf_params("rsa.example.test", &["rsa.example.test"]), &ca);
    let (system, installed) = both(&[&leaf, &root]);
    assert!(system.is_empty() && installed.is_empty(), "{system:?}");
}

/// Rewrites the last byte of every occurrence of an OID's encoding (`from`) to `to`: the
/// signature no longer verifies, but the algorithm reads as another.
fn rename_oid(der: &[u8], from: &[u8], to: u8) -> Vec<u8> {
    let mut out = der.to_vec();
    let mut at = 0;
    while let Some(p) = out[at..].windows(from.len()).position(|w| w == from) {
        out[at + p + from.len() - 1] = to;
        at += p + from.len();
    }
    assert_ne!(out, der, "the OID is not in the certificate");
    out
}

/// sha256WithRSAEncryption, 1.2.840.113549.1.1.11.
const SHA256_RSA: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];

#[test]
fn sha1_and_md5_signatures_are_refused_but_not_on_a_self_signed_root() {
    let key = KeyPair::from_pkcs8_pem_and_sign_algo(RSA_A, &PKCS_RSA_SHA256).unwrap();
    let params = ca_params("RSA Root");
    let root = params.self_signed(&key).unwrap().der().to_vec();
    let ca = Issuer::new(params, key);
    let leaf = leaf(&leaf_params("old.example.test", &["old.example.test"]), &ca);
    let sha1 = rename_oid(&leaf, &SHA256_RSA, 0x05);
    let md5 = rename_oid(&leaf, &SHA256_RSA, 0x04);
    // An MD5 self-signature cannot be checked, so the root still counts as self-signed.
    let md5_root = rename_oid(&root, &SHA256_RSA, 0x04);
    for origin in [RootOrigin::System, RootOrigin::Installed] {
        let findings = check(&[&sha1, &md5_root], origin);
        assert_eq!(codes(&findings), [Code::WeakSignatureAlgorithm]);
        assert_eq!(
            findings[0].message,
            "'old.example.test' is signed with sha1WithRSAEncryption (SHA-1); Apple devices \
                 refuse SHA-1 and weaker signature hashes on TLS leaf and CA certificates (iOS \
                 13, macOS 10.15)"
        );
        let findings = check(&[&md5, &root], origin);
        assert_eq!(codes(&findings), [Code::WeakSignatureAlgorithm]);
        assert!(findings[0].message.contains("md5WithRSAEncryption (MD5)"));
    }
}

#[test]
fn system_roots_need_server_auth_in_the_leaf() {
    let (root, ca) = root();
    let mut none = leaf_params("none.example.test", &["none.example.test"]);
    none.extended_key_usages = Vec::new();
    let none = leaf(&none, &ca);
    let mut any = leaf_params("any.example.test", &["any.example.test"]);
    any.extended_key_usages = vec![ExtendedKeyUsagePurpose::Any];
    let any = leaf(&any, &ca);
    let mut client = leaf_params("client.example.test", &["client.example.test"]);
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = leaf(&client, &ca);
    let mut sgc = leaf_params("sgc.example.test", &["sgc.example.test"]);
    sgc.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(vec![
        1, 3, 6, 1, 4, 1, 311, 10, 3, 3,
    ])];
    let sgc = leaf(&sgc, &ca);

    // A missing extension, anyExtendedKeyUsage or Server Gated Crypto: refused under a
    // system root, accepted under an installed one.
    for cert in [&none, &any, &sgc] {
        let (system, installed) = both(&[cert, &root]);
        assert_eq!(codes(&system), [Code::NoServerAuthEku], "{system:?}");
        assert!(installed.is_empty(), "{installed:?}");
    }
    let (system, _) = both(&[&none, &root]);
    assert!(
        system[0]
            .message
            .starts_with("'none.example.test' has no extendedKeyUsage extension;")
    );
    let (system, _) = both(&[&any, &root]);
    assert!(
        system[0]
            .message
            .contains("anyExtendedKeyUsage does not count")
    );
    // clientAuth alone: refused whatever the root.
    let (system, installed) = both(&[&client, &root]);
    assert_eq!(codes(&system), [Code::NoServerAuthEku]);
    assert_eq!(codes(&installed), [Code::NoServerAuthEku]);
    assert!(
        installed[0]
            .message
            .contains("has extendedKeyUsage clientAuth without"),
        "{installed:?}"
    );
}

#[test]
fn system_intermediates_with_an_eku_must_allow_server_auth() {
    let (root, ca) = root();
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = ca_params("Client CA");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_ca = params.signed_by(&key, &ca).unwrap().der().to_vec();
    let client_issuer = Issuer::new(params, key);
    let leaf1 = leaf(
        &leaf_params("a.example.test", &["a.example.test"]),
        &client_issuer,
    );

    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = ca_params("Any CA");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::Any];
    let any_ca = params.signed_by(&key, &ca).unwrap().der().to_vec();
    let any_issuer = Issuer::new(params, key);
    let leaf2 = leaf(
        &leaf_params("b.example.test", &["b.example.test"]),
        &any_issuer,
    );

    let (system, installed) = both(&[&leaf1, &client_ca, &root]);
    assert_eq!(codes(&system), [Code::NoServerAuthEku]);
    assert!(
        system[0]
            .message
            .starts_with("the intermediate 'Client CA'")
    );
    assert!(installed.is_empty());
    // The anchor is not sent: the top certificate is still an intermediate.
    assert_eq!(
        codes(&check(&[&leaf1, &client_ca], RootOrigin::System)),
        [Code::NoServerAuthEku]
    );
    let (system, installed) = both(&[&leaf2, &any_ca, &root]);
    assert!(system.is_empty() && installed.is_empty(), "{system:?}");
}

fn valid_for(not_before: OffsetDateTime, secs: i64) -> CertificateParams {
    let mut p = leaf_params("long.example.test", &["long.example.test"]);
    p.not_before = not_before;
    p.not_after = not_before + time::Duration::seconds(secs);
    p
}

#[test]
fn validity_limits_by_issuance_date_and_root() {
    let (root, ca) = root();
    let judge = |nb: OffsetDateTime, secs: i64| {
        let leaf = leaf(&valid_for(nb, secs), &ca);
        let (system, installed) = both(&[&leaf, &root]);
        (codes(&system), codes(&installed))
    };
    let long = vec![Code::ValidityTooLong];
    let fine: Vec<Code> = Vec::new();
    let sep2020 = datetime!(2020-09-01 0:00 UTC);
    // 398 days, no slack, for system roots only.
    assert_eq!(judge(sep2020, 398 * DAY), (fine.clone(), fine.clone()));
    assert_eq!(judge(sep2020, 398 * DAY + 1), (long.clone(), fine.clone()));
    // 825 days and one hour for everyone after 1 July 2019.
    assert_eq!(
        judge(sep2020, 825 * DAY + HOUR),
        (long.clone(), fine.clone())
    );
    assert_eq!(
        judge(sep2020, 825 * DAY + HOUR + 1),
        (long.clone(), long.clone())
    );
    let aug2020 = datetime!(2020-08-31 23:59:59 UTC);
    assert_eq!(
        judge(aug2020, 825 * DAY + HOUR),
        (fine.clone(), fine.clone())
    );
    assert_eq!(
        judge(aug2020, 825 * DAY + HOUR + 1),
        (long.clone(), long.clone())
    );
    // Before July 2019 an installed root's leaves had no limit.
    let jun2019 = datetime!(2019-06-01 0:00 UTC);
    assert_eq!(judge(jun2019, 3 * 365 * DAY), (long.clone(), fine.clone()));
    // System roots' older limits: 39 months, then 60 months.
    let jan2017 = datetime!(2017-01-01 0:00 UTC);
    assert_eq!(
        judge(jan2017, (365 * 3 + 2 * 31 + 30 + 1) * DAY + HOUR),
        (fine.clone(), fine.clone())
    );
    assert_eq!(
        judge(jan2017, (365 * 3 + 2 * 31 + 30 + 1) * DAY + HOUR + 1),
        (long.clone(), fine.clone())
    );
    let jan2015 = datetime!(2015-01-01 0:00 UTC);
    assert_eq!(judge(jan2015, 5 * 365 * DAY), (fine.clone(), fine.clone()));
    assert_eq!(judge(jan2015, 6 * 365 * DAY), (long, fine));

    let leaf = leaf(&valid_for(sep2020, 398 * DAY + 1), &ca);
    assert_eq!(
        check(&[&leaf, &root], RootOrigin::System)[0].message,
        "'long.example.test' is valid for 398 days, 1 second (from 2020-09-01 00:00:00 UTC \
             to 2021-10-04 00:00:01 UTC); certificates issued on or after 1 September 2020 that \
             chain to Apple's system roots may be valid for at most 398 days, and Apple devices \
             refuse longer ones"
    );
}

#[test]
fn a_self_signed_leaf_a_user_trusted_is_exempt_from_key_size_and_validity() {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = valid_for(datetime!(2021-01-01 0:00 UTC), 3650 * DAY);
    params.distinguished_name = name("self.example.test");
    let cert = params.self_signed(&key).unwrap().der().to_vec();
    assert!(check(&[&cert], RootOrigin::Installed).is_empty());
    assert_eq!(
        codes(&check(&[&cert], RootOrigin::System)),
        [Code::ValidityTooLong]
    );
}

#[test]
fn unparseable_certificates_are_skipped() {
    let (root, ca) = root();
    let leaf = leaf(&leaf_params("x.example.test", &["x.example.test"]), &ca);
    assert!(check(&[b"junk", &root], RootOrigin::System).is_empty());
    assert!(check(&[&leaf, b"junk"], RootOrigin::System).is_empty());
    assert!(check(&[], RootOrigin::System).is_empty());
}

#[test]
fn name_only_in_the_cn() {
    let (_, ca) = root();
    let cn_only = leaf(
        &leaf_params("Host.Example.Test", &["other.example.test"]),
        &ca,
    );
    let f = name_only_in_cn(&cn_only, "host.example.test").unwrap();
    assert_eq!(f.code, Code::NameOnlyInCn);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(
        f.message,
        "'Host.Example.Test' names host.example.test only in its subject CN, not in \
             subjectAltName; Apple devices ignore the CN since iOS 13 and macOS 10.15 and refuse \
             the certificate for host.example.test"
    );
    assert!(name_only_in_cn(&cn_only, "HOST.example.test.").is_some());
    assert!(name_only_in_cn(&cn_only, "other.example.test").is_none());
    assert!(name_only_in_cn(&cn_only, "elsewhere.test").is_none());

    // No SAN at all.
    let mut params = leaf_params("bare.example.test", &[]);
    params.subject_alt_names = Vec::new();
    let bare = leaf(&params, &ca);
    assert!(name_only_in_cn(&bare, "bare.example.test").is_some());

    // A wildcard SAN covers one label; a wildcard CN is still only a CN.
    let wild_san = leaf(&leaf_params("*.example.test", &["*.example.test"]), &ca);
    assert!(name_only_in_cn(&wild_san, "a.example.test").is_none());
    let wild_cn = leaf(&leaf_params("*.example.test", &["other.test"]), &ca);
    assert!(name_only_in_cn(&wild_cn, "a.example.test").is_some());
    assert!(name_only_in_cn(&wild_cn, "a.b.example.test").is_none());
    assert!(name_only_in_cn(&wild_cn, "example.test").is_none());

    // IP addresses: the SAN's iPAddress, or the CN alone.
    let ip_san = leaf(&leaf_params("192.0.2.7", &["192.0.2.7"]), &ca);
    assert!(name_only_in_cn(&ip_san, "192.0.2.7").is_none());
    let ip_cn = leaf(&leaf_params("192.0.2.7", &["other.test"]), &ca);
    assert!(name_only_in_cn(&ip_cn, "192.0.2.7").is_some());

    assert!(name_only_in_cn(b"junk", "host.example.test").is_none());
}

#[test]
fn durations_read_naturally() {
    assert_eq!(duration(398 * DAY), "398 days");
    assert_eq!(
        duration(DAY + HOUR + 61),
        "1 day, 1 hour, 1 minute, 1 second"
    );
    assert_eq!(date(SEP_2020), "2020-09-01 00:00:00 UTC");
    assert_eq!(date(JUL_2019), "2019-06-30 23:00:00 UTC");
}
