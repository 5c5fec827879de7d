//! Entry points for fuzzing: each takes arbitrary bytes and runs one of pinscope's parsers or the
//! chain analysis on them, as the program would. The cargo-fuzz targets in `fuzz/` and the corpus
//! replay test (`tests/fuzz_corpus.rs`) call these same functions, so a crash found by the fuzzer
//! stays a regular test once its input is kept under `fuzz/artifacts/`. None of them may panic or
//! take unbounded time on any input (docs/robustness.md).

use std::sync::OnceLock;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};

use crate::analysis::chain::{self, CertFacts};
use crate::analysis::knowledge::Knowledge;
use crate::analysis::revocation;
use crate::analysis::trust::{RootSet, TrustContext};
use crate::analysis::{Context, assess};
use crate::apple_store::AppleTrustStore;
use crate::catalog::{Catalog, TenantValues, Transport};
use crate::input::certs_from_bytes;
use crate::model::baseline::Baseline;
use crate::model::observation::{Captured, Observation, Outcome, RevocationKind};
use crate::model::target::Target;

/// A fuzz entry point: arbitrary bytes in, no result (it must only not panic or hang).
pub type Entry = fn(&[u8]);

/// The fuzz targets, by the name of their corpus directory (`fuzz/corpus/<name>/`).
pub const TARGETS: &[(&str, Entry)] = &[
    ("chain", chain),
    ("catalog", catalog),
    ("baseline", baseline),
    ("connect_reply", connect_reply),
    ("ocsp", ocsp),
    ("crl", crl),
    ("exemptions", exemptions),
];

/// A fixed moment (2027-01-01T00:00:00Z, inside the seed certificates' validity), so a run is
/// reproducible.
const NOW: u64 = 1_798_761_600;

fn knowledge() -> Option<&'static Knowledge> {
    static K: OnceLock<Option<Knowledge>> = OnceLock::new();
    K.get_or_init(|| Knowledge::builtin().ok()).as_ref()
}

fn apple() -> Option<std::sync::Arc<AppleTrustStore>> {
    static A: OnceLock<Option<std::sync::Arc<AppleTrustStore>>> = OnceLock::new();
    A.get_or_init(|| AppleTrustStore::embedded().ok().map(std::sync::Arc::new))
        .clone()
}

/// `inspect`'s path: the bytes as a certificate file (PEM or DER), judged for an Apple host (under
/// its pinning policy) and for another name, with the chain's last certificate as the only root.
pub fn chain(data: &[u8]) {
    let Ok(certs) = certs_from_bytes(data.to_vec(), "fuzz input") else {
        return;
    };
    let (Some(knowledge), Some(apple)) = (knowledge(), apple()) else {
        return;
    };
    let (roots, _) = RootSet::from_certs("fuzz roots", &certs[certs.len().saturating_sub(1)..]);
    let trust = TrustContext {
        public: roots.clone(),
        native: roots.clone(),
        device: roots,
        transparent: RootSet::empty("transparent-connection CAs"),
        apple,
    };
    for host in ["gdmf.apple.com", "fuzz.example"] {
        let observation = offline(host, certs.clone());
        let ctx = Context {
            trust: &trust,
            knowledge,
            now: UnixTime::since_unix_epoch(Duration::from_secs(NOW)),
            policy: None,
            baseline: None,
        };
        let _ = assess(&observation, &ctx);
    }
}

fn offline(host: &str, chain: Vec<CertificateDer<'static>>) -> Observation {
    Observation {
        target: Target {
            row: None,
            host: host.to_owned(),
            port: 443,
            transport: Transport::Tcp,
        },
        addresses: Vec::new(),
        address_used: None,
        answered_by: None,
        sni: None,
        outcome: Outcome::Offline {
            captured: Captured {
                chain,
                stapled_ocsp: None,
            },
        },
        elapsed: Duration::ZERO,
        proxy: None,
        route: None,
        revocation: Vec::new(),
        timings: Vec::new(),
    }
}

/// A `--catalog` file.
pub fn catalog(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Catalog::from_text(text, "fuzz input", &TenantValues::default());
    }
}

/// A `--baseline` file.
pub fn baseline(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Baseline::parse(text, "fuzz input");
    }
}

/// An HTTP proxy's reply to CONNECT (status line and headers).
pub fn connect_reply(data: &[u8]) {
    let _ = crate::probe::proxy::judge_reply(data, "fuzz.example", "fuzz.example:443");
}

/// The leaf and issuer the OCSP and CRL corpora were made for (`fuzz/certs/`).
fn revocation_pair() -> &'static (CertFacts, CertFacts) {
    static PAIR: OnceLock<(CertFacts, CertFacts)> = OnceLock::new();
    PAIR.get_or_init(|| {
        let leaf = CertificateDer::from(&include_bytes!("../fuzz/certs/leaf.der")[..]);
        let issuer = CertificateDer::from(&include_bytes!("../fuzz/certs/ca.der")[..]);
        (chain::facts(&leaf), chain::facts(&issuer))
    })
}

fn judge_revocation(kind: RevocationKind, data: &[u8]) {
    let (leaf, issuer) = revocation_pair();
    let now = i64::try_from(NOW).unwrap_or(i64::MAX);
    let _ = revocation::judge_body(kind, data, leaf, issuer, now);
}

/// An OCSP response body, judged for the fixed leaf and issuer.
pub fn ocsp(data: &[u8]) {
    judge_revocation(RevocationKind::Ocsp, data);
}

/// A CRL body (DER or PEM), judged for the fixed leaf and issuer.
pub fn crl(data: &[u8]) {
    judge_revocation(RevocationKind::Crl, data);
}

/// `exemptions check`'s readers: the bytes as a plain, CSV, JSON and squid list, each judged
/// against the built-in catalog when it reads. (PAC text is evaluated by `pac`, whose bounds its
/// own tests cover.)
pub fn exemptions(data: &[u8]) {
    use crate::input::exemptions::{ListFormat, parse};
    static CATALOG: OnceLock<Option<Catalog>> = OnceLock::new();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(catalog) = CATALOG
        .get_or_init(|| Catalog::load(None, &TenantValues::default()).ok())
        .as_ref()
    else {
        return;
    };
    let rows: Vec<&crate::catalog::Row> = catalog.rows.iter().collect();
    for format in [
        ListFormat::Plain,
        ListFormat::Csv,
        ListFormat::Json,
        ListFormat::Squid,
        ListFormat::Auto,
    ] {
        // Values files are looked for where nothing is.
        let nowhere = std::path::Path::new("/nonexistent-pinscope-fuzz");
        if let Ok(list) = parse(text, "fuzz input", Some(nowhere), format, None)
            && !matches!(list.kind, crate::input::exemptions::ListKind::Pac(_))
        {
            let _ = crate::analysis::exemptions::check(&list, &rows, &catalog.rows);
        }
    }
}
