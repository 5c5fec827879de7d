//! CRLs (RFC 5280 §5): DER, or PEM as some servers send them; read with x509-parser, decoded from
//! PEM by rustls-pki-types.

use std::borrow::Cow;

use rustls_pki_types::CertificateRevocationListDer;
use rustls_pki_types::pem::{self, PemObject};
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::judge::{Judged, freshness, rfc3339};
use super::{Status, reason_name};
use crate::analysis::chain::{self, CertFacts};
use crate::der;

/// A PEM body that does not decode.
#[derive(Debug, thiserror::Error)]
#[error("a PEM body that does not decode: {0}")]
struct PemError(pem::Error);

/// What a CRL says about `cert` at `now`; its signature is checked when `issuer` is known.
pub(super) fn judge_crl(
    body: &[u8],
    cert: &CertFacts,
    issuer: Option<&CertFacts>,
    now: i64,
) -> Judged {
    let der = match crl_der(body) {
        Ok(d) => d,
        Err(e) => return Judged::new(Status::Invalid, e.to_string()),
    };
    let crl = match CertificateRevocationList::from_der(&der) {
        Ok((_, crl)) => crl,
        Err(e) => return Judged::new(Status::Invalid, format!("not a CRL: {e}")),
    };
    let crl_issuer = chain::display_name(crl.issuer());
    if crl.issuer().as_raw() != cert.issuer_der.as_slice() {
        return Judged::new(
            Status::Invalid,
            format!(
                "the CRL is issued by '{crl_issuer}', not by the certificate's issuer '{}' \
                 (indirect CRLs are not supported)",
                cert.issuer_cn
            ),
        );
    }
    let Some(issuer) = issuer else {
        return Judged::new(
            Status::NotChecked,
            format!(
                "the CRL was fetched, but its issuer '{}' was not presented, so its signature \
                 could not be checked",
                cert.issuer_cn
            ),
        );
    };
    let signed = SubjectPublicKeyInfo::from_der(&issuer.spki_der)
        .map_err(|e| e.to_string())
        .and_then(|(_, spki)| crl.verify_signature(&spki).map_err(|e| e.to_string()));
    if let Err(e) = signed {
        return Judged::new(
            Status::Invalid,
            format!(
                "the CRL's signature does not verify with the key of '{}' ({e}): forged or \
                 altered on the way",
                issuer.subject_cn
            ),
        );
    }
    let this = crl.last_update().timestamp();
    let next = crl.next_update().map(|t| t.timestamp());
    let mut j = Judged::new(Status::Good, String::new());
    j.this_update = Some(this);
    j.next_update = next;
    let fresh = freshness(this, next, now);
    let count = crl.iter_revoked_certificates().count();
    let entry = crl
        .iter_revoked_certificates()
        .find(|r| der::unsigned(r.raw_serial()) == der::unsigned(&cert.raw_serial));
    let signed = format!("signed by '{}'", issuer.subject_cn);
    match entry {
        Some(entry) => {
            let at = entry.revocation_date.timestamp();
            j.status = Status::Revoked;
            j.revoked_at = Some(at);
            j.reason = entry
                .reason_code()
                .map(|(_, r)| reason_name(r.0).to_owned());
            j.detail = format!(
                "serial {} listed, revoked at {}, reason {}; {signed}",
                cert.summary.serial,
                rfc3339(at),
                j.reason.as_deref().unwrap_or("not given")
            );
            if let Err(stale) = fresh {
                j.detail
                    .push_str(&format!("; the CRL is {stale}, but revocation is final"));
            }
        }
        None => match fresh {
            Ok(window) => {
                j.detail = format!("serial not among the {count} listed, {window}; {signed}");
            }
            Err(stale) => {
                j.status = Status::Unknown;
                j.detail = format!(
                    "the serial is not listed, but the CRL is {stale}, so that proves nothing; {signed}"
                );
            }
        },
    }
    j
}

/// CRLs are DER; some servers send PEM, which is accepted too.
fn crl_der(body: &[u8]) -> Result<Cow<'_, [u8]>, PemError> {
    if !body.trim_ascii_start().starts_with(b"-----BEGIN") {
        return Ok(Cow::Borrowed(body));
    }
    CertificateRevocationListDer::from_pem_slice(body)
        .map(|crl| Cow::Owned(crl.as_ref().to_vec()))
        .map_err(PemError)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn pem_bodies_are_decoded() {
        assert_eq!(crl_der(b"\x30\x00").unwrap().as_ref(), b"\x30\x00");
        let pem = b"\n-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n";
        assert_eq!(crl_der(pem).unwrap().as_ref(), b"\x30\x00");
        let broken = b"-----BEGIN X509 CRL-----\nM!A=\n-----END X509 CRL-----\n";
        assert!(
            crl_der(broken)
                .unwrap_err()
                .to_string()
                .starts_with("a PEM body that does not decode: ")
        );
    }
}
