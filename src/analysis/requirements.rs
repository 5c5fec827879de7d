//! Apple's requirements for trusted TLS server certificates (iOS 13 / macOS 10.15 and later, and the
//! 398-day limit for certificates issued from 1 September 2020): key sizes, signature hashes, names
//! in subjectAltName, serverAuth in extendedKeyUsage, and validity limits by issuance date and by
//! whether the chain ends at a system root or at one a user or MDM installed. Pure.

use super::Finding;

/// Where the root of a chain comes from: Apple's limits differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootOrigin {
    /// A root preinstalled in Apple's trust store.
    System,
    /// A root a user or an MDM profile installed (an inspection CA is one).
    Installed,
}

/// Checks a path (leaf first, then its issuers in order, the anchor's certificate last when known)
/// against Apple's requirements; each failure is one finding with its own code, Error severity,
/// and a message that names the rule and says devices refuse the certificate.
pub fn check(path: &[&[u8]], origin: RootOrigin) -> Vec<Finding> {
    let _ = (path, origin);
    todo!("helper: requirements")
}

/// The host name appears only in the subject CN, which Apple devices ignore.
pub fn name_only_in_cn(leaf: &[u8], host: &str) -> Option<Finding> {
    let _ = (leaf, host);
    todo!("helper: requirements")
}
