//! What CT needs of the leaf: its validity, its SCT extension, and the precertificate TBS
//! rebuilt without that extension.

#[allow(clippy::wildcard_imports)]
use super::*;

// ---------------------------------------------------------------------------------------------
// The leaf certificate.

/// What CT needs of the leaf, borrowed from its DER.
pub(super) struct Facts<'a> {
    pub(super) tbs: Tlv<'a>,
    /// The serialNumber INTEGER's content octets.
    pub(super) serial: &'a [u8],
    pub(super) not_before: i64,
    pub(super) not_after: i64,
    /// The SCT list extension's extnValue content, when the leaf has one.
    pub(super) sct_extension: Option<&'a [u8]>,
}

impl Facts<'_> {
    /// The lifetime as Apple counts it: notBefore through notAfter inclusive, in days of 86,400
    /// seconds, any part of a day counting as one.
    pub(super) fn lifetime_days(&self) -> i64 {
        let secs = self
            .not_after
            .saturating_sub(self.not_before)
            .saturating_add(1)
            .max(0);
        secs / DAY_SECS + i64::from(secs % DAY_SECS != 0)
    }
}

pub(super) fn read_leaf(cert_der: &[u8]) -> Result<Facts<'_>, DerError> {
    let (cert, rest) = tlv(cert_der)?;
    if cert.tag != 0x30 || !rest.is_empty() {
        return Err(DerError::Malformed("it is not one DER SEQUENCE"));
    }
    let tbs = Reader(cert.content).expect(0x30, "tbsCertificate")?;
    let mut t = Reader(tbs.content);
    t.optional(0xa0)?;
    let serial = t.expect(0x02, "serialNumber")?.content;
    t.expect(0x30, "signature")?;
    t.expect(0x30, "issuer")?;
    let mut validity = Reader(t.expect(0x30, "validity")?.content);
    let not_before = asn1::x509_time(&validity.next()?)?;
    let not_after = asn1::x509_time(&validity.next()?)?;
    t.expect(0x30, "subject")?;
    t.expect(0x30, "subjectPublicKeyInfo")?;
    let mut sct_extension = None;
    while !t.0.is_empty() {
        let el = t.next()?;
        if el.tag != 0xa3 {
            continue;
        }
        for ext in extensions(el)? {
            if ext.id == OID_SCT_LIST && sct_extension.is_none() {
                sct_extension = Some(ext.value);
            }
        }
    }
    Ok(Facts {
        tbs,
        serial,
        not_before,
        not_after,
        sct_extension,
    })
}

/// One certificate extension.
pub(super) struct Extension<'a> {
    /// The extnID's content octets.
    pub(super) id: &'a [u8],
    /// The extnValue's content octets.
    pub(super) value: &'a [u8],
}

/// The extensions of a `[3] Extensions` element.
pub(super) fn extensions<'a>(explicit: Tlv<'a>) -> Result<Vec<Extension<'a>>, DerError> {
    let mut outer = Reader(explicit.content);
    let mut list = Reader(outer.expect(0x30, "extensions")?.content);
    let mut out = Vec::new();
    while !list.0.is_empty() {
        let mut ext = Reader(list.expect(0x30, "extension")?.content);
        let id = ext.expect(0x06, "extnID")?.content;
        ext.optional(0x01)?;
        let value = ext.expect(0x04, "extnValue")?.content;
        out.push(Extension { id, value });
    }
    Ok(out)
}

/// The TBSCertificate of the precertificate the log signed: the leaf's, without the SCT list
/// extension (and without `[3]` when that leaves no extension), lengths re-encoded.
pub(super) fn precert_tbs(tbs: Tlv<'_>) -> Result<Vec<u8>, DerError> {
    let mut content = Vec::with_capacity(tbs.raw.len());
    let mut r = Reader(tbs.content);
    while !r.0.is_empty() {
        let el = r.next()?;
        if el.tag != 0xa3 {
            content.extend_from_slice(el.raw);
            continue;
        }
        let mut outer = Reader(el.content);
        let mut list = Reader(outer.expect(0x30, "extensions")?.content);
        let mut kept = Vec::new();
        while !list.0.is_empty() {
            let ext = list.expect(0x30, "extension")?;
            let id = Reader(ext.content).expect(0x06, "extnID")?;
            if id.content != OID_SCT_LIST {
                kept.extend_from_slice(ext.raw);
            }
        }
        if !kept.is_empty() {
            content.extend(der(0xa3, &der(0x30, &kept)));
        }
    }
    Ok(der(0x30, &content))
}

/// The content of an extnValue that is itself a DER OCTET STRING (how RFC 6962 wraps SCT lists).
pub(super) fn unwrap_octet_string(value: &[u8]) -> Result<&[u8], String> {
    match tlv(value) {
        Ok((t, [])) if t.tag == 0x04 => Ok(t.content),
        Ok(_) => Err("the SCT extension's value is not one OCTET STRING".into()),
        Err(e) => Err(format!("the SCT extension's value is not DER ({e})")),
    }
}

pub(super) fn rfc3339_ms(ms: u64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

/// A date for sentences (YYYY-MM-DD), or the seconds when out of range.
pub(super) fn date(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| secs.to_string())
}
