//! SCT lists and SCTs (RFC 6962 §3.2, 3.3): parsing, the signed data, and the log's signature.

#[allow(clippy::wildcard_imports)]
use super::*;

// ---------------------------------------------------------------------------------------------
// SCT lists and SCTs (RFC 6962 section 3.2, 3.3).

/// One parsed SCT.
#[derive(Debug)]
pub(super) struct Sct<'a> {
    pub(super) log_id: [u8; 32],
    /// Milliseconds since the Unix epoch.
    pub(super) timestamp: u64,
    pub(super) extensions: &'a [u8],
    pub(super) hash_alg: u8,
    pub(super) sig_alg: u8,
    pub(super) signature: &'a [u8],
}

/// Reads big-endian TLS fields.
pub(super) struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    pub(super) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!(
                "truncated at the {what} ({n} bytes needed, {} left)",
                self.0.len()
            ));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    pub(super) fn u8(&mut self, what: &str) -> Result<u8, String> {
        // `take` returned exactly one byte.
        Ok(self.take(1, what)?[0])
    }

    pub(super) fn u16(&mut self, what: &str) -> Result<usize, String> {
        // `take` returned exactly two bytes.
        let b = self.take(2, what)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    /// A `u16`-length-prefixed opaque vector.
    pub(super) fn vec16(&mut self, what: &str) -> Result<&'a [u8], String> {
        let n = self.u16(what)?;
        self.take(n, what)
    }
}

/// The serialized SCTs of a TLS-encoded SignedCertificateTimestampList.
pub(super) fn split_list(list: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut outer = Cursor(list);
    let body = outer
        .vec16("SCT list")
        .map_err(|e| format!("the SCT list is {e}"))?;
    if !outer.0.is_empty() {
        return Err(format!(
            "the SCT list is followed by {} stray bytes",
            outer.0.len()
        ));
    }
    let mut r = Cursor(body);
    let mut items = Vec::new();
    while !r.0.is_empty() {
        let item = r
            .vec16("SCT")
            .map_err(|e| format!("SCT {} of the list is {e}", items.len() + 1))?;
        if item.is_empty() {
            return Err(format!("SCT {} of the list is empty", items.len() + 1));
        }
        items.push(item);
    }
    Ok(items)
}

pub(super) fn parse_sct(bytes: &[u8]) -> Result<Sct<'_>, String> {
    let mut r = Cursor(bytes);
    let version = r.u8("version")?;
    if version != 0 {
        return Err(format!("SCT version {version} (only v1, 0, is defined)"));
    }
    let mut log_id = [0u8; 32];
    log_id.copy_from_slice(r.take(32, "log id")?);
    let ts = r.take(8, "timestamp")?;
    let mut t = [0u8; 8];
    t.copy_from_slice(ts);
    let timestamp = u64::from_be_bytes(t);
    let extensions = r.vec16("extensions")?;
    let hash_alg = r.u8("hash algorithm")?;
    let sig_alg = r.u8("signature algorithm")?;
    let signature = r.vec16("signature")?;
    if !r.0.is_empty() {
        return Err(format!("{} stray bytes after the signature", r.0.len()));
    }
    Ok(Sct {
        log_id,
        timestamp,
        extensions,
        hash_alg,
        sig_alg,
        signature,
    })
}

/// The `digitally-signed` struct of RFC 6962 section 3.2 for this SCT over `entry`.
pub(super) fn signed_data(sct: &Sct<'_>, entry: &Entry<'_>) -> Result<Vec<u8>, String> {
    fn u24(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), String> {
        let n = u32::try_from(bytes.len())
            .ok()
            .filter(|&n| n < 1 << 24)
            .ok_or("the certificate is too large for a CT entry")?;
        out.extend_from_slice(&n.to_be_bytes()[1..]);
        out.extend_from_slice(bytes);
        Ok(())
    }
    let mut out = Vec::with_capacity(64 + sct.extensions.len());
    out.push(0); // sct_version v1
    out.push(0); // signature_type certificate_timestamp
    out.extend_from_slice(&sct.timestamp.to_be_bytes());
    match entry {
        Entry::X509(cert) => {
            out.extend_from_slice(&0u16.to_be_bytes());
            u24(&mut out, cert)?;
        }
        Entry::Precert {
            issuer_key_hash,
            tbs,
        } => {
            out.extend_from_slice(&1u16.to_be_bytes());
            out.extend_from_slice(issuer_key_hash);
            u24(&mut out, tbs)?;
        }
    }
    // The extensions were read through a u16 length, so they fit one.
    let ext_len = u16::try_from(sct.extensions.len()).map_err(|_| "SCT extensions too long")?;
    out.extend_from_slice(&ext_len.to_be_bytes());
    out.extend_from_slice(sct.extensions);
    Ok(out)
}

pub(super) enum SigError {
    /// The log's key does not verify the signature.
    Invalid(String),
    /// The signature cannot be checked (algorithm, or an unreadable key in the list).
    Unsupported(String),
}

pub(super) fn verify_sct(log_spki: &[u8], sct: &Sct<'_>, signed: &[u8]) -> Result<(), SigError> {
    if sct.hash_alg != HASH_SHA256 {
        return Err(SigError::Unsupported(format!(
            "hash algorithm {} (RFC 6962 allows only SHA-256)",
            sct.hash_alg
        )));
    }
    let Spki { alg, params, key } = spki_parts(log_spki)
        .map_err(|e| SigError::Unsupported(format!("the log's key cannot be read ({e})")))?;
    let (algorithm, kind): (&'static dyn signature::VerificationAlgorithm, u8) =
        if alg == OID_EC_PUBLIC_KEY && params == Some(OID_P256) {
            (&signature::ECDSA_P256_SHA256_ASN1, SIG_ECDSA)
        } else if alg == OID_EC_PUBLIC_KEY && params == Some(OID_P384) {
            (&signature::ECDSA_P384_SHA256_ASN1, SIG_ECDSA)
        } else if alg == OID_RSA {
            (&signature::RSA_PKCS1_2048_8192_SHA256, SIG_RSA)
        } else {
            return Err(SigError::Unsupported(
                "the log's key is of a kind that cannot be checked".into(),
            ));
        };
    match sct.sig_alg {
        SIG_RSA | SIG_ECDSA if sct.sig_alg != kind => {
            return Err(SigError::Invalid(format!(
                "signed with {} but the log's key is {}",
                sig_alg_name(sct.sig_alg),
                sig_alg_name(kind)
            )));
        }
        SIG_RSA | SIG_ECDSA => {}
        other => {
            return Err(SigError::Unsupported(format!(
                "signature algorithm {other} cannot be checked"
            )));
        }
    }
    signature::UnparsedPublicKey::new(algorithm, key)
        .verify(signed, sct.signature)
        .map_err(|_| {
            SigError::Invalid("the log's signature does not verify over this certificate".into())
        })
}

pub(super) fn sig_alg_name(alg: u8) -> &'static str {
    if alg == SIG_RSA { "RSA" } else { "ECDSA" }
}

/// The parts of a SubjectPublicKeyInfo a signature check needs.
pub(super) struct Spki<'a> {
    /// The algorithm OID's content octets.
    pub(super) alg: &'a [u8],
    /// The parameters when they are an OID (the named curve for EC).
    pub(super) params: Option<&'a [u8]>,
    /// The key bits: the uncompressed point for EC, the RSAPublicKey for RSA.
    pub(super) key: &'a [u8],
}

pub(super) fn spki_parts(spki: &[u8]) -> Result<Spki<'_>, DerError> {
    let (seq, rest) = tlv(spki)?;
    if seq.tag != 0x30 || !rest.is_empty() {
        return Err(DerError::Malformed("not one DER SEQUENCE"));
    }
    let mut r = Reader(seq.content);
    let mut alg = Reader(r.expect(0x30, "algorithm")?.content);
    let oid = alg.expect(0x06, "algorithm OID")?.content;
    let params = alg.optional(0x06)?.map(|t| t.content);
    let bits = r.expect(0x03, "subjectPublicKey")?.content;
    match bits.split_first() {
        Some((0, key)) if !key.is_empty() => Ok(Spki {
            alg: oid,
            params,
            key,
        }),
        _ => Err(DerError::Malformed("malformed subjectPublicKey")),
    }
}
