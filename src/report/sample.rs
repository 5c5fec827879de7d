//! A small finished run for the report layer's unit tests: one chain read from `fuzz/certs/`,
//! judged for an Apple host and for another name at a fixed time.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};

use super::{RunReport, TargetResult};
use crate::analysis::knowledge::Knowledge;
use crate::analysis::trust::{RootSet, TrustContext};
use crate::analysis::{Context, assess};
use crate::apple_store::AppleTrustStore;
use crate::catalog::Transport;
use crate::model::observation::{Captured, Observation, Outcome};
use crate::model::target::Target;

pub fn run() -> RunReport {
    let leaf = CertificateDer::from(&include_bytes!("../../fuzz/certs/leaf.der")[..]);
    let ca = CertificateDer::from(&include_bytes!("../../fuzz/certs/ca.der")[..]);
    let (roots, _) = RootSet::from_certs("test roots", std::slice::from_ref(&ca));
    let trust = TrustContext {
        public: roots.clone(),
        native: roots.clone(),
        device: roots,
        transparent: RootSet::empty("transparent-connection CAs"),
        apple: Arc::new(AppleTrustStore::embedded().unwrap()),
    };
    let knowledge = Knowledge::builtin().unwrap();
    let ctx = Context {
        trust: &trust,
        knowledge: &knowledge,
        now: UnixTime::since_unix_epoch(Duration::from_secs(1_798_761_600)),
        policy: None,
        baseline: None,
    };
    let results = ["gdmf.apple.com", "fuzz.example"]
        .into_iter()
        .map(|host| {
            let observation = Observation {
                target: Target {
                    host: host.into(),
                    port: 443,
                    transport: Transport::Tcp,
                    row: None,
                },
                addresses: Vec::new(),
                address_used: None,
                answered_by: None,
                sni: None,
                outcome: Outcome::Offline {
                    captured: Captured {
                        chain: vec![leaf.clone(), ca.clone()],
                        stapled_ocsp: None,
                    },
                },
                elapsed: Duration::ZERO,
                proxy: None,
                route: None,
                revocation: Vec::new(),
                timings: Vec::new(),
            };
            TargetResult {
                assessment: assess(&observation, &ctx),
                observation,
            }
        })
        .collect();
    RunReport {
        started_at: "2027-01-01T00:00:00Z".into(),
        finished_at: "2027-01-01T00:00:01Z".into(),
        results,
        revocation_checked: false,
        stopped: None,
        tally: None,
        context: crate::model::context::RunContext {
            host_name: Some("lab-mac\u{1b}]0;pwned\u{7}".into()),
            local_addresses: vec!["192.0.2.10".into()],
            proxy: Some(crate::model::context::ProxyUsed {
                url: "http://***@proxy.example:3128".into(),
                from: "HTTPS_PROXY".into(),
            }),
            pac: None,
            trust_stores: vec![crate::model::context::TrustStoreUsed {
                view: "apple_devices".into(),
                source: "Apple's trust store (version 2025072000)".into(),
                roots: 147,
            }],
            data: vec![crate::model::context::DataUsed {
                name: "Apple trust store".into(),
                version: "2025072000 (embedded)".into(),
            }],
        },
    }
}
