//! Trust stores and path validation. A [`RootSet`] is a named list of trust anchors (the public roots,
//! this machine's native store, or a file given on the command line); validation asks rustls-webpki
//! whether the presented chain leads to one of them at a given time, and which one.

use rustls_pki_types::{
    CertificateDer, ServerName, SignatureVerificationAlgorithm, TrustAnchor, UnixTime,
};
use sha2::{Digest, Sha256};
use webpki::{EndEntityCert, KeyUsage};

use super::chain::{hex, name_from_contents, wrap_sequence};

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
        Self {
            label: "public roots (webpki-roots)".into(),
            anchors: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }
    }

    /// Anchors from certificates; those webpki cannot use are reported, not fatal.
    pub fn from_certs(label: &str, certs: &[CertificateDer<'_>]) -> (Self, Vec<RejectedAnchor>) {
        let mut anchors = Vec::with_capacity(certs.len());
        let mut rejected = Vec::new();
        for (index, cert) in certs.iter().enumerate() {
            match webpki::anchor_from_trusted_cert(cert) {
                Ok(anchor) => anchors.push(anchor.to_owned()),
                Err(e) => rejected.push(RejectedAnchor {
                    index,
                    reason: format!("{e:?}"),
                }),
            }
        }
        let set = Self {
            label: label.to_owned(),
            anchors,
        };
        (set, rejected)
    }

    pub fn empty(label: &str) -> Self {
        Self {
            label: label.to_owned(),
            anchors: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Whether some anchor in this set has exactly this subject (DER of the Name, with its header).
    pub fn has_subject(&self, name_der: &[u8]) -> bool {
        self.anchors
            .iter()
            .any(|a| wrap_sequence(a.subject.as_ref()) == name_der)
    }
}

/// The trust stores a chain is judged against.
#[derive(Clone, Debug)]
pub struct TrustContext {
    /// What the world trusts: a chain valid here is not a private CA's.
    pub public: RootSet,
    /// What this machine trusts: where an inspection CA, pushed by policy, shows up.
    pub native: RootSet,
}

/// The anchor a valid path ended at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnchorInfo {
    pub subject: String,
    pub spki_sha256: String,
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
    Ok(AnchorInfo {
        subject: name_from_contents(anchor.subject.as_ref()),
        spki_sha256: hex(&Sha256::digest(wrap_sequence(
            anchor.subject_public_key_info.as_ref(),
        ))),
    })
}

/// Whether the leaf is valid for the host name (or IP address) that was probed.
pub fn check_name(leaf: &CertificateDer<'_>, host: &str) -> Result<(), webpki::Error> {
    let ee = EndEntityCert::try_from(leaf)?;
    let name = ServerName::try_from(host).map_err(|_| webpki::Error::MalformedDnsIdentifier)?;
    ee.verify_is_valid_for_subject_name(&name)
}
