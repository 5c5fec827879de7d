//! Who may sign an OCSP response (RFC 6960 §4.2.2.2): the certificate's issuer, or a responder
//! certificate included in the response that the issuer signed and authorised for OCSP signing.

use x509_parser::asn1_rs::BitString;
use x509_parser::error::X509Error;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

use super::judge::rfc3339;
use super::ocsp::{Basic, IssuerKeyError, ResponderId, issuer_spki, sha1};
use crate::analysis::chain::{self, CertFacts};
use crate::der::oid;

/// Why a response's signature does not count.
#[derive(Debug, thiserror::Error)]
pub(super) enum SignerError {
    #[error(transparent)]
    IssuerKey(#[from] IssuerKeyError),
    #[error(
        "the response names the issuer '{issuer}' as its signer, but its signature does not \
         verify with that key ({cause}): forged or altered on the way"
    )]
    IssuerSignature { issuer: String, cause: VerifyError },
    #[error(
        "the response is signed by {who}, which is neither the issuer '{issuer}' nor a responder \
         certificate included in the response"
    )]
    UnknownSigner { who: String, issuer: String },
    #[error(
        "the response is signed by '{cn}', which was issued by '{issued_by}', not by the issuer \
         '{issuer}'"
    )]
    OtherIssuer {
        cn: String,
        issued_by: String,
        issuer: String,
    },
    #[error(
        "the response is signed by '{cn}', whose certificate claims the issuer '{issuer}' but is \
         not signed by its key ({cause})"
    )]
    NotSignedByIssuer {
        cn: String,
        issuer: String,
        cause: X509Error,
    },
    #[error(
        "the response is signed by '{cn}', which the issuer signed but did not authorise for OCSP \
         signing (no id-kp-OCSPSigning extended key usage)"
    )]
    NotAuthorised { cn: String },
    #[error(
        "the response is signed by '{cn}', whose certificate is not valid now ({} to {})",
        rfc3339(*not_before),
        rfc3339(*not_after)
    )]
    ResponderNotValid {
        cn: String,
        not_before: i64,
        not_after: i64,
    },
    #[error(
        "the response's signature does not verify with the key of its responder '{cn}' \
         ({cause}): forged or altered on the way"
    )]
    ResponderSignature { cn: String, cause: VerifyError },
}

/// Why a signature does not verify.
#[derive(Debug, thiserror::Error)]
pub(super) enum VerifyError {
    #[error("unsupported signature algorithm")]
    Unsupported,
    #[error("bad signature")]
    Bad,
    #[error(transparent)]
    Unreadable(#[from] x509_parser::nom::Err<X509Error>),
    #[error(transparent)]
    UnreadableSignature(#[from] x509_parser::nom::Err<x509_parser::asn1_rs::Error>),
    #[error(transparent)]
    Other(X509Error),
}

/// Checks who signed the response: the issuer itself, or a responder certificate included in the
/// response that the issuer signed for OCSP signing. Returns how to name the signer.
pub(super) fn check_signer(
    basic: &Basic<'_>,
    issuer: &CertFacts,
    now: i64,
) -> Result<String, SignerError> {
    let issuer_spki = issuer_spki(&issuer.spki_der)?;
    let issuer_key = issuer_spki.subject_public_key.data.as_ref();
    let names_issuer = match basic.responder {
        ResponderId::ByName(name) => name == issuer.subject_der.as_slice(),
        ResponderId::ByKey(hash) => hash == sha1(issuer_key).as_slice(),
    };
    if names_issuer {
        verify(
            &issuer.spki_der,
            basic.sig_alg_raw,
            basic.sig_raw,
            basic.tbs_raw,
        )
        .map_err(|cause| SignerError::IssuerSignature {
            issuer: issuer.subject_cn.clone(),
            cause,
        })?;
        return Ok(format!("the issuer '{}'", issuer.subject_cn));
    }
    // A delegated responder: its certificate must be in the response.
    let named = basic.certs.iter().find_map(|raw| {
        let (_, c) = X509Certificate::from_der(raw).ok()?;
        let matches = match basic.responder {
            ResponderId::ByName(name) => c.subject().as_raw() == name,
            ResponderId::ByKey(hash) => sha1(&c.public_key().subject_public_key.data) == hash,
        };
        matches.then_some(c)
    });
    let Some(responder) = named else {
        let who = match basic.responder {
            ResponderId::ByName(name) => X509Name::from_der(name)
                .map(|(_, n)| format!("'{}'", chain::display_name(&n)))
                .unwrap_or_else(|_| "an unreadable name".into()),
            ResponderId::ByKey(hash) => format!("key {}", chain::hex(hash)),
        };
        return Err(SignerError::UnknownSigner {
            who,
            issuer: issuer.subject_cn.clone(),
        });
    };
    let cn = chain::display_name(responder.subject());
    if responder.issuer().as_raw() != issuer.subject_der.as_slice() {
        return Err(SignerError::OtherIssuer {
            cn,
            issued_by: chain::display_name(responder.issuer()),
            issuer: issuer.subject_cn.clone(),
        });
    }
    if let Err(cause) = responder.verify_signature(Some(&issuer_spki)) {
        return Err(SignerError::NotSignedByIssuer {
            cn,
            issuer: issuer.subject_cn.clone(),
            cause,
        });
    }
    let ocsp_signing = responder
        .extended_key_usage()
        .ok()
        .flatten()
        .is_some_and(|eku| {
            eku.value.ocsp_signing
                || eku
                    .value
                    .other
                    .iter()
                    .any(|o| o.to_id_string() == oid::KP_OCSP_SIGNING)
        });
    if !ocsp_signing {
        return Err(SignerError::NotAuthorised { cn });
    }
    let validity = responder.validity();
    let (not_before, not_after) = (
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    );
    if now < not_before || now > not_after {
        return Err(SignerError::ResponderNotValid {
            cn,
            not_before,
            not_after,
        });
    }
    if let Err(cause) = verify(
        responder.public_key().raw,
        basic.sig_alg_raw,
        basic.sig_raw,
        basic.tbs_raw,
    ) {
        return Err(SignerError::ResponderSignature { cn, cause });
    }
    Ok(format!(
        "the responder '{cn}', authorised by '{}'",
        issuer.subject_cn
    ))
}

fn verify(spki_der: &[u8], alg_raw: &[u8], sig_raw: &[u8], data: &[u8]) -> Result<(), VerifyError> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der)?;
    let (_, alg) = AlgorithmIdentifier::from_der(alg_raw)?;
    let (_, sig) = BitString::from_der(sig_raw)?;
    x509_parser::verify::verify_signature(&spki, &alg, &sig, data).map_err(|e| match e {
        X509Error::SignatureUnsupportedAlgorithm => VerifyError::Unsupported,
        X509Error::SignatureVerificationError => VerifyError::Bad,
        other => VerifyError::Other(other),
    })
}
