//! What a report says about the run itself: where it ran from, which path it took and which trust
//! data judged it. A verdict is only as good as its vantage point and its trust data, so every
//! report carries them, and a saved report re-rendered later still says them.

use serde::{Deserialize, Serialize};

/// The circumstances of one run. Filled by the run (vantage, route) from its plan (stores, data).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunContext {
    /// This machine's host name, as the operating system gives it.
    #[serde(default)]
    pub host_name: Option<String>,
    /// The local addresses connections left from (this machine's side of each TCP connection),
    /// which tell the network the audit ran in.
    #[serde(default)]
    pub local_addresses: Vec<String>,
    /// The proxy TLS targets were sent through, credentials redacted, and where it was taken
    /// from ("--proxy", "HTTPS_PROXY", …).
    #[serde(default)]
    pub proxy: Option<ProxyUsed>,
    /// The proxy auto-config that chose each target's path (`--pac`): its path or URL, and how it
    /// was found ("--pac", or "WPAD").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pac: Option<ProxyUsed>,
    /// The trust stores that judged the chains, one per view.
    #[serde(default)]
    pub trust_stores: Vec<TrustStoreUsed>,
    /// The versions of the data the judgement used.
    #[serde(default)]
    pub data: Vec<DataUsed>,
}

/// A proxy as a report names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyUsed {
    /// The URL with credentials replaced by `***`.
    pub url: String,
    /// Where the setting came from: `--proxy` or the environment variable's name.
    pub from: String,
}

/// One trust store and what it stands for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustStoreUsed {
    /// `apple_devices`, `public_clients`, `this_machine` or `transparent_connection`.
    pub view: String,
    /// What it was loaded from, for people ("Apple's trust store (version 2025072000)").
    pub source: String,
    pub roots: usize,
}

/// One piece of embedded or loaded data and its version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataUsed {
    pub name: String,
    pub version: String,
}

impl RunContext {
    /// "from mac-01 (192.0.2.10)", or "" when nothing is known.
    pub fn vantage(&self) -> String {
        let addrs = self.local_addresses.join(", ");
        match (&self.host_name, addrs.is_empty()) {
            (Some(h), false) => format!("from {h} ({addrs})"),
            (Some(h), true) => format!("from {h}"),
            (None, false) => format!("from {addrs}"),
            (None, true) => String::new(),
        }
    }

    /// "apple_devices: Apple's trust store (version 2025072000) (147 roots); …" for one-line footers.
    pub fn stores_line(&self) -> String {
        self.trust_stores
            .iter()
            .map(|s| format!("{}: {} ({} roots)", s.view, s.source, s.roots))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// "Apple trust store 2025072000 (embedded), Apple CT log list 375, …".
    pub fn data_line(&self) -> String {
        self.data
            .iter()
            .map(|d| format!("{} {}", d.name, d.version))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
