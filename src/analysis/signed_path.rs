//! Who signed what: the presented chain followed from the leaf upwards by signatures checked with
//! the crypto alone, and where it ends (a self-signed certificate, an anchor of some store, a
//! signature that fails, or an issuer nobody has). The path validator answers a different question
//! (would a client accept this chain?) and refuses weak algorithms before it looks at keys, so its
//! errors cannot be evidence of forgery; this walk can.

use super::chain::CertFacts;
use super::signatures::{self, SignatureCheck};
use super::trust::{RootSet, TrustContext};

/// Which store holds an anchor (a set, since a root is often in several).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stores {
    pub device: bool,
    pub public: bool,
    pub native: bool,
    pub transparent: bool,
}

impl Stores {
    fn of(spki_sha256: &str, trust: &TrustContext) -> Self {
        Self {
            device: trust.device.has_spki(spki_sha256),
            public: trust.public.has_spki(spki_sha256),
            native: trust.native.has_spki(spki_sha256),
            transparent: trust.transparent.has_spki(spki_sha256),
        }
    }

    pub fn any(self) -> bool {
        self.device || self.public || self.native || self.transparent
    }
}

/// Where the walk stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathEnd {
    /// The last certificate of the walk is self-signed (its own key verifies it).
    SelfSigned { stores: Stores },
    /// A store's anchor, not presented, signed the last certificate of the walk.
    Anchor {
        name: String,
        spki_sha256: String,
        stores: Stores,
    },
    /// A certificate (presented or in a store) carries the issuer's name, but its key did not sign
    /// the last certificate of the walk.
    SignatureMismatch { issuer: String, in_store: bool },
    /// Nobody with the issuer's name could be checked: the algorithm is beyond the crypto library.
    Unchecked { algorithm: String },
    /// The issuer was not sent and no store holds a CA of that name.
    UnknownIssuer,
}

/// The presented chain followed by signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedPath {
    /// Indices into the presented chain, leaf first, each signed by the next.
    pub walk: Vec<usize>,
    pub end: PathEnd,
    /// Whether the leaf's signature verifies under the leaf's own key, although the leaf is not
    /// self-issued: its issuer used the leaf's key (mitmproxy's CA and its leaves share one key).
    pub leaf_signed_by_own_key: bool,
}

impl SignedPath {
    /// The stores that hold the anchor the walk ended at, if it ended at one.
    pub fn anchor_stores(&self) -> Option<Stores> {
        match &self.end {
            PathEnd::SelfSigned { stores } | PathEnd::Anchor { stores, .. } => Some(*stores),
            _ => None,
        }
    }

    /// The index of the last presented certificate of the walk.
    pub fn top(&self) -> usize {
        self.walk.last().copied().unwrap_or(0)
    }
}

/// Follows the chain from the leaf by signatures. Each certificate is visited once, so loops end;
/// among presented candidates with the issuer's name, the first whose key verifies is taken.
pub fn follow(facts: &[CertFacts], chain: &[&[u8]], trust: &TrustContext) -> SignedPath {
    let mut walk = vec![0];
    let mut visited = vec![false; facts.len()];
    visited[0] = true;
    let leaf = &facts[0];
    let leaf_signed_by_own_key = !leaf.self_issued()
        && !leaf.spki_der.is_empty()
        && signatures::check(chain[0], &leaf.spki_der) == SignatureCheck::Valid;
    let mut current = 0;
    loop {
        let cert = &facts[current];
        let der = chain[current];
        if cert.self_issued() && signatures::check(der, &cert.spki_der) == SignatureCheck::Valid {
            let stores = Stores::of(&cert.summary.spki_sha256, trust);
            return SignedPath {
                walk,
                end: PathEnd::SelfSigned { stores },
                leaf_signed_by_own_key,
            };
        }
        let mut mismatch = None;
        let mut unchecked = None;
        let next = (0..facts.len()).find(|&i| {
            if visited[i] || i == current || facts[i].subject_der != cert.issuer_der {
                return false;
            }
            match signatures::check(der, &facts[i].spki_der) {
                SignatureCheck::Valid => true,
                SignatureCheck::Invalid => {
                    mismatch.get_or_insert(false);
                    false
                }
                SignatureCheck::Unsupported { algorithm } => {
                    unchecked.get_or_insert(algorithm);
                    false
                }
            }
        });
        if let Some(i) = next {
            visited[i] = true;
            walk.push(i);
            current = i;
            continue;
        }
        let sets: [&RootSet; 4] = [
            &trust.device,
            &trust.native,
            &trust.public,
            &trust.transparent,
        ];
        for set in sets {
            for (spki, hash) in set.keys_named(&cert.issuer_der) {
                match signatures::check(der, &spki) {
                    SignatureCheck::Valid => {
                        return SignedPath {
                            walk,
                            end: PathEnd::Anchor {
                                name: cert.issuer_cn.clone(),
                                spki_sha256: hash.to_owned(),
                                stores: Stores::of(hash, trust),
                            },
                            leaf_signed_by_own_key,
                        };
                    }
                    SignatureCheck::Invalid => mismatch = Some(true),
                    SignatureCheck::Unsupported { algorithm } => {
                        unchecked.get_or_insert(algorithm);
                    }
                }
            }
        }
        let end = match (mismatch, unchecked) {
            (Some(in_store), _) => PathEnd::SignatureMismatch {
                issuer: cert.issuer_cn.clone(),
                in_store,
            },
            (None, Some(algorithm)) => PathEnd::Unchecked { algorithm },
            (None, None) => PathEnd::UnknownIssuer,
        };
        return SignedPath {
            walk,
            end,
            leaf_signed_by_own_key,
        };
    }
}
