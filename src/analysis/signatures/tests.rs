//! Tests of `signatures`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::analysis::test_keys::{RSA_A, RSA_B};
use rcgen::{
    CertificateParams, DnType, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384,
    PKCS_ED25519, PKCS_RSA_SHA256, PKCS_RSA_SHA384, PKCS_RSA_SHA512, PublicKeyData,
    SignatureAlgorithm as RcgenAlg,
};

fn params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(vec![format!("{}.test", cn.to_lowercase())]).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p
}

/// A leaf signed by `ca_key`, and the CA's SPKI.
fn signed(ca_key: KeyPair, leaf_alg: &'static RcgenAlg) -> (Vec<u8>, Vec<u8>) {
    let ca_spki = ca_key.subject_public_key_info();
    let mut ca_params = params("Test CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate_for(leaf_alg).unwrap();
    let leaf = params("Leaf").signed_by(&leaf_key, &issuer).unwrap();
    (leaf.der().to_vec(), ca_spki)
}

fn spki_of(alg: &'static RcgenAlg) -> Vec<u8> {
    KeyPair::generate_for(alg)
        .unwrap()
        .subject_public_key_info()
}

#[test]
fn ecdsa_p256() {
    let (leaf, ca) = signed(
        KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap(),
        &PKCS_ECDSA_P256_SHA256,
    );
    assert_eq!(check(&leaf, &ca), SignatureCheck::Valid);
    assert_eq!(
        check(&leaf, &spki_of(&PKCS_ECDSA_P256_SHA256)),
        SignatureCheck::Invalid
    );
    let alg = signature_algorithm(&leaf).unwrap();
    assert_eq!(alg.name, "ecdsa-with-SHA256");
    assert_eq!(alg.hash, Some(HashAlg::Sha256));
    assert_eq!(
        key_info(&ca).unwrap(),
        KeyInfo {
            kind: KeyKind::Ec("P-256".into()),
            bits: 256
        }
    );
}

#[test]
fn ecdsa_p384() {
    let (leaf, ca) = signed(
        KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap(),
        &PKCS_ECDSA_P256_SHA256,
    );
    assert_eq!(check(&leaf, &ca), SignatureCheck::Valid);
    assert_eq!(
        check(&leaf, &spki_of(&PKCS_ECDSA_P384_SHA384)),
        SignatureCheck::Invalid
    );
    assert_eq!(
        signature_algorithm(&leaf).unwrap().name,
        "ecdsa-with-SHA384"
    );
    assert_eq!(
        key_info(&ca).unwrap(),
        KeyInfo {
            kind: KeyKind::Ec("P-384".into()),
            bits: 384
        }
    );
}

#[test]
fn ed25519() {
    let (leaf, ca) = signed(KeyPair::generate_for(&PKCS_ED25519).unwrap(), &PKCS_ED25519);
    assert_eq!(check(&leaf, &ca), SignatureCheck::Valid);
    assert_eq!(
        check(&leaf, &spki_of(&PKCS_ED25519)),
        SignatureCheck::Invalid
    );
    let alg = signature_algorithm(&leaf).unwrap();
    assert_eq!(alg.name, "ED25519");
    assert_eq!(alg.hash, Some(HashAlg::Intrinsic));
    assert_eq!(
        key_info(&ca).unwrap(),
        KeyInfo {
            kind: KeyKind::Ed25519,
            bits: 256
        }
    );
}

fn rsa_key(pem: &str, alg: &'static RcgenAlg) -> KeyPair {
    KeyPair::from_pkcs8_pem_and_sign_algo(pem, alg).unwrap()
}

#[test]
fn rsa_pkcs1_sha256_384_512() {
    let other = rsa_key(RSA_B, &PKCS_RSA_SHA256).subject_public_key_info();
    for (alg, name) in [
        (&PKCS_RSA_SHA256, "sha256WithRSAEncryption"),
        (&PKCS_RSA_SHA384, "sha384WithRSAEncryption"),
        (&PKCS_RSA_SHA512, "sha512WithRSAEncryption"),
    ] {
        let (leaf, ca) = signed(rsa_key(RSA_A, alg), &PKCS_ECDSA_P256_SHA256);
        assert_eq!(check(&leaf, &ca), SignatureCheck::Valid, "{name}");
        assert_eq!(check(&leaf, &other), SignatureCheck::Invalid, "{name}");
        assert_eq!(signature_algorithm(&leaf).unwrap().name, name);
        assert_eq!(
            key_info(&ca).unwrap(),
            KeyInfo {
                kind: KeyKind::Rsa,
                bits: 2048
            }
        );
    }
}

#[test]
fn key_of_another_type_did_not_sign() {
    let (leaf, _) = signed(
        KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap(),
        &PKCS_ECDSA_P256_SHA256,
    );
    let rsa = rsa_key(RSA_A, &PKCS_RSA_SHA256).subject_public_key_info();
    assert_eq!(check(&leaf, &rsa), SignatureCheck::Invalid);
    assert_eq!(
        check(&leaf, &spki_of(&PKCS_ED25519)),
        SignatureCheck::Invalid
    );
}

#[test]
fn tampered_certificate_is_invalid() {
    let (mut leaf, ca) = signed(KeyPair::generate_for(&PKCS_ED25519).unwrap(), &PKCS_ED25519);
    // Flip a bit in the subject's CN ("Leaf" is in the TBS only).
    let at = leaf.windows(4).position(|w| w == b"Leaf").unwrap();
    leaf[at] ^= 1;
    assert_eq!(check(&leaf, &ca), SignatureCheck::Invalid);
}

#[test]
fn garbage_is_unsupported_never_invalid() {
    let (leaf, ca) = signed(
        KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap(),
        &PKCS_ECDSA_P256_SHA256,
    );
    for (cert, key) in [
        (&b""[..], &ca[..]),
        (&b"\x30\x03\x02\x01\x00"[..], &ca[..]),
        (&leaf[..leaf.len() / 2], &ca[..]),
        (&leaf[..], &b""[..]),
        (&leaf[..], &b"\x30\x00"[..]),
        (&leaf[..], &ca[..ca.len() - 3]),
    ] {
        assert!(
            matches!(check(cert, key), SignatureCheck::Unsupported { .. }),
            "{:?}",
            check(cert, key)
        );
    }
    assert_eq!(signature_algorithm(b"junk"), None);
    assert_eq!(key_info(b"junk"), None);
}

#[test]
fn never_panics_on_truncations_and_bit_flips() {
    let (leaf, ca) = signed(rsa_key(RSA_A, &PKCS_RSA_SHA256), &PKCS_ECDSA_P256_SHA256);
    // The TBS follows the outer SEQUENCE's 4-byte header; only its bytes are signed.
    let tbs = 4..4 + parse_cert(&leaf).unwrap().tbs_certificate.as_ref().len();
    for i in 0..leaf.len() {
        let _ = check(&leaf[..i], &ca);
        let mut flipped = leaf.clone();
        flipped[i] ^= 0x80;
        let outcome = check(&flipped, &ca);
        if tbs.contains(&i) {
            assert_ne!(outcome, SignatureCheck::Valid, "byte {i}");
        }
    }
    for i in 0..ca.len() {
        let _ = check(&leaf, &ca[..i]);
        let mut flipped = ca.clone();
        flipped[i] ^= 0x01;
        let _ = check(&leaf, &flipped);
        let _ = key_info(&flipped);
    }
}

#[test]
fn unsupported_algorithms_are_named() {
    let (leaf, ca) = signed(
        KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap(),
        &PKCS_ECDSA_P256_SHA256,
    );
    // Rewrite ecdsa-with-SHA256 (…04 03 02) to ecdsa-with-SHA512 (…04 03 04) in both places.
    let oid = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    let mut renamed = leaf.clone();
    let mut at = 0;
    while let Some(p) = renamed[at..].windows(oid.len()).position(|w| w == oid) {
        renamed[at + p + oid.len() - 1] = 0x04;
        at += p + oid.len();
    }
    assert_eq!(
        check(&renamed, &ca),
        SignatureCheck::Unsupported {
            algorithm: "ecdsa-with-SHA512".into()
        }
    );
    assert_eq!(
        signature_algorithm(&renamed).unwrap().hash,
        Some(HashAlg::Sha512)
    );
}

#[test]
fn a_malformed_rsa_key_is_unsupported() {
    let (leaf, _) = signed(rsa_key(RSA_A, &PKCS_RSA_SHA256), &PKCS_ECDSA_P256_SHA256);
    // rsaEncryption, NULL; BIT STRING holding 0xff, which is no RSAPublicKey.
    let spki = [
        0x30, 0x13, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
        0x05, 0x00, 0x03, 0x02, 0x00, 0xff,
    ];
    assert_eq!(key_info(&spki), None);
    assert_eq!(
        check(&leaf, &spki),
        SignatureCheck::Unsupported {
            algorithm: "sha256WithRSAEncryption with an RSA key that does not parse".into()
        }
    );
}

#[test]
fn rsa_bits_count_significant_bits() {
    assert_eq!(bit_len(&[0, 0x80, 0]), 16);
    assert_eq!(bit_len(&[0x01, 0xff]), 9);
    assert_eq!(bit_len(&[]), 0);
    assert_eq!(bit_len(&[0, 0]), 0);
}

#[test]
fn other_key_types_are_described() {
    // A DSA SPKI (algorithm 1.2.840.10040.4.1, key INTEGER 5), first cut short.
    let spki = [
        0x30, 0x11, 0x30, 0x09, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01, 0x03, 0x04,
        0x00, 0x02, 0x01,
    ];
    assert_eq!(key_info(&spki), None);
    let spki = [
        0x30, 0x11, 0x30, 0x09, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01, 0x03, 0x04,
        0x00, 0x02, 0x01, 0x05,
    ];
    assert_eq!(
        key_info(&spki).unwrap(),
        KeyInfo {
            kind: KeyKind::Other("1.2.840.10040.4.1".into()),
            bits: 0
        }
    );
}
