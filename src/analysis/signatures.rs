//! Who signed what, decided by the crypto alone. The path validator refuses algorithms Apple
//! refuses (SHA-1, RSA-1024), so its errors cannot tell "not signed by this key" from "signed with
//! a weak algorithm". This module checks a signature with *ring* directly, legacy algorithms
//! included, so the evidence of interception tells the truth; the weakness is reported separately.
//!
//! What is checked: RSA PKCS#1 v1.5 with SHA-1, SHA-256, SHA-384 and SHA-512 (RSA keys of 1024 to
//! 8192 bits; SHA-384 from 2048 bits, the smallest *ring* offers), RSA-PSS with SHA-256, SHA-384 or
//! SHA-512 (MGF1 with the same hash, salt as long as the hash, keys of 2048 to 8192 bits), ECDSA
//! on P-256 and P-384 with SHA-256 or SHA-384, and Ed25519. Anything else (MD2, MD4, MD5, SHA-224,
//! ECDSA with SHA-1 or SHA-512, P-521, DSA, Ed448) is [`SignatureCheck::Unsupported`]: nothing is
//! known either way. [`SignatureCheck::Invalid`] is only said when the check could be made and the
//! key did not sign the certificate, or when the key's type cannot make the kind of signature the
//! certificate carries (an EC key never makes an RSA signature).

use ring::signature::{self as sig, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Serialize;
use x509_parser::certificate::{X509Certificate, X509CertificateParser};
use x509_parser::nom::Parser;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::RSAPublicKey;
use x509_parser::signature_algorithm::RsaSsaPssParams;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

/// The outcome of checking one certificate's signature against one public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureCheck {
    /// The key signed this certificate.
    Valid,
    /// The key did not sign it.
    Invalid,
    /// The algorithm (or key) cannot be checked here; nothing is known either way.
    Unsupported { algorithm: String },
}

/// The hash inside a signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlg {
    Md2,
    Md4,
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    /// The algorithm carries no separate hash (Ed25519).
    Intrinsic,
}

impl HashAlg {
    /// The hash's usual name ("SHA-1", "MD5").
    pub fn label(self) -> &'static str {
        match self {
            Self::Md2 => "MD2",
            Self::Md4 => "MD4",
            Self::Md5 => "MD5",
            Self::Sha1 => "SHA-1",
            Self::Sha224 => "SHA-224",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
            Self::Intrinsic => "no separate hash",
        }
    }
}

/// A certificate's signature algorithm, described.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignatureAlgorithm {
    /// A short name such as "sha256WithRSAEncryption", or the dotted OID when unknown.
    pub name: String,
    pub hash: Option<HashAlg>,
}

/// A public key's type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    Rsa,
    /// Elliptic curve, with the curve's name ("P-256", "P-384", "P-521", or the OID).
    Ec(String),
    Ed25519,
    /// Anything else, with the algorithm OID.
    Other(String),
}

/// A public key, described.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub kind: KeyKind,
    /// Modulus size for RSA, field size for EC; 0 when unknown.
    pub bits: u32,
}

/// Whether the key in `issuer_spki` (DER SubjectPublicKeyInfo) signed the certificate `cert`
/// (DER), whatever the algorithm's strength.
pub fn check(cert: &[u8], issuer_spki: &[u8]) -> SignatureCheck {
    let Some(cert) = parse_cert(cert) else {
        return unsupported("unparseable certificate");
    };
    let described = describe(&cert.signature_algorithm);
    let Ok((_, spki)) = SubjectPublicKeyInfo::from_der(issuer_spki) else {
        return unsupported(format!("{} with an unparseable issuer key", described.name));
    };
    let signature = &cert.signature_value;
    if signature.unused_bits != 0 {
        return unsupported(format!(
            "{} with a signature that is not a whole number of bytes",
            described.name
        ));
    }
    let key = Key::read(&spki);
    verify(
        &described,
        &key,
        cert.tbs_certificate.as_ref(),
        signature.data.as_ref(),
    )
}

/// The certificate's signature algorithm; `None` when the certificate does not parse.
pub fn signature_algorithm(cert: &[u8]) -> Option<SignatureAlgorithm> {
    let cert = parse_cert(cert)?;
    let described = describe(&cert.signature_algorithm);
    Some(SignatureAlgorithm {
        name: described.name,
        hash: described.hash,
    })
}

/// Describes a DER SubjectPublicKeyInfo; `None` when it does not parse.
pub fn key_info(spki: &[u8]) -> Option<KeyInfo> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki).ok()?;
    let info = match Key::read(&spki) {
        Key::Rsa { n, .. } => KeyInfo {
            kind: KeyKind::Rsa,
            bits: bit_len(n),
        },
        Key::Ec { curve, point } => {
            let bits = match &curve {
                Curve::P256 => 256,
                Curve::P384 => 384,
                Curve::Other { bits, .. } if *bits > 0 => *bits,
                // An unknown curve: half the uncompressed point, or the compressed point's x.
                Curve::Other { .. } => match point {
                    [4, rest @ ..] => u32::try_from(rest.len() / 2 * 8).unwrap_or(0),
                    [2 | 3, rest @ ..] => u32::try_from(rest.len() * 8).unwrap_or(0),
                    _ => 0,
                },
            };
            KeyInfo {
                kind: KeyKind::Ec(curve.name()),
                bits,
            }
        }
        Key::Ed25519(_) => KeyInfo {
            kind: KeyKind::Ed25519,
            bits: 256,
        },
        Key::Other(oid) => KeyInfo {
            kind: KeyKind::Other(oid),
            bits: 0,
        },
        Key::Malformed(_) => return None,
    };
    Some(info)
}

/// Parses a certificate without reading its extensions: a signature is over bytes, and an
/// extension x509-parser dislikes should not stop the check.
fn parse_cert(der: &[u8]) -> Option<X509Certificate<'_>> {
    X509CertificateParser::new()
        .with_deep_parse_extensions(false)
        .parse(der)
        .ok()
        .map(|(_, cert)| cert)
}

fn unsupported(algorithm: impl Into<String>) -> SignatureCheck {
    SignatureCheck::Unsupported {
        algorithm: algorithm.into(),
    }
}

// Signature algorithms.

const MGF1: &str = "1.2.840.113549.1.1.8";
const RSASSA_PSS: &str = "1.2.840.113549.1.1.10";
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const ED25519: &str = "1.3.101.112";

/// RSA PKCS#1 v1.5 signature algorithms: OID, name, hash.
const RSA_PKCS1: [(&str, &str, HashAlg); 9] = [
    ("1.2.840.113549.1.1.2", "md2WithRSAEncryption", HashAlg::Md2),
    ("1.2.840.113549.1.1.3", "md4WithRSAEncryption", HashAlg::Md4),
    ("1.2.840.113549.1.1.4", "md5WithRSAEncryption", HashAlg::Md5),
    (
        "1.2.840.113549.1.1.5",
        "sha1WithRSAEncryption",
        HashAlg::Sha1,
    ),
    // The OIW spelling some old CAs used.
    ("1.3.14.3.2.29", "sha1WithRSASignature", HashAlg::Sha1),
    (
        "1.2.840.113549.1.1.14",
        "sha224WithRSAEncryption",
        HashAlg::Sha224,
    ),
    (
        "1.2.840.113549.1.1.11",
        "sha256WithRSAEncryption",
        HashAlg::Sha256,
    ),
    (
        "1.2.840.113549.1.1.12",
        "sha384WithRSAEncryption",
        HashAlg::Sha384,
    ),
    (
        "1.2.840.113549.1.1.13",
        "sha512WithRSAEncryption",
        HashAlg::Sha512,
    ),
];

/// ECDSA signature algorithms (RFC 5758, RFC 3279).
const ECDSA: [(&str, &str, HashAlg); 5] = [
    ("1.2.840.10045.4.1", "ecdsa-with-SHA1", HashAlg::Sha1),
    ("1.2.840.10045.4.3.1", "ecdsa-with-SHA224", HashAlg::Sha224),
    ("1.2.840.10045.4.3.2", "ecdsa-with-SHA256", HashAlg::Sha256),
    ("1.2.840.10045.4.3.3", "ecdsa-with-SHA384", HashAlg::Sha384),
    ("1.2.840.10045.4.3.4", "ecdsa-with-SHA512", HashAlg::Sha512),
];

/// DSA signature algorithms: described, never checked.
const DSA: [(&str, &str, HashAlg); 3] = [
    ("1.2.840.10040.4.3", "dsa-with-sha1", HashAlg::Sha1),
    ("2.16.840.1.101.3.4.3.1", "dsa-with-sha224", HashAlg::Sha224),
    ("2.16.840.1.101.3.4.3.2", "dsa-with-sha256", HashAlg::Sha256),
];

/// Hash algorithm OIDs, as RSASSA-PSS parameters name them.
const HASHES: [(&str, HashAlg); 7] = [
    ("1.2.840.113549.2.2", HashAlg::Md2),
    ("1.2.840.113549.2.5", HashAlg::Md5),
    ("1.3.14.3.2.26", HashAlg::Sha1),
    ("2.16.840.1.101.3.4.2.4", HashAlg::Sha224),
    ("2.16.840.1.101.3.4.2.1", HashAlg::Sha256),
    ("2.16.840.1.101.3.4.2.2", HashAlg::Sha384),
    ("2.16.840.1.101.3.4.2.3", HashAlg::Sha512),
];

/// How a signature is made, as far as checking it goes.
#[derive(Debug)]
enum Scheme {
    RsaPkcs1(HashAlg),
    /// RSASSA-PSS: the hash when *ring* can check these parameters, or why not.
    RsaPss(Result<HashAlg, String>),
    Ecdsa(HashAlg),
    Ed25519,
    /// Known or not, never checked here.
    Other,
}

#[derive(Debug)]
struct Described {
    name: String,
    hash: Option<HashAlg>,
    scheme: Scheme,
}

fn describe(alg: &AlgorithmIdentifier<'_>) -> Described {
    let oid = alg.algorithm.to_id_string();
    let found = |table: &[(&str, &str, HashAlg)]| {
        table
            .iter()
            .find(|(o, _, _)| *o == oid)
            .map(|&(_, name, hash)| (name.to_owned(), hash))
    };
    if let Some((name, hash)) = found(&RSA_PKCS1) {
        return Described {
            name,
            hash: Some(hash),
            scheme: Scheme::RsaPkcs1(hash),
        };
    }
    if let Some((name, hash)) = found(&ECDSA) {
        return Described {
            name,
            hash: Some(hash),
            scheme: Scheme::Ecdsa(hash),
        };
    }
    if let Some((name, hash)) = found(&DSA) {
        return Described {
            name,
            hash: Some(hash),
            scheme: Scheme::Other,
        };
    }
    match oid.as_str() {
        RSASSA_PSS => {
            let (hash, checkable) = pss_params(alg);
            Described {
                name: "rsassaPss".into(),
                hash,
                scheme: Scheme::RsaPss(checkable),
            }
        }
        ED25519 => Described {
            name: "ED25519".into(),
            hash: Some(HashAlg::Intrinsic),
            scheme: Scheme::Ed25519,
        },
        "1.3.101.113" => Described {
            name: "ED448".into(),
            hash: Some(HashAlg::Intrinsic),
            scheme: Scheme::Other,
        },
        _ => Described {
            name: oid,
            hash: None,
            scheme: Scheme::Other,
        },
    }
}

/// Reads RSASSA-PSS parameters (RFC 4055): the hash they name (SHA-1 when absent from the
/// SEQUENCE, as the defaults say), and whether *ring* can check them, which it can for SHA-256,
/// SHA-384 and SHA-512 with MGF1 over the same hash, a salt as long as the hash and trailer 1.
fn pss_params(alg: &AlgorithmIdentifier<'_>) -> (Option<HashAlg>, Result<HashAlg, String>) {
    // RFC 4055 §3.1: the parameters must be present on a signature.
    let Some(any) = alg.parameters.as_ref() else {
        return (None, Err("rsassaPss without parameters".into()));
    };
    let Ok(params) = RsaSsaPssParams::try_from(any) else {
        return (None, Err("rsassaPss with unreadable parameters".into()));
    };
    let hash_oid = params.hash_algorithm_oid().to_id_string();
    let Some(hash) = HASHES.iter().find(|(o, _)| *o == hash_oid).map(|&(_, h)| h) else {
        return (None, Err(format!("rsassaPss with hash {hash_oid}")));
    };
    let checkable = (|| {
        if !matches!(hash, HashAlg::Sha256 | HashAlg::Sha384 | HashAlg::Sha512) {
            return Err(format!("rsassaPss with {}", hash.label()));
        }
        let mgf = params
            .mask_gen_algorithm()
            .map_err(|_| "rsassaPss with an unreadable mask generation function".to_owned())?;
        let mgf_hash = mgf.hash.to_id_string();
        if mgf.mgf.to_id_string() != MGF1 || mgf_hash != hash_oid {
            return Err(format!(
                "rsassaPss with {} and mask generation {} over {mgf_hash}",
                hash.label(),
                mgf.mgf.to_id_string()
            ));
        }
        let want = match hash {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            _ => 64,
        };
        if params.salt_length() != want || params.trailer_field() != 1 {
            return Err(format!(
                "rsassaPss with {} and a {}-byte salt",
                hash.label(),
                params.salt_length()
            ));
        }
        Ok(hash)
    })();
    (Some(hash), checkable)
}

// Public keys.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    /// Any other curve (or explicit parameters), with a name and field size (0 when unknown).
    Other {
        name: String,
        bits: u32,
    },
}

impl Curve {
    fn name(&self) -> String {
        match self {
            Self::P256 => "P-256".into(),
            Self::P384 => "P-384".into(),
            Self::Other { name, .. } => name.clone(),
        }
    }

    fn from_params(params: Option<&x509_parser::asn1_rs::Any<'_>>) -> Self {
        let named = params
            .and_then(|p| p.as_oid().ok())
            .map(|o| o.to_id_string());
        match named.as_deref() {
            Some("1.2.840.10045.3.1.7") => Self::P256,
            Some("1.3.132.0.34") => Self::P384,
            Some(oid) => OTHER_CURVES.iter().find(|(o, _, _)| *o == oid).map_or_else(
                || Self::Other {
                    name: oid.to_owned(),
                    bits: 0,
                },
                |&(_, name, bits)| Self::Other {
                    name: name.to_owned(),
                    bits,
                },
            ),
            None => Self::Other {
                name: "explicit curve parameters".into(),
                bits: 0,
            },
        }
    }
}

/// Named curves other than the two *ring* checks: OID, name, field size.
const OTHER_CURVES: [(&str, &str, u32); 6] = [
    ("1.3.132.0.35", "P-521", 521),
    ("1.2.840.10045.3.1.1", "P-192", 192),
    ("1.3.132.0.33", "P-224", 224),
    ("1.3.132.0.10", "secp256k1", 256),
    ("1.3.36.3.3.2.8.1.1.7", "brainpoolP256r1", 256),
    ("1.3.36.3.3.2.8.1.1.11", "brainpoolP384r1", 384),
];

#[derive(Debug)]
enum Key<'a> {
    /// Modulus and exponent, big-endian, leading zeros stripped.
    Rsa {
        n: &'a [u8],
        e: &'a [u8],
    },
    Ec {
        curve: Curve,
        point: &'a [u8],
    },
    Ed25519(&'a [u8]),
    /// A key whose contents do not parse, described ("an RSA key that does not parse").
    Malformed(String),
    /// Another key type, with its OID.
    Other(String),
}

impl<'a> Key<'a> {
    fn read(spki: &'a SubjectPublicKeyInfo<'_>) -> Self {
        let oid = spki.algorithm.algorithm.to_id_string();
        let bits: &'a [u8] = spki.subject_public_key.data.as_ref();
        if spki.subject_public_key.unused_bits != 0 {
            return Self::Malformed(format!("a key ({oid}) that is not a whole number of bytes"));
        }
        match oid.as_str() {
            // A key marked for RSASSA-PSS is still an RSA key (RFC 4055 §1.2).
            RSA_ENCRYPTION | RSASSA_PSS => match RSAPublicKey::from_der(bits) {
                Ok((_, key)) => Self::Rsa {
                    n: strip_zeros(key.modulus),
                    e: strip_zeros(key.exponent),
                },
                Err(_) => Self::Malformed("an RSA key that does not parse".into()),
            },
            EC_PUBLIC_KEY => Self::Ec {
                curve: Curve::from_params(spki.algorithm.parameters.as_ref()),
                point: bits,
            },
            ED25519 => Self::Ed25519(bits),
            _ => Self::Other(oid),
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Rsa { n, .. } => format!("a {}-bit RSA key", bit_len(n)),
            Self::Ec { curve, .. } => format!("an EC key on {}", curve.name()),
            Self::Ed25519(_) => "an Ed25519 key".into(),
            Self::Malformed(why) => why.clone(),
            Self::Other(oid) => format!("a key of type {oid}"),
        }
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// The number of significant bits in a big-endian unsigned integer.
fn bit_len(bytes: &[u8]) -> u32 {
    let bytes = strip_zeros(bytes);
    match bytes.first() {
        None => 0,
        Some(&first) => {
            let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX / 8);
            len.saturating_mul(8).saturating_sub(first.leading_zeros())
        }
    }
}

// Verification.

fn verify(described: &Described, key: &Key<'_>, tbs: &[u8], signature: &[u8]) -> SignatureCheck {
    let name = &described.name;
    if let Key::Malformed(why) = key {
        return unsupported(format!("{name} with {why}"));
    }
    match (&described.scheme, key) {
        (Scheme::Other, _) => unsupported(name.clone()),
        (Scheme::RsaPss(Err(why)), _) => unsupported(why.clone()),
        (_, Key::Other(oid)) => unsupported(format!("{name} with a key of type {oid}")),
        (Scheme::RsaPkcs1(hash), Key::Rsa { n, e }) => {
            let params: &sig::RsaParameters = match hash {
                HashAlg::Sha1 => &sig::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
                HashAlg::Sha256 => &sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                HashAlg::Sha512 => &sig::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
                // ring has no SHA-384 variant for keys under 2048 bits.
                HashAlg::Sha384 if bit_len(n) >= 2048 => &sig::RSA_PKCS1_2048_8192_SHA384,
                HashAlg::Sha384 => {
                    return unsupported(format!("{name} with {}", key.describe()));
                }
                _ => return unsupported(name.clone()),
            };
            let min = if *hash == HashAlg::Sha384 { 2048 } else { 1024 };
            verify_rsa(name, params, min, n, e, tbs, signature)
        }
        (Scheme::RsaPss(Ok(hash)), Key::Rsa { n, e }) => {
            let params: &sig::RsaParameters = match hash {
                HashAlg::Sha256 => &sig::RSA_PSS_2048_8192_SHA256,
                HashAlg::Sha384 => &sig::RSA_PSS_2048_8192_SHA384,
                _ => &sig::RSA_PSS_2048_8192_SHA512,
            };
            verify_rsa(name, params, 2048, n, e, tbs, signature)
        }
        (Scheme::Ecdsa(hash), Key::Ec { curve, point }) => {
            if !matches!(hash, HashAlg::Sha256 | HashAlg::Sha384) {
                return unsupported(name.clone());
            }
            let alg: &sig::EcdsaVerificationAlgorithm = match (curve, hash) {
                (Curve::P256, HashAlg::Sha256) => &sig::ECDSA_P256_SHA256_ASN1,
                (Curve::P256, HashAlg::Sha384) => &sig::ECDSA_P256_SHA384_ASN1,
                (Curve::P384, HashAlg::Sha256) => &sig::ECDSA_P384_SHA256_ASN1,
                (Curve::P384, HashAlg::Sha384) => &sig::ECDSA_P384_SHA384_ASN1,
                _ => return unsupported(format!("{name} with {}", key.describe())),
            };
            if point.first() != Some(&4) {
                return unsupported(format!("{name} with a compressed or malformed EC point"));
            }
            outcome(UnparsedPublicKey::new(alg, point).verify(tbs, signature))
        }
        (Scheme::Ed25519, Key::Ed25519(public)) => {
            if public.len() != 32 {
                return unsupported(format!("{name} with a {}-byte key", public.len()));
            }
            outcome(UnparsedPublicKey::new(&sig::ED25519, public).verify(tbs, signature))
        }
        // The key's type cannot make this kind of signature: it did not sign the certificate.
        (Scheme::RsaPkcs1(_) | Scheme::RsaPss(Ok(_)) | Scheme::Ecdsa(_) | Scheme::Ed25519, _) => {
            SignatureCheck::Invalid
        }
    }
}

/// Checks an RSA signature once the key is known to be one *ring* takes, so that a refusal from
/// *ring* means the signature is wrong, not that the key is unusual.
fn verify_rsa(
    name: &str,
    params: &sig::RsaParameters,
    min_bits: u32,
    n: &[u8],
    e: &[u8],
    tbs: &[u8],
    signature: &[u8],
) -> SignatureCheck {
    let bits = bit_len(n);
    // ring rounds the modulus up to whole bytes before comparing with its minimum.
    let rounded = bits.div_ceil(8).saturating_mul(8);
    if rounded < min_bits || bits > 8192 {
        return unsupported(format!("{name} with a {bits}-bit RSA key"));
    }
    if n.last().is_none_or(|b| b & 1 == 0) {
        return unsupported(format!("{name} with an even RSA modulus"));
    }
    // ring takes odd exponents from 3 to 2^33 - 1.
    let exponent = if e.len() <= 5 {
        e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    } else {
        u64::MAX
    };
    if !(3..=(1u64 << 33) - 1).contains(&exponent) || exponent & 1 == 0 {
        return unsupported(format!("{name} with RSA exponent {}", exponent_text(e)));
    }
    // The signature is an integer modulo n, written in as many bytes as n; some old signers wrote
    // it shorter (or with extra leading zeros), which denotes the same integer.
    let signature = strip_zeros(signature);
    if signature.len() > n.len() {
        return SignatureCheck::Invalid;
    }
    let mut padded = vec![0u8; n.len() - signature.len()];
    padded.extend_from_slice(signature);
    let key = RsaPublicKeyComponents { n, e };
    outcome(key.verify(params, tbs, &padded))
}

fn exponent_text(e: &[u8]) -> String {
    if e.len() <= 8 {
        e.iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
            .to_string()
    } else {
        format!("of {} bits", bit_len(e))
    }
}

fn outcome(result: Result<(), ring::error::Unspecified>) -> SignatureCheck {
    match result {
        Ok(()) => SignatureCheck::Valid,
        Err(_) => SignatureCheck::Invalid,
    }
}

#[cfg(test)]
mod tests;
