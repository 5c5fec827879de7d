//! Loading the trust stores the flags name: Apple's (built in, or a checkout), the public roots,
//! this machine's store, roots added for Apple devices, and transparent-connection CAs. Every
//! certificate file is read through [`crate::input`], and an error names the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use rustls_pki_types::CertificateDer;

use super::args::TrustArgs;
use crate::analysis::trust::{RootSet, TrustContext};
use crate::apple_store::AppleTrustStore;
use crate::input;

pub fn trust_context(args: &TrustArgs) -> anyhow::Result<TrustContext> {
    let apple = Arc::new(apple_store(args.apple_trust_store.as_deref())?);
    let (public, public_certs) = if args.public_roots.is_empty() {
        (RootSet::webpki_roots(), Vec::new())
    } else {
        roots_from_files(&args.public_roots, "public roots")?
    };
    let native = if !args.native_roots.is_empty() {
        roots_from_files(&args.native_roots, "native store")?.0
    } else {
        // rustls-native-certs honours SSL_CERT_FILE and SSL_CERT_DIR. Unreadable entries in a
        // system store are the system's business: use what loads.
        let loaded = rustls_native_certs::load_native_certs();
        RootSet::from_certs("native store", &loaded.certs).0
    };
    // Apple devices trust Apple's store, never this machine's (which may hold an inspection CA);
    // roots the user adds for Apple, or declares public, join it.
    let mut device = RootSet::from_anchors(
        &format!("Apple's trust store (version {})", apple.version),
        apple.tls_anchors(),
    );
    let mut extra = public_certs;
    if !args.apple_roots.is_empty() {
        extra.extend(roots_from_files(&args.apple_roots, "Apple roots")?.1);
    }
    if !extra.is_empty() {
        device = device.extended(&format!("{} with the roots given", device.label), &extra);
    }
    let transparent = transparent_cas(args)?;
    Ok(TrustContext {
        public,
        native,
        device,
        transparent,
        apple,
    })
}

/// The CAs an MDM profile names as transparent-connection pins (`--transparent-ca`).
fn transparent_cas(args: &TrustArgs) -> anyhow::Result<RootSet> {
    if args.transparent_ca.is_empty() {
        return Ok(RootSet::empty("transparent-connection CAs"));
    }
    Ok(roots_from_files(&args.transparent_ca, "transparent-connection CAs")?.0)
}

/// Apple's trust data: the copy built in, or a checkout given with --apple-trust-store.
fn apple_store(dir: Option<&Path>) -> anyhow::Result<AppleTrustStore> {
    match dir {
        Some(dir) => AppleTrustStore::load_dir(dir)
            .with_context(|| format!("--apple-trust-store {}", dir.display())),
        None => Ok(AppleTrustStore::embedded()?),
    }
}

/// `inspect --roots`: exactly these anchors stand for every store (Apple's, public, native); nothing
/// built in, nothing from this machine. Apple's CT logs (from `--apple-trust-store` when given)
/// still verify SCTs, and `--transparent-ca` still names transparent-connection CAs.
pub fn exact_trust(paths: &[PathBuf], args: &TrustArgs) -> anyhow::Result<TrustContext> {
    let (set, _) = roots_from_files(paths, "given roots")?;
    if set.is_empty() {
        bail!("--roots: the given files hold no certificate");
    }
    let transparent = transparent_cas(args)?;
    Ok(TrustContext {
        public: set.clone(),
        native: set.clone(),
        device: set,
        transparent,
        apple: Arc::new(apple_store(args.apple_trust_store.as_deref())?),
    })
}

/// Trust anchors from files; a certificate that cannot be an anchor is an input error naming it.
fn roots_from_files(
    paths: &[PathBuf],
    role: &str,
) -> anyhow::Result<(RootSet, Vec<CertificateDer<'static>>)> {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut set = RootSet::empty(&format!("{role} ({})", shown.join(", ")));
    let mut all = Vec::new();
    for path in paths {
        let certs = input::load_certs(path)?;
        if let Some(r) = set.add(&certs).first() {
            bail!(
                "{}: certificate {} cannot be a trust anchor: {}",
                path.display(),
                r.index + 1,
                r.reason
            );
        }
        all.extend(certs);
    }
    Ok((set, all))
}
