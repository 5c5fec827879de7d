//! OCSP (RFC 6960): the request devices send, the response's wire format, who may sign one, and
//! what a response says about a certificate.

use ring::digest;
use sha2::{Digest, Sha256};
use x509_parser::error::X509Error;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::judge::{Judged, freshness, rfc3339};
use super::signer::check_signer;
use super::{Status, reason_name};
use crate::analysis::chain::CertFacts;
use crate::der::{self, DerError, Reader, Tlv, encode, generalized_time, oid, tag, tlv};

/// The responseStatus `unauthorized`: the responder does not answer for this issuer.
const UNAUTHORIZED: u8 = 6;
/// ResponderID `[1] byName` and `[2] byKey`.
const BY_NAME: u8 = tag::explicit(1);
const BY_KEY: u8 = tag::explicit(2);
/// CertStatus `[0] IMPLICIT NULL good`, `[1] IMPLICIT RevokedInfo revoked`, `[2] IMPLICIT NULL
/// unknown`.
const GOOD: u8 = 0x80;
const REVOKED: u8 = tag::explicit(1);
const UNKNOWN: u8 = 0x82;

/// Why no OCSP request could be built.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("the certificate has no serial number")]
    NoSerial,
    #[error(transparent)]
    IssuerKey(#[from] IssuerKeyError),
}

/// The issuer's SubjectPublicKeyInfo cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("the issuer's public key cannot be read: {0}")]
pub struct IssuerKeyError(x509_parser::nom::Err<X509Error>);

/// Why bytes are not an OCSP response pinscope can read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ParseError {
    #[error(transparent)]
    Der(#[from] DerError),
    #[error("it does not start with a DER SEQUENCE (tag {0:#04x})")]
    NotSequence(u8),
    #[error("malformed responseStatus")]
    ResponseStatus,
    #[error("the response type is not id-pkix-ocsp-basic")]
    ResponseType,
    #[error("BasicOCSPResponse is not a SEQUENCE")]
    BasicNotSequence,
    #[error("unknown responderID (tag {0:#04x})")]
    ResponderId(u8),
    #[error("malformed revocationReason")]
    RevocationReason,
    #[error("unknown certStatus (tag {0:#04x})")]
    CertStatus(u8),
    /// A responseStatus other than successful, where one was needed.
    #[error("the responder answered {}", response_status(*.0))]
    Refused(u8),
}

// ---------------------------------------------------------------------------------------------
// The request.

/// The DER OCSPRequest (RFC 6960) asking about `cert`, with a SHA-1 CertID built from `issuer`'s
/// name and key, no nonce and no signature: what devices send.
pub fn ocsp_request(cert: &CertFacts, issuer: &CertFacts) -> Result<Vec<u8>, RequestError> {
    let key = key_bits(&issuer.spki_der)?;
    if cert.raw_serial.is_empty() {
        return Err(RequestError::NoSerial);
    }
    let alg = der::sequence(&[encode(tag::OID, oid::SHA1), encode(tag::NULL, &[])].concat());
    let cert_id = der::sequence(
        &[
            alg,
            encode(tag::OCTET_STRING, &sha1(&issuer.subject_der)),
            encode(tag::OCTET_STRING, &sha1(&key)),
            encode(tag::INTEGER, &cert.raw_serial),
        ]
        .concat(),
    );
    // OCSPRequest { TBSRequest { requestList { Request { reqCert } } } }
    let request = der::sequence(&cert_id);
    let request_list = der::sequence(&request);
    let tbs = der::sequence(&request_list);
    Ok(der::sequence(&tbs))
}

/// SHA-1, which OCSP CertIDs and responder key hashes use. ring computes it: no other crate in
/// the tree does, and SHA-256 comes from sha2.
pub(super) fn sha1(b: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, b)
        .as_ref()
        .to_vec()
}

pub(super) fn issuer_spki(spki_der: &[u8]) -> Result<SubjectPublicKeyInfo<'_>, IssuerKeyError> {
    SubjectPublicKeyInfo::from_der(spki_der)
        .map(|(_, spki)| spki)
        .map_err(IssuerKeyError)
}

/// The subjectPublicKey BIT STRING's bits (what OCSP's key hash covers).
fn key_bits(spki_der: &[u8]) -> Result<Vec<u8>, IssuerKeyError> {
    issuer_spki(spki_der).map(|spki| spki.subject_public_key.data.to_vec())
}

// ---------------------------------------------------------------------------------------------
// The response.

enum Ocsp<'a> {
    /// A responseStatus other than successful.
    Error(u8),
    Basic(Basic<'a>),
}

pub(super) struct Basic<'a> {
    pub(super) tbs_raw: &'a [u8],
    pub(super) responder: ResponderId<'a>,
    responses: Vec<Single<'a>>,
    pub(super) sig_alg_raw: &'a [u8],
    pub(super) sig_raw: &'a [u8],
    /// The certificates included in the response (DER), where a delegated responder's is.
    pub(super) certs: Vec<&'a [u8]>,
}

pub(super) enum ResponderId<'a> {
    /// The DER Name.
    ByName(&'a [u8]),
    /// SHA-1 of the responder's public key bits.
    ByKey(&'a [u8]),
}

struct Single<'a> {
    hash_oid: &'a [u8],
    name_hash: &'a [u8],
    key_hash: &'a [u8],
    serial: &'a [u8],
    status: CertStatus,
    this_update: i64,
    next_update: Option<i64>,
    /// What follows nextUpdate (the optional `[1] singleExtensions`), read only when asked for.
    rest: &'a [u8],
}

#[derive(Clone, Copy)]
enum CertStatus {
    Good,
    Revoked { at: i64, reason: Option<u8> },
    Unknown,
}

impl Single<'_> {
    /// The CertID names this certificate (SHA-1 or SHA-256 hashes of its issuer, and its serial).
    fn is_about(&self, cert: &CertFacts, issuer: &CertFacts) -> bool {
        let Ok(key) = key_bits(&issuer.spki_der) else {
            return false;
        };
        let hash = |b: &[u8]| {
            if self.hash_oid == oid::SHA1 {
                Some(sha1(b))
            } else if self.hash_oid == oid::SHA256 {
                Some(Sha256::digest(b).to_vec())
            } else {
                None
            }
        };
        hash(&issuer.subject_der).is_some_and(|h| h == self.name_hash)
            && hash(&key).is_some_and(|h| h == self.key_hash)
            && der::unsigned(self.serial) == der::unsigned(&cert.raw_serial)
    }
}

/// The name of an OCSPResponseStatus other than successful.
fn response_status(code: u8) -> String {
    match code {
        1 => "malformedRequest".into(),
        2 => "internalError".into(),
        3 => "tryLater".into(),
        5 => "sigRequired".into(),
        6 => "unauthorized".into(),
        other => format!("status {other}"),
    }
}

fn parse_ocsp(body: &[u8]) -> Result<Ocsp<'_>, ParseError> {
    let (outer, _) = tlv(body)?;
    if outer.tag != tag::SEQUENCE {
        return Err(ParseError::NotSequence(outer.tag));
    }
    let mut r = Reader(outer.content);
    let status = r.expect(tag::ENUMERATED, "responseStatus")?;
    let code = match status.content {
        [c] => *c,
        _ => return Err(ParseError::ResponseStatus),
    };
    if code != 0 {
        return Ok(Ocsp::Error(code));
    }
    let bytes = r.expect(tag::explicit(0), "responseBytes")?;
    let mut rb = Reader(
        Reader(bytes.content)
            .expect(tag::SEQUENCE, "ResponseBytes")?
            .content,
    );
    let oid = rb.expect(tag::OID, "responseType")?;
    if oid.content != oid::OCSP_BASIC {
        return Err(ParseError::ResponseType);
    }
    let basic = rb.expect(tag::OCTET_STRING, "response")?;
    parse_basic(basic.content).map(Ocsp::Basic)
}

fn parse_basic(der: &[u8]) -> Result<Basic<'_>, ParseError> {
    let (seq, _) = tlv(der)?;
    if seq.tag != tag::SEQUENCE {
        return Err(ParseError::BasicNotSequence);
    }
    let mut r = Reader(seq.content);
    let tbs = r.expect(tag::SEQUENCE, "tbsResponseData")?;
    let sig_alg = r.expect(tag::SEQUENCE, "signatureAlgorithm")?;
    let sig = r.expect(tag::BIT_STRING, "signature")?;
    let mut certs = Vec::new();
    if let Some(c) = r.optional(tag::explicit(0))? {
        let mut list = Reader(Reader(c.content).expect(tag::SEQUENCE, "certs")?.content);
        while !list.is_empty() {
            certs.push(list.expect(tag::SEQUENCE, "certificate")?.raw);
        }
    }
    let mut t = Reader(tbs.content);
    t.optional(tag::explicit(0))?;
    let rid = t.next()?;
    let responder = match rid.tag {
        BY_NAME => ResponderId::ByName(
            Reader(rid.content)
                .expect(tag::SEQUENCE, "responder name")?
                .raw,
        ),
        BY_KEY => ResponderId::ByKey(
            Reader(rid.content)
                .expect(tag::OCTET_STRING, "responder key hash")?
                .content,
        ),
        other => return Err(ParseError::ResponderId(other)),
    };
    generalized_time(&t.expect(tag::GENERALIZED_TIME, "producedAt")?)?;
    let mut list = Reader(t.expect(tag::SEQUENCE, "responses")?.content);
    let mut responses = Vec::new();
    while !list.is_empty() {
        responses.push(parse_single(list.expect(tag::SEQUENCE, "SingleResponse")?)?);
    }
    Ok(Basic {
        tbs_raw: tbs.raw,
        responder,
        responses,
        sig_alg_raw: sig_alg.raw,
        sig_raw: sig.raw,
        certs,
    })
}

fn parse_single(seq: Tlv<'_>) -> Result<Single<'_>, ParseError> {
    let mut r = Reader(seq.content);
    let mut id = Reader(r.expect(tag::SEQUENCE, "CertID")?.content);
    let alg = id.expect(tag::SEQUENCE, "hashAlgorithm")?;
    let hash_oid = Reader(alg.content).expect(tag::OID, "hash OID")?.content;
    let name_hash = id.expect(tag::OCTET_STRING, "issuerNameHash")?.content;
    let key_hash = id.expect(tag::OCTET_STRING, "issuerKeyHash")?.content;
    let serial = id.expect(tag::INTEGER, "serialNumber")?.content;
    let st = r.next()?;
    let status = match st.tag {
        GOOD => CertStatus::Good,
        REVOKED => {
            let mut ri = Reader(st.content);
            let at = generalized_time(&ri.expect(tag::GENERALIZED_TIME, "revocationTime")?)?;
            let reason = match ri.optional(tag::explicit(0))? {
                Some(t) => match Reader(t.content)
                    .expect(tag::ENUMERATED, "revocationReason")?
                    .content
                {
                    [c] => Some(*c),
                    _ => return Err(ParseError::RevocationReason),
                },
                None => None,
            };
            CertStatus::Revoked { at, reason }
        }
        UNKNOWN => CertStatus::Unknown,
        other => return Err(ParseError::CertStatus(other)),
    };
    let this_update = generalized_time(&r.expect(tag::GENERALIZED_TIME, "thisUpdate")?)?;
    let next_update = match r.optional(tag::explicit(0))? {
        Some(t) => Some(generalized_time(
            &Reader(t.content).expect(tag::GENERALIZED_TIME, "nextUpdate")?,
        )?),
        None => None,
    };
    Ok(Single {
        hash_oid,
        name_hash,
        key_hash,
        serial,
        status,
        this_update,
        next_update,
        rest: r.0,
    })
}

/// A singleExtension found in an OCSP response, with the serial number its SingleResponse is about.
pub(crate) struct SingleExtension<'a> {
    /// The CertID's serialNumber (INTEGER content octets).
    pub(crate) serial: &'a [u8],
    /// The extension's extnValue (OCTET STRING content octets).
    pub(crate) value: &'a [u8],
}

/// Every singleExtension `oid` (DER content octets of the OID) in the SingleResponses of an OCSP
/// response. The response's signature is not checked: the caller is after values that carry
/// their own signatures (Certificate Transparency SCTs).
pub(crate) fn ocsp_single_extension<'a>(
    body: &'a [u8],
    oid: &[u8],
) -> Result<Vec<SingleExtension<'a>>, ParseError> {
    let basic = match parse_ocsp(body)? {
        Ocsp::Error(code) => return Err(ParseError::Refused(code)),
        Ocsp::Basic(basic) => basic,
    };
    let mut found = Vec::new();
    for single in &basic.responses {
        let Some(list) = Reader(single.rest).optional(tag::explicit(1))? else {
            continue;
        };
        let mut exts = Reader(
            Reader(list.content)
                .expect(tag::SEQUENCE, "singleExtensions")?
                .content,
        );
        while !exts.is_empty() {
            let mut ext = Reader(exts.expect(tag::SEQUENCE, "Extension")?.content);
            let id = ext.expect(tag::OID, "extnID")?;
            ext.optional(tag::BOOLEAN)?;
            let value = ext.expect(tag::OCTET_STRING, "extnValue")?;
            if id.content == oid {
                found.push(SingleExtension {
                    serial: single.serial,
                    value: value.content,
                });
            }
        }
    }
    Ok(found)
}

// ---------------------------------------------------------------------------------------------
// Judging a response.

/// What an OCSP response says about `cert` at `now`, once its signer is checked.
pub(super) fn judge_ocsp(body: &[u8], cert: &CertFacts, issuer: &CertFacts, now: i64) -> Judged {
    let response = match parse_ocsp(body) {
        Ok(r) => r,
        Err(e) => return Judged::new(Status::Invalid, format!("not an OCSP response: {e}")),
    };
    let basic = match response {
        Ocsp::Error(UNAUTHORIZED) => {
            return Judged::new(
                Status::Unknown,
                "the responder answered 'unauthorized': it does not answer for this issuer",
            );
        }
        Ocsp::Error(code) => {
            return Judged::new(
                Status::Invalid,
                format!(
                    "the responder answered with the error '{}'",
                    response_status(code)
                ),
            );
        }
        Ocsp::Basic(b) => b,
    };
    let signer = match check_signer(&basic, issuer, now) {
        Ok(s) => s,
        Err(e) => return Judged::new(Status::Invalid, e.to_string()),
    };
    let Some(single) = basic.responses.iter().find(|s| s.is_about(cert, issuer)) else {
        return Judged::new(
            Status::Invalid,
            format!(
                "the correctly signed response has {} answer(s), none about this certificate",
                basic.responses.len()
            ),
        );
    };
    let mut j = Judged::new(Status::Good, String::new());
    j.this_update = Some(single.this_update);
    j.next_update = single.next_update;
    let freshness = freshness(single.this_update, single.next_update, now);
    let signed = format!("signed by {signer}");
    match single.status {
        CertStatus::Revoked { at, reason } => {
            j.status = Status::Revoked;
            j.revoked_at = Some(at);
            j.reason = reason.map(|r| reason_name(r).to_owned());
            j.detail = format!(
                "revoked at {}, reason {}; {signed}",
                rfc3339(at),
                j.reason.as_deref().unwrap_or("not given")
            );
            if let Err(stale) = freshness {
                j.detail.push_str(&format!(
                    "; the response is {stale}, but revocation is final"
                ));
            }
        }
        CertStatus::Unknown => {
            j.status = Status::Unknown;
            j.detail =
                format!("the responder does not know this certificate (status unknown); {signed}");
        }
        CertStatus::Good => match freshness {
            Ok(window) => j.detail = format!("good, {window}; {signed}"),
            Err(stale) => {
                j.status = Status::Unknown;
                j.detail = format!(
                    "the response says good but is {stale}, so it proves nothing; {signed}"
                );
            }
        },
    }
    j
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_an_ocsp_response() {
        assert!(parse_ocsp(b"hello").is_err());
        // OCSPResponse { responseStatus tryLater }
        assert!(matches!(
            parse_ocsp(&[0x30, 0x03, 0x0a, 0x01, 0x03]),
            Ok(Ocsp::Error(3))
        ));
        assert_eq!(
            ocsp_single_extension(&[0x30, 0x03, 0x0a, 0x01, 0x03], oid::OCSP_SCT_LIST)
                .err()
                .unwrap()
                .to_string(),
            "the responder answered tryLater"
        );
        assert_eq!(
            parse_ocsp(&[0x04, 0x00]).err().unwrap().to_string(),
            "it does not start with a DER SEQUENCE (tag 0x04)"
        );
        assert_eq!(
            parse_ocsp(&[0x30, 0x00]).err().unwrap().to_string(),
            "responseStatus: truncated DER"
        );
    }
}
