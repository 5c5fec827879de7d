//! Who signed what, decided by the crypto alone. The path validator refuses algorithms Apple
//! refuses (SHA-1, RSA-1024), so its errors cannot tell "not signed by this key" from "signed with
//! a weak algorithm". This module checks a signature with *ring* directly, legacy algorithms
//! included, so the evidence of interception tells the truth; the weakness is reported separately.

use serde::Serialize;

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
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    /// The algorithm carries no separate hash (Ed25519).
    Intrinsic,
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
    let _ = (cert, issuer_spki);
    todo!("helper: signatures")
}

/// The certificate's signature algorithm; `None` when the certificate does not parse.
pub fn signature_algorithm(cert: &[u8]) -> Option<SignatureAlgorithm> {
    let _ = cert;
    todo!("helper: signatures")
}

/// Describes a DER SubjectPublicKeyInfo; `None` when it does not parse.
pub fn key_info(spki: &[u8]) -> Option<KeyInfo> {
    let _ = spki;
    todo!("helper: signatures")
}
