//! DER, the one place pinscope reads and writes it by hand: the OCSP request and response, the CT
//! precertificate and SCT extensions, and the SEQUENCE headers webpki strips from names and keys.
//!
//! Certificates, CRLs and public keys are read with x509-parser; OIDs are encoded by asn1-rs (its
//! `oid!` macro and `Oid` parser), and times converted by asn1-rs too. What is left here is a small
//! reader of single-byte tags and definite lengths, which is what OCSP and the precertificate
//! rebuild need: borrowed content, the raw bytes of an element (signatures cover them) and error
//! messages naming the field, with nothing to derive.

use std::str::FromStr;

use x509_parser::asn1_rs::{GeneralizedTime, Oid, UtcTime};

/// The tags pinscope reads and writes.
pub mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const ENUMERATED: u8 = 0x0a;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const SEQUENCE: u8 = 0x30;

    /// `[n]` context-specific, constructed (an EXPLICIT tag, or an IMPLICIT one on a
    /// constructed type).
    pub const fn explicit(n: u8) -> u8 {
        0xa0 | n
    }
}

/// The OIDs pinscope compares against, as DER content octets (encoded by asn1-rs at compile time).
pub mod oid {
    use x509_parser::asn1_rs::oid;

    /// id-sha1 (OCSP CertIDs).
    pub const SHA1: &[u8] = &oid!(raw 1.3.14.3.2.26);
    /// id-sha256 (OCSP CertIDs).
    pub const SHA256: &[u8] = &oid!(raw 2.16.840.1.101.3.4.2.1);
    /// id-pkix-ocsp-basic, the only OCSP response type.
    pub const OCSP_BASIC: &[u8] = &oid!(raw 1.3.6.1.5.5.7.48.1.1);
    /// id-kp-OCSPSigning, the extended key usage of a delegated OCSP responder.
    pub const KP_OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";
    /// The certificate extension carrying embedded SCTs (RFC 6962 §3.3).
    pub const SCT_LIST: &[u8] = &oid!(raw 1.3.6.1.4.1.11129.2.4.2);
    /// The OCSP singleExtension carrying SCTs (RFC 6962 §3.3).
    pub const OCSP_SCT_LIST: &[u8] = &oid!(raw 1.3.6.1.4.1.11129.2.4.5);
    /// id-ecPublicKey.
    pub const EC_PUBLIC_KEY: &[u8] = &oid!(raw 1.2.840.10045.2.1);
    /// secp256r1.
    pub const P256: &[u8] = &oid!(raw 1.2.840.10045.3.1.7);
    /// secp384r1.
    pub const P384: &[u8] = &oid!(raw 1.3.132.0.34);
    /// rsaEncryption.
    pub const RSA: &[u8] = &oid!(raw 1.2.840.113549.1.1.1);
}

/// The DER content octets of a dotted OID (without tag and length), or `None` if it is not one.
pub fn oid_content(dotted: &str) -> Option<Vec<u8>> {
    Oid::from_str(dotted).ok().map(|o| o.as_bytes().to_vec())
}

/// Why DER could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DerError {
    #[error("truncated DER")]
    Truncated,
    /// A multi-byte tag: OCSP and certificates use none.
    #[error("unsupported DER tag")]
    UnsupportedTag,
    /// Indefinite, or longer than four bytes.
    #[error("bad DER length")]
    BadLength,
    /// The element `what` could not be read.
    #[error("{what}: {cause}")]
    Unreadable {
        what: &'static str,
        cause: Box<DerError>,
    },
    /// The element `what` has another tag than the one expected.
    #[error("{what}: expected tag {expected:#04x}, found {found:#04x}")]
    UnexpectedTag {
        what: &'static str,
        expected: u8,
        found: u8,
    },
    /// A structure that is not what it should be, described.
    #[error("{0}")]
    Malformed(&'static str),
    #[error("malformed GeneralizedTime")]
    GeneralizedTime,
    #[error("malformed UTCTime")]
    UtcTime,
    /// A Time that is neither UTCTime nor GeneralizedTime.
    #[error("validity: unexpected tag {0:#04x}")]
    TimeTag(u8),
}

/// One DER element, borrowed from the input.
#[derive(Clone, Copy, Debug)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    /// The whole element, header included.
    pub raw: &'a [u8],
}

/// The first DER element of `input` and what follows it.
pub fn tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), DerError> {
    let (&tag, rest) = input.split_first().ok_or(DerError::Truncated)?;
    if tag & 0x1f == 0x1f {
        return Err(DerError::UnsupportedTag);
    }
    let (&first, rest) = rest.split_first().ok_or(DerError::Truncated)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(DerError::BadLength);
        }
        let (bytes, rest) = rest.split_at(n);
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    if rest.len() < len {
        return Err(DerError::Truncated);
    }
    let header = input.len() - rest.len();
    let (content, after) = rest.split_at(len);
    Ok((
        Tlv {
            tag,
            content,
            raw: &input[..header + len],
        },
        after,
    ))
}

/// Reads consecutive elements of a constructed value.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    /// The next element, whatever its tag.
    // Not an Iterator: a malformed element is an error, not the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Tlv<'a>, DerError> {
        let (t, rest) = tlv(self.0)?;
        self.0 = rest;
        Ok(t)
    }

    /// The next element, which must carry `tag`; `what` names it in errors.
    pub fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, DerError> {
        let t = self.next().map_err(|cause| DerError::Unreadable {
            what,
            cause: Box::new(cause),
        })?;
        if t.tag != tag {
            return Err(DerError::UnexpectedTag {
                what,
                expected: tag,
                found: t.tag,
            });
        }
        Ok(t)
    }

    /// The next element if it carries `tag`.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, DerError> {
        if self.0.first() != Some(&tag) {
            return Ok(None);
        }
        self.next().map(Some)
    }

    /// Whether every element has been read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A DER element: `tag`, a definite length, `content`.
pub fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    if len < 0x80 {
        // Checked just above: it fits in seven bits.
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        // At most size_of::<usize>() bytes, far below 0x7f.
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A SEQUENCE around `content` (what webpki strips from the names and keys it keeps).
pub fn sequence(content: &[u8]) -> Vec<u8> {
    encode(tag::SEQUENCE, content)
}

/// A GeneralizedTime (`YYYYMMDDHHMMSS[.fff]Z`, what OCSP uses) as Unix seconds.
pub fn generalized_time(t: &Tlv<'_>) -> Result<i64, DerError> {
    let bad = || DerError::GeneralizedTime;
    if t.tag != tag::GENERALIZED_TIME {
        return Err(bad());
    }
    let digits = time_digits(t.content, 14).ok_or_else(bad)?;
    GeneralizedTime::from_bytes(&[digits, b"Z"].concat())
        .and_then(|g| g.utc_datetime())
        .map(|d| d.unix_timestamp())
        .map_err(|_| bad())
}

/// An X.509 Time (UTCTime `YYMMDDHHMMSSZ`, years from 1950, or GeneralizedTime) as Unix seconds.
pub fn x509_time(t: &Tlv<'_>) -> Result<i64, DerError> {
    match t.tag {
        tag::GENERALIZED_TIME => generalized_time(t),
        tag::UTC_TIME => {
            let digits = time_digits(t.content, 12).ok_or(DerError::UtcTime)?;
            UtcTime::from_bytes(&[digits, b"Z"].concat())
                .and_then(|u| u.utc_adjusted_datetime())
                .map(|d| d.unix_timestamp())
                .map_err(|_| DerError::UtcTime)
        }
        other => Err(DerError::TimeTag(other)),
    }
}

/// The date and time digits of a time in UTC (`digits` of them, then any fraction of a second,
/// which is ignored, then `Z`): the form DER and RFC 5280 allow.
fn time_digits(content: &[u8], digits: usize) -> Option<&[u8]> {
    let main = content.strip_suffix(b"Z")?.split(|&b| b == b'.').next()?;
    (main.len() == digits && main.iter().all(u8::is_ascii_digit)).then_some(main)
}

/// An INTEGER's content octets without leading zero bytes (keeping one for zero), so serial
/// numbers encoded with and without a sign byte compare equal.
pub fn unsigned(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&x| x == 0).count();
    &b[n.min(b.len().saturating_sub(1))..]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn lengths_use_long_form_when_needed() {
        assert_eq!(sequence(&[1, 2]), vec![0x30, 2, 1, 2]);
        let long = sequence(&[0u8; 300]);
        assert_eq!(&long[..4], &[0x30, 0x82, 0x01, 0x2c]);
        assert_eq!(long.len(), 304);
        assert_eq!(encode(0x04, &[0xaa]), vec![0x04, 1, 0xaa]);
    }

    #[test]
    fn lengths_are_bounded() {
        assert_eq!(
            tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]).unwrap_err(),
            DerError::BadLength
        );
        assert_eq!(tlv(&[0x30, 0x82, 0x01]).unwrap_err(), DerError::BadLength);
        assert_eq!(tlv(&[0x30, 0x03, 1]).unwrap_err(), DerError::Truncated);
        assert_eq!(tlv(&[0x1f, 0x01, 0]).unwrap_err(), DerError::UnsupportedTag);
        let (t, rest) = tlv(&[0x04, 0x01, 0xaa, 0xff]).unwrap();
        assert_eq!(t.content, &[0xaa]);
        assert_eq!(t.raw, &[0x04, 0x01, 0xaa]);
        assert_eq!(rest, &[0xff]);
    }

    #[test]
    fn reader_errors_name_the_field() {
        let mut r = Reader(&[0x02, 0x01, 0x05]);
        let mut copy = r;
        assert_eq!(
            copy.expect(0x30, "thing").unwrap_err().to_string(),
            "thing: expected tag 0x30, found 0x02"
        );
        assert!(r.optional(0x30).unwrap().is_none());
        assert_eq!(r.expect(0x02, "n").unwrap().content, &[5]);
        assert!(r.is_empty());
        assert_eq!(
            r.expect(0x02, "serialNumber").unwrap_err().to_string(),
            "serialNumber: truncated DER"
        );
    }

    #[test]
    fn generalized_times_read_as_unix_seconds() {
        let time = |s: &[u8]| {
            let der = encode(tag::GENERALIZED_TIME, s);
            generalized_time(&tlv(&der).unwrap().0)
        };
        assert_eq!(time(b"20250102030405Z").unwrap(), 1_735_787_045);
        assert_eq!(time(b"20250102030405.123Z").unwrap(), 1_735_787_045);
        assert_eq!(time(b"20250102030405.123456Z").unwrap(), 1_735_787_045);
        for bad in [
            &b"202501020304Z"[..],
            b"20250102030405",
            b"20251302030405Z",
            b"2025010203040xZ",
        ] {
            assert_eq!(time(bad), Err(DerError::GeneralizedTime), "{bad:?}");
        }
    }

    #[test]
    fn utc_times_pivot_at_1950() {
        let time = |s: &[u8]| {
            let der = encode(tag::UTC_TIME, s);
            x509_time(&tlv(&der).unwrap().0)
        };
        assert_eq!(time(b"250102030405Z").unwrap(), 1_735_787_045);
        assert_eq!(time(b"500101000000Z").unwrap(), -631_152_000);
        assert_eq!(time(b"2501020304Z"), Err(DerError::UtcTime));
        let int = encode(tag::INTEGER, &[1]);
        assert_eq!(
            x509_time(&tlv(&int).unwrap().0),
            Err(DerError::TimeTag(0x02))
        );
    }

    #[test]
    fn oids_encode_like_der() {
        // Apple's intermediate marker.
        assert_eq!(
            oid_content("1.2.840.113635.100.6.2.12"),
            Some(vec![
                0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x06, 0x02, 0x0c
            ])
        );
        assert_eq!(oid_content("2.5.29.15"), Some(vec![0x55, 0x1d, 0x0f]));
        assert_eq!(oid_content("nonsense"), None);
        assert_eq!(
            oid::SCT_LIST,
            &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02]
        );
        assert_eq!(oid::SHA1, &[0x2b, 0x0e, 0x03, 0x02, 0x1a]);
    }

    #[test]
    fn serials_compare_without_sign_bytes() {
        assert_eq!(unsigned(&[0, 0x80, 1]), &[0x80, 1]);
        assert_eq!(unsigned(&[0, 0]), &[0]);
        assert_eq!(unsigned(&[]), &[] as &[u8]);
    }
}
