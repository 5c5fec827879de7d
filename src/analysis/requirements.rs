//! Apple's requirements for trusted TLS server certificates (iOS 13 / macOS 10.15 and later, and the
//! 398-day limit for certificates issued from 1 September 2020): key sizes, signature hashes, names
//! in subjectAltName, serverAuth in extendedKeyUsage, and validity limits by issuance date and by
//! whether the chain ends at a system root or at one a user or MDM installed. Pure.
//!
//! Sources: Apple's "Requirements for trusted certificates in iOS 13 and macOS 10.15"
//! (<https://support.apple.com/en-us/103769>) and "About upcoming limits on trusted certificates"
//! (<https://support.apple.com/en-us/102028>). Where they are vague, Apple's implementation decides:
//! the SSL server policy in apple-oss-distributions/Security (`SecPolicyCreateSSL` in
//! `OSX/sec/Security/SecPolicy.c`, the checks in `trust/trustd/SecPolicyServer.c`):
//!
//! - `kSecPolicyCheckKeySize` (`SecPolicyAddStrongKeySizeOptions`: RSA ≥ 2048 bits, EC ≥ 256
//!   bits) is checked on every certificate of the path, anchor included, unless the leaf itself is
//!   the anchor a user trusted.
//! - `kSecPolicyCheckSignatureHashAlgorithms` (`SecPolicyRemoveWeakHashOptions`: MD2, MD4, MD5,
//!   SHA-1) skips self-signed certificates (`SecPolicyCheckCertSignatureHashAlgorithms`): a root's
//!   self-signature is never relied on.
//! - `kSecPolicyCheckServerAuthEKU` (`SecPolicyCheckServerAuthEKU`): for chains to a system root
//!   the leaf must carry an extendedKeyUsage extension listing id-kp-serverAuth itself
//!   (anyExtendedKeyUsage does not do), and an intermediate that has the extension must list
//!   serverAuth or anyExtendedKeyUsage; chains to user- or MDM-installed roots are skipped. What
//!   applies to every TLS server chain is the older check `set_ssl_ekus` sets up: the extension
//!   is optional, and when present must list serverAuth, anyExtendedKeyUsage, or Microsoft's or
//!   Netscape's Server Gated Crypto. (The article asks serverAuth of every certificate issued
//!   after 1 July 2019; the code is stricter for system roots, whatever the date, and looser for
//!   installed ones, and devices do what the code does.)
//! - `kSecPolicyCheckValidityPeriodMaximums` (`SecPolicyCheckValidityPeriodMaximums`): the leaf's
//!   notAfter − notBefore, by notBefore. For system roots: 60 months (5 years and 2 leap days)
//!   before 1 July 2016, 39 months (3 years, two 31-day months, a 30-day month and a leap day)
//!   before 1 March 2018, 825 days before 1 September 2020, 398 days from then; each with one
//!   hour of slack except the 398 days. For other roots, a user's or an MDM profile's included:
//!   825 days plus one hour for leaves issued after 1 July 2019, unless the leaf itself is the
//!   anchor a user trusted.

use core::net::IpAddr;

use time::OffsetDateTime;
use x509_parser::extensions::{ExtendedKeyUsage, GeneralName};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::chain::display_name;
use super::signatures::{self, HashAlg, KeyKind, SignatureCheck};
use super::{Code, Finding, Severity};

/// Where the root of a chain comes from: Apple's limits differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootOrigin {
    /// A root preinstalled in Apple's trust store.
    System,
    /// A root a user or an MDM profile installed (an inspection CA is one).
    Installed,
}

/// A requirement a certificate of the path does not meet: its finding code and the rule in words
/// (which says devices refuse the certificate). It becomes a finding once the caller knows how it
/// weighs: [`Unmet::refusal`] or [`Unmet::on_forged_chain`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmet {
    pub code: Code,
    pub message: String,
}

impl Unmet {
    fn new(code: Code, message: String) -> Self {
        Self { code, message }
    }

    /// Devices refuse this chain for it: an error.
    pub fn refusal(self) -> Finding {
        Finding::new(self.code, Severity::Error, self.message)
    }

    /// On a chain already shown forged, the requirement answers what a proxy vendor asks (would
    /// devices take this product's certificates even where its CA is installed?): a warning.
    pub fn on_forged_chain(self) -> Finding {
        Finding::new(
            self.code,
            Severity::Warning,
            format!(
                "even where this CA is installed (by a user or an MDM profile), Apple devices refuse the certificates it makes: {}",
                self.message
            ),
        )
    }
}

/// Checks a path (leaf first, then its issuers in order, the anchor's certificate last when known)
/// against Apple's requirements; each failure is one [`Unmet`] with its own code and a message
/// that names the rule and says devices refuse the certificate.
///
/// The last certificate counts as the anchor when it is self-signed. Certificates that do not
/// parse are skipped.
pub fn check(path: &[&[u8]], origin: RootOrigin) -> Vec<Unmet> {
    let certs: Vec<Option<Cert<'_>>> = path.iter().map(|der| Cert::parse(der)).collect();
    // Whether the last certificate is a self-signed anchor: a signature check, so asked only
    // where the answer matters.
    let anchored = || {
        certs
            .last()
            .and_then(Option::as_ref)
            .is_some_and(Cert::self_signed)
    };
    // SecPolicyCheckKeySize and SecPolicyCheckValidityPeriodMaximums skip a leaf that is itself
    // the anchor a user trusted (SecPVCIsAnchorPerConstraints(pvc, kSecUserAnchorSource, leaf)).
    let leaf_is_user_anchor = origin == RootOrigin::Installed && path.len() == 1 && anchored();

    let mut findings = Vec::new();
    for cert in certs.iter().flatten() {
        if !leaf_is_user_anchor && let Some(f) = weak_key(cert) {
            findings.push(f);
        }
        if let Some(f) = weak_hash(cert)
            && !cert.self_signed()
        {
            findings.push(f);
        }
    }
    if let Some(Some(leaf)) = certs.first() {
        findings.extend(leaf_eku(leaf, origin));
    }
    if origin == RootOrigin::System {
        // The intermediates: neither the leaf nor the anchor.
        let end = if anchored() {
            path.len() - 1
        } else {
            path.len()
        };
        for cert in certs.get(1..end).unwrap_or_default().iter().flatten() {
            findings.extend(intermediate_eku(cert));
        }
    }
    if let Some(Some(leaf)) = certs.first()
        && !leaf_is_user_anchor
    {
        findings.extend(validity(leaf, origin));
    }
    findings
}

/// The host name appears only in the subject CN, which Apple devices ignore.
pub fn name_only_in_cn(leaf: &[u8], host: &str) -> Option<Finding> {
    let (_, cert) = X509Certificate::from_der(leaf).ok()?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    let ip: Option<IpAddr> = host.parse().ok();
    let in_san = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .is_some_and(|san| {
            san.value.general_names.iter().any(|name| match (name, ip) {
                (GeneralName::DNSName(dns), None) => dns_matches(dns, &host),
                (GeneralName::IPAddress(bytes), Some(ip)) => ip_matches(bytes, ip),
                _ => false,
            })
        });
    if in_san {
        return None;
    }
    let cn = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .find(|cn| match ip {
            Some(ip) => cn.trim().parse::<IpAddr>().ok() == Some(ip),
            None => dns_matches(cn, &host),
        })?;
    Some(Finding::new(
        Code::NameOnlyInCn,
        Severity::Error,
        format!(
            "'{cn}' names {host} only in its subject CN, not in subjectAltName; Apple devices \
             ignore the CN since iOS 13 and macOS 10.15 and refuse the certificate for {host}"
        ),
    ))
}

/// The names a leaf is for, as a name-mismatch finding gives them: "it is for a.example, 192.0.2.1"
/// (DNS names, IP addresses and URIs of its subjectAltName), or "it names no host".
pub fn names_presented(leaf: &[u8]) -> String {
    let names: Vec<String> = X509Certificate::from_der(leaf)
        .ok()
        .and_then(|(_, cert)| {
            let san = cert.subject_alternative_name().ok().flatten()?;
            Some(
                san.value
                    .general_names
                    .iter()
                    .filter_map(|name| match name {
                        GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                        GeneralName::URI(uri) => Some((*uri).to_owned()),
                        GeneralName::IPAddress(bytes) => ip_text(bytes),
                        _ => None,
                    })
                    .collect(),
            )
        })
        .unwrap_or_default();
    if names.is_empty() {
        "it names no host".to_owned()
    } else {
        format!("it is for {}", names.join(", "))
    }
}

/// An IP address as a subjectAltName carries it (4 or 16 bytes), in text.
fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|b| IpAddr::from(b).to_string()),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|b| IpAddr::from(b).to_string()),
        _ => None,
    }
}

/// A certificate of the path, parsed.
struct Cert<'a> {
    der: &'a [u8],
    parsed: X509Certificate<'a>,
    /// The subject CN (or the whole subject when it has none).
    name: String,
    /// Whether it is self-signed, once asked (see [`Cert::self_signed`]).
    self_signed: std::cell::OnceCell<bool>,
}

impl<'a> Cert<'a> {
    fn parse(der: &'a [u8]) -> Option<Self> {
        let (_, parsed) = X509Certificate::from_der(der).ok()?;
        Some(Self {
            der,
            name: display_name(parsed.subject()),
            parsed,
            self_signed: std::cell::OnceCell::new(),
        })
    }

    /// Subject and issuer are the same name and the certificate's own key did not fail to verify
    /// its signature (an MD5 self-signature cannot be checked, and is still a root's).
    fn self_signed(&self) -> bool {
        *self.self_signed.get_or_init(|| {
            self.parsed.subject().as_raw() == self.parsed.issuer().as_raw()
                && signatures::check(self.der, self.parsed.public_key().raw)
                    != SignatureCheck::Invalid
        })
    }
}

/// kSecPolicyCheckKeySize: RSA keys of 2048 bits or more, EC keys of 256 bits or more.
fn weak_key(cert: &Cert<'_>) -> Option<Unmet> {
    let key = signatures::key_info(cert.parsed.public_key().raw)?;
    let message = match &key.kind {
        KeyKind::Rsa if key.bits < 2048 => format!(
            "'{}' has a {}-bit RSA key; Apple devices refuse RSA keys under 2048 bits in TLS \
             chains (iOS 13, macOS 10.15)",
            cert.name, key.bits
        ),
        KeyKind::Ec(curve) if key.bits > 0 && key.bits < 256 => format!(
            "'{}' has a {}-bit EC key ({curve}); Apple devices refuse EC keys under 256 bits in \
             TLS chains (iOS 13, macOS 10.15)",
            cert.name, key.bits
        ),
        _ => return None,
    };
    Some(Unmet::new(Code::WeakKey, message))
}

/// kSecPolicyCheckSignatureHashAlgorithms: no MD2, MD4, MD5 or SHA-1 signatures.
fn weak_hash(cert: &Cert<'_>) -> Option<Unmet> {
    let alg = signatures::signature_algorithm(cert.der)?;
    let hash = alg.hash?;
    if !matches!(
        hash,
        HashAlg::Md2 | HashAlg::Md4 | HashAlg::Md5 | HashAlg::Sha1
    ) {
        return None;
    }
    Some(Unmet::new(
        Code::WeakSignatureAlgorithm,
        format!(
            "'{}' is signed with {} ({}); Apple devices refuse SHA-1 and weaker signature hashes \
             on TLS leaf and CA certificates (iOS 13, macOS 10.15)",
            cert.name,
            alg.name,
            hash.label()
        ),
    ))
}

const MICROSOFT_SGC: &str = "1.3.6.1.4.1.311.10.3.3";
const NETSCAPE_SGC: &str = "2.16.840.1.113730.4.1";

/// A certificate's extendedKeyUsage extension.
enum Eku<'a> {
    Absent,
    Unreadable,
    Present(&'a ExtendedKeyUsage<'a>),
}

fn eku<'a>(cert: &'a Cert<'_>) -> Eku<'a> {
    match cert.parsed.extended_key_usage() {
        Ok(None) => Eku::Absent,
        Ok(Some(ext)) => Eku::Present(ext.value),
        Err(_) => Eku::Unreadable,
    }
}

/// The purposes an extendedKeyUsage lists, by name.
fn purposes(eku: &ExtendedKeyUsage<'_>) -> String {
    let named = [
        (eku.server_auth, "serverAuth"),
        (eku.client_auth, "clientAuth"),
        (eku.code_signing, "codeSigning"),
        (eku.email_protection, "emailProtection"),
        (eku.time_stamping, "timeStamping"),
        (eku.ocsp_signing, "OCSPSigning"),
        (eku.any, "anyExtendedKeyUsage"),
    ];
    let list: Vec<String> = named
        .iter()
        .filter(|(set, _)| *set)
        .map(|(_, name)| (*name).to_owned())
        .chain(eku.other.iter().map(|o| o.to_id_string()))
        .collect();
    if list.is_empty() {
        "(empty)".into()
    } else {
        list.join(", ")
    }
}

/// The leaf's extendedKeyUsage: kSecPolicyCheckServerAuthEKU for system roots, and the optional
/// extension of `set_ssl_ekus` for every root.
fn leaf_eku(leaf: &Cert<'_>, origin: RootOrigin) -> Option<Unmet> {
    let message = match (origin, eku(leaf)) {
        (RootOrigin::System, Eku::Absent) => format!(
            "'{}' has no extendedKeyUsage extension; Apple devices refuse a TLS leaf without \
             id-kp-serverAuth in extendedKeyUsage when the chain ends at one of Apple's system \
             roots (iOS 13, macOS 10.15)",
            leaf.name
        ),
        (RootOrigin::System, Eku::Unreadable) => format!(
            "'{}' has an unreadable extendedKeyUsage extension; Apple devices refuse a TLS leaf \
             without id-kp-serverAuth in extendedKeyUsage when the chain ends at one of Apple's \
             system roots (iOS 13, macOS 10.15)",
            leaf.name
        ),
        (RootOrigin::System, Eku::Present(e)) if !e.server_auth => format!(
            "'{}' has extendedKeyUsage {} without id-kp-serverAuth; Apple devices refuse a TLS \
             leaf without id-kp-serverAuth in extendedKeyUsage (anyExtendedKeyUsage does not \
             count) when the chain ends at one of Apple's system roots (iOS 13, macOS 10.15)",
            leaf.name,
            purposes(e)
        ),
        (RootOrigin::Installed, Eku::Present(e))
            if !(e.server_auth
                || e.any
                || e.other.iter().any(|o| {
                    let o = o.to_id_string();
                    o == MICROSOFT_SGC || o == NETSCAPE_SGC
                })) =>
        {
            format!(
                "'{}' has extendedKeyUsage {} without id-kp-serverAuth or anyExtendedKeyUsage; \
                 Apple devices refuse it as a TLS server certificate whatever root the chain \
                 ends at, one a user or an MDM profile installed included",
                leaf.name,
                purposes(e)
            )
        }
        _ => return None,
    };
    Some(Unmet::new(Code::NoServerAuthEku, message))
}

/// kSecPolicyCheckServerAuthEKU on an intermediate of a chain to a system root: an
/// extendedKeyUsage, when present, must allow serverAuth.
fn intermediate_eku(cert: &Cert<'_>) -> Option<Unmet> {
    let Eku::Present(e) = eku(cert) else {
        return None;
    };
    let listed = e.server_auth
        || e.client_auth
        || e.code_signing
        || e.email_protection
        || e.time_stamping
        || e.ocsp_signing
        || e.any
        || !e.other.is_empty();
    if !listed || e.server_auth || e.any {
        return None;
    }
    Some(Unmet::new(
        Code::NoServerAuthEku,
        format!(
            "the intermediate '{}' has extendedKeyUsage {} without id-kp-serverAuth or \
             anyExtendedKeyUsage; Apple devices refuse TLS chains to a system root through a CA \
             restricted to other purposes",
            cert.name,
            purposes(e)
        ),
    ))
}

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// Instants in Unix seconds. Apple writes them as CFAbsoluteTime (seconds since 2001-01-01);
/// each is that constant plus 978307200.
const JUL_2016: i64 = 1_467_331_200; // 489024000: 2016-07-01T00:00:00Z
const MAR_2018: i64 = 1_519_862_400; // 541555200: 2018-03-01T00:00:00Z
const SEP_2020: i64 = 1_598_918_400; // 620611200: 2020-09-01T00:00:00Z
/// 583628400, which Apple's comment calls 1 July 2019 00:00:00 UTC, is 2019-06-30T23:00:00Z
/// (midnight in London's summer time); Apple compares notBefore with it strictly, so the
/// constant is kept as written.
const JUL_2019: i64 = 1_561_935_600;

/// A limit on the leaf's validity: the longest allowed notAfter − notBefore, and how it reads.
struct Limit {
    max: i64,
    rule: &'static str,
}

fn system_limit(not_before: i64) -> Limit {
    if not_before < JUL_2016 {
        Limit {
            max: (365 * 5 + 2) * DAY + HOUR,
            rule: "certificates issued before 1 July 2016 that chain to Apple's system roots may \
                   be valid for at most 60 months",
        }
    } else if not_before < MAR_2018 {
        Limit {
            max: (365 * 3 + 2 * 31 + 30 + 1) * DAY + HOUR,
            rule: "certificates issued from 1 July 2016 to 28 February 2018 that chain to Apple's \
                   system roots may be valid for at most 39 months",
        }
    } else if not_before < SEP_2020 {
        Limit {
            max: 825 * DAY + HOUR,
            rule: "certificates issued from 1 March 2018 to 31 August 2020 that chain to Apple's \
                   system roots may be valid for at most 825 days",
        }
    } else {
        Limit {
            max: 398 * DAY,
            rule: "certificates issued on or after 1 September 2020 that chain to Apple's system \
                   roots may be valid for at most 398 days",
        }
    }
}

/// kSecPolicyCheckValidityPeriodMaximums on the leaf.
fn validity(leaf: &Cert<'_>, origin: RootOrigin) -> Option<Unmet> {
    let v = leaf.parsed.validity();
    let (not_before, not_after) = (v.not_before.timestamp(), v.not_after.timestamp());
    let limit = match origin {
        RootOrigin::System => system_limit(not_before),
        RootOrigin::Installed if not_before > JUL_2019 => Limit {
            max: 825 * DAY + HOUR,
            rule: "certificates issued after 1 July 2019 may be valid for at most 825 days, even \
                   under a root a user or an MDM profile installed (iOS 13, macOS 10.15)",
        },
        RootOrigin::Installed => return None,
    };
    let span = not_after.saturating_sub(not_before);
    if span <= limit.max {
        return None;
    }
    Some(Unmet::new(
        Code::ValidityTooLong,
        format!(
            "'{}' is valid for {} (from {} to {}); {}, and Apple devices refuse longer ones",
            leaf.name,
            duration(span),
            date(not_before),
            date(not_after),
            limit.rule
        ),
    ))
}

/// "398 days, 1 second".
fn duration(secs: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let mut parts = vec![plural(secs / DAY, "day")];
    let rest = secs % DAY;
    for (n, unit) in [
        (rest / HOUR, "hour"),
        (rest % HOUR / 60, "minute"),
        (rest % 60, "second"),
    ] {
        if n > 0 {
            parts.push(plural(n, unit));
        }
    }
    parts.join(", ")
}

fn date(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .map_or_else(|| unix.to_string(), |s| format!("{s} UTC"))
}

/// A DNS name (or a wildcard for exactly one left-most label) against a lower-case host name.
fn dns_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim().trim_end_matches('.').to_ascii_lowercase();
    if pattern == host {
        return true;
    }
    match (pattern.strip_prefix("*."), host.split_once('.')) {
        (Some(suffix), Some((first, rest))) => {
            !first.is_empty() && suffix.contains('.') && rest == suffix
        }
        _ => false,
    }
}

fn ip_matches(bytes: &[u8], ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => bytes == v4.octets(),
        IpAddr::V6(v6) => bytes == v6.octets(),
    }
}

#[cfg(test)]
mod tests;
