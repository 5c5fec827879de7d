//! Trust stores and path validation. A [`RootSet`] is a named list of trust anchors (Apple's store,
//! Mozilla's public roots, this machine's native store, or a file given on the command line);
//! validation asks rustls-webpki whether the presented chain leads to one of them at a given time,
//! and which one. The three views of a chain (Apple devices, public clients, this machine) are three
//! root sets in a [`TrustContext`].

use rustls_pki_types::{
    CertificateDer, ServerName, SignatureVerificationAlgorithm, TrustAnchor, UnixTime,
};
use sha2::{Digest, Sha256};
use webpki::{EndEntityCert, KeyUsage};

use super::chain::{hex, name_from_contents, wrap_sequence};
use crate::model::context::{DataUsed, TrustStoreUsed};

/// Every signature algorithm webpki can check with *ring*: the analysis judges chains as found, so it
/// accepts whatever a real client would.
static ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P256_SHA384,
    webpki::ring::ECDSA_P384_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
    webpki::ring::ED25519,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_3072_8192_SHA384,
    webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// A named set of trust anchors.
#[derive(Clone, Debug)]
pub struct RootSet {
    /// How the set is described to users ("public roots (webpki-roots)", "native store", a file).
    pub label: String,
    anchors: Vec<TrustAnchor<'static>>,
    /// The certificate behind each anchor, when it came from one (webpki-roots carries only names
    /// and keys).
    certs: Vec<Option<CertificateDer<'static>>>,
    /// SHA-256 of each anchor's SubjectPublicKeyInfo, lower-case hex.
    spkis: Vec<String>,
}

/// A certificate that could not serve as a trust anchor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedAnchor {
    /// Position in the list given.
    pub index: usize,
    pub reason: String,
}

impl RootSet {
    /// Mozilla's roots as shipped by webpki-roots: what "publicly trusted" means here.
    pub fn webpki_roots() -> Self {
        let anchors = webpki_roots::TLS_SERVER_ROOTS.to_vec();
        Self {
            label: "public roots (webpki-roots)".into(),
            certs: vec![None; anchors.len()],
            spkis: anchors.iter().map(spki_hash).collect(),
            anchors,
        }
    }

    /// A set of anchors given as names and keys (Apple's store, as embedded).
    pub fn from_anchors(label: &str, anchors: Vec<TrustAnchor<'static>>) -> Self {
        Self {
            label: label.to_owned(),
            certs: vec![None; anchors.len()],
            spkis: anchors.iter().map(spki_hash).collect(),
            anchors,
        }
    }

    /// Anchors from certificates; those webpki cannot use are reported, not fatal.
    pub fn from_certs(label: &str, certs: &[CertificateDer<'_>]) -> (Self, Vec<RejectedAnchor>) {
        let mut set = Self::empty(label);
        let rejected = set.add(certs);
        (set, rejected)
    }

    pub fn empty(label: &str) -> Self {
        Self {
            label: label.to_owned(),
            anchors: Vec::new(),
            certs: Vec::new(),
            spkis: Vec::new(),
        }
    }

    /// Adds certificates as anchors; returns those that cannot serve as one.
    pub fn add(&mut self, certs: &[CertificateDer<'_>]) -> Vec<RejectedAnchor> {
        let mut rejected = Vec::new();
        for (index, cert) in certs.iter().enumerate() {
            match webpki::anchor_from_trusted_cert(cert) {
                Ok(anchor) => {
                    self.spkis.push(spki_hash(&anchor));
                    self.anchors.push(anchor.to_owned());
                    self.certs.push(Some(cert.clone().into_owned()));
                }
                Err(e) => rejected.push(RejectedAnchor {
                    index,
                    reason: webpki_reason(&e),
                }),
            }
        }
        rejected
    }

    /// This set plus the given certificates, under another label.
    pub fn extended(&self, label: &str, certs: &[CertificateDer<'_>]) -> Self {
        let mut set = self.clone();
        set.label = label.to_owned();
        set.add(certs);
        set
    }

    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Whether some anchor in this set has this key (SPKI SHA-256, lower-case hex).
    pub fn has_spki(&self, spki_sha256: &str) -> bool {
        self.spkis.iter().any(|s| s == spki_sha256)
    }

    /// The DER SubjectPublicKeyInfo (with its header) of every anchor named exactly `name_der`
    /// (DER of the Name, with its header), with the key's SHA-256: the candidates for having
    /// signed a certificate that names this issuer.
    pub fn keys_named(&self, name_der: &[u8]) -> Vec<(Vec<u8>, &str)> {
        self.anchors
            .iter()
            .zip(&self.spkis)
            .filter(|(a, _)| wrap_sequence(a.subject.as_ref()) == name_der)
            .map(|(a, h)| {
                (
                    wrap_sequence(a.subject_public_key_info.as_ref()),
                    h.as_str(),
                )
            })
            .collect()
    }

    /// The certificate of the anchor with this key (SPKI SHA-256), when the set holds one (sets
    /// built from certificates do; webpki-roots and Apple's store carry only names and keys).
    pub fn cert_for_spki(&self, spki_sha256: &str) -> Option<&CertificateDer<'static>> {
        let i = self.spkis.iter().position(|s| s == spki_sha256)?;
        self.certs.get(i)?.as_ref()
    }

    /// Whether some anchor in this set has exactly this subject (DER of the Name, with its header).
    pub fn has_subject(&self, name_der: &[u8]) -> bool {
        self.anchors
            .iter()
            .any(|a| wrap_sequence(a.subject.as_ref()) == name_der)
    }
}

/// The trust stores a chain is judged against: the three views of a chain, plus the CAs an MDM
/// profile allows as transparent-connection pins.
#[derive(Clone, Debug)]
pub struct TrustContext {
    /// Public clients: Mozilla's roots (webpki-roots) or `--public-roots`. A second opinion: it
    /// says what Linux and Android clients would do, never what an Apple device does.
    pub public: RootSet,
    /// This machine: its native store. Decides whether an anchor is one only this machine trusts,
    /// which is where an inspection CA pushed by policy shows up.
    pub native: RootSet,
    /// Apple devices: the roots of Apple's trust store trusted for TLS, plus `--apple-roots` and
    /// any `--public-roots` files (roots the user declares public are trusted by every client).
    /// This view decides pass or untrusted.
    pub device: RootSet,
    /// CAs an MDM profile names as transparent-connection pins (`--transparent-ca`): accepted on
    /// hosts whose pinning policy allows it, interception anywhere else.
    pub transparent: RootSet,
    /// Apple's trust data: which roots are system roots, the removed roots, the CT logs.
    pub apple: std::sync::Arc<crate::apple_store::AppleTrustStore>,
}

impl TrustContext {
    /// Each view's store as a report names it (the transparent-connection CAs only when given).
    pub fn used(&self) -> Vec<TrustStoreUsed> {
        let one = |view: &str, set: &RootSet| TrustStoreUsed {
            view: view.into(),
            source: set.label.clone(),
            roots: set.len(),
        };
        let mut used = vec![
            one("apple_devices", &self.device),
            one("public_clients", &self.public),
            one("this_machine", &self.native),
        ];
        if !self.transparent.is_empty() {
            used.push(one("transparent_connection", &self.transparent));
        }
        used
    }

    /// The versions of Apple's trust data that judged.
    pub fn data_used(&self) -> Vec<DataUsed> {
        vec![
            DataUsed {
                name: "Apple trust store".into(),
                version: format!("{} ({})", self.apple.version, self.apple.source),
            },
            DataUsed {
                name: "Apple CT log list".into(),
                version: self.apple.ct_log_list_version.clone(),
            },
        ]
    }
}

/// The anchor a valid path ended at, and the path that led there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnchorInfo {
    pub subject: String,
    pub spki_sha256: String,
    /// The anchor's certificate, when the store had it.
    pub cert: Option<CertificateDer<'static>>,
    /// The intermediates webpki used, in path order (leaf's issuer first).
    pub intermediates: Vec<CertificateDer<'static>>,
}

/// Whether the chain (leaf first, the rest as candidate intermediates) leads to an anchor in `roots`
/// at time `at`, for TLS server authentication. Names are not checked here; see [`check_name`].
pub fn verify_path(
    chain: &[CertificateDer<'static>],
    roots: &RootSet,
    at: UnixTime,
) -> Result<AnchorInfo, webpki::Error> {
    let (leaf, intermediates) = chain.split_first().ok_or(webpki::Error::BadDer)?;
    let ee = EndEntityCert::try_from(leaf)?;
    let path = ee.verify_for_usage(
        ALGORITHMS,
        &roots.anchors,
        intermediates,
        at,
        KeyUsage::server_auth(),
        None,
        None,
    )?;
    let anchor = path.anchor();
    let cert = roots
        .anchors
        .iter()
        .position(|a| {
            a.subject_public_key_info == anchor.subject_public_key_info
                && a.subject == anchor.subject
        })
        .and_then(|i| roots.certs.get(i).cloned().flatten());
    Ok(AnchorInfo {
        subject: name_from_contents(anchor.subject.as_ref()),
        spki_sha256: spki_hash(anchor),
        cert,
        intermediates: path
            .intermediate_certificates()
            .map(|c| c.der().into_owned())
            .collect(),
    })
}

/// Whether the leaf is valid for the host name (or IP address) that was probed.
pub fn check_name(leaf: &CertificateDer<'_>, host: &str) -> Result<(), webpki::Error> {
    let ee = EndEntityCert::try_from(leaf)?;
    let name = ServerName::try_from(host).map_err(|_| webpki::Error::MalformedDnsIdentifier)?;
    ee.verify_is_valid_for_subject_name(&name)
}

/// SHA-256 of an anchor's SubjectPublicKeyInfo (webpki keeps it without its SEQUENCE header).
fn spki_hash(anchor: &TrustAnchor<'_>) -> String {
    hex(&Sha256::digest(wrap_sequence(
        anchor.subject_public_key_info.as_ref(),
    )))
}

/// webpki's errors, in words: every error path validation and anchor parsing can give is named;
/// webpki's error type is non-exhaustive, so a newer error gets a plain fallback, never a Debug
/// name.
pub fn webpki_reason(e: &webpki::Error) -> String {
    use webpki::Error as E;
    let reason = match e {
        // The names themselves are in the name-mismatch finding (`requirements::names_presented`).
        E::CertNotValidForName(_) => "not valid for the name",
        E::CertExpired { .. } => "expired",
        E::CertNotValidYet { .. } => "not yet valid",
        E::InvalidCertValidity => "its validity period ends before it begins",
        E::UnknownIssuer => "unknown issuer",
        E::CertRevoked => "revoked",
        E::CertDistrusted => "distrusted by the store",
        E::CaUsedAsEndEntity => "a CA certificate is used as the server certificate",
        E::EndEntityUsedAsCa => "a server certificate is used as a CA",
        E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
            "not issued for TLS server authentication"
        }
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | E::SignatureAlgorithmMismatch => {
            "signed with an algorithm that is not accepted (for example SHA-1)"
        }
        E::InvalidSignatureForPublicKey => "a signature does not verify under its issuer's key",
        E::NameConstraintViolation
        | E::InvalidNetworkMaskConstraint
        | E::MalformedNameConstraint
        | E::MaximumNameConstraintComparisonsExceeded => "a CA's name constraints forbid this name",
        E::PathLenConstraintViolated => "a CA's path length constraint is violated",
        E::MaximumPathDepthExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumSignatureChecksExceeded => {
            "path building gave up (too many candidates or too deep)"
        }
        E::UnsupportedCertVersion => "a certificate is not version 3",
        E::UnsupportedCriticalExtension => {
            "a certificate has a critical extension that is not understood"
        }
        E::BadDer
        | E::BadDerTime
        | E::TrailingData(_)
        | E::ExtensionValueInvalid
        | E::MalformedExtensions
        | E::MalformedDnsIdentifier
        | E::InvalidSerialNumber
        | E::UnsupportedNameType => "a certificate is not well-formed DER",
        _ => "the path validator refused it",
    };
    reason.to_owned()
}
