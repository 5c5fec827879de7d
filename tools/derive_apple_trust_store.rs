//! Derives `data/apple_trust_store.json`, the facts of Apple's trust store that pinscope embeds,
//! from a checkout of Apple's security_certificates data
//! (<https://github.com/apple-oss-distributions/security_certificates>; pinscope's copy is
//! `../shared/reference/apple-trust-store/`).
//!
//! Only facts are written: subjects, public keys, hashes, policy OIDs, CT log keys and states;
//! never whole certificates. The output is deterministic: the same input gives the same file.
//!
//! To refresh after Apple publishes a new trust store:
//!
//! 1. update the checkout (a newer `security_certificates` tag, same layout);
//! 2. `cargo run --example derive_apple_trust_store -- ../shared/reference/apple-trust-store data/apple_trust_store.json`
//! 3. `cargo test --test apple_trust_store`, review `git diff data/apple_trust_store.json`, commit.
//!
//! A newer checkout can also be used without rebuilding: `pinscope … --apple-trust-store DIR`.
//!
//! Exit status: 0 written, 2 usage error or unreadable input (the message names the file).

use std::path::PathBuf;
use std::process::ExitCode;

use pinscope::apple_store::AppleTrustStore;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, out] = args.as_slice() else {
        eprintln!(
            "usage: derive_apple_trust_store <apple-trust-store dir> <output json>\n\
             e.g.   cargo run --example derive_apple_trust_store -- \
             ../shared/reference/apple-trust-store data/apple_trust_store.json"
        );
        return ExitCode::from(2);
    };
    let store = match AppleTrustStore::load_dir(&PathBuf::from(dir)) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("derive_apple_trust_store: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::write(out, store.to_json()) {
        eprintln!("derive_apple_trust_store: {out}: cannot write: {e}");
        return ExitCode::from(2);
    }
    let tls = store.roots.iter().filter(|r| r.trusted_for_tls()).count();
    eprintln!(
        "wrote {out}: trust store {}, {} roots ({} system, {} trusted for TLS), {} removed, \
         {} Apple CA roots, {} CT logs (list {})",
        store.version,
        store.roots.len(),
        store.system_roots().count(),
        tls,
        store.removed.len(),
        store.apple_ca_roots.len(),
        store.ct_logs.len(),
        store.ct_log_list_version,
    );
    ExitCode::SUCCESS
}
