//! Baselines: what a clean network presented, per target, so later audits can tell a planned
//! certificate rotation from a substitution. The file is JSON meant to be read by people too
//! (docs/baselines.md describes every field); `pinscope_baseline` is its format version.
//!
//! Only the file format lives here, in the model, so the analysis can compare a chain with it.
//! Building a baseline from an audit's results is the report layer's (`report::baseline`).

use serde::{Deserialize, Serialize};

use super::observation::TlsVersion;
use super::row::Transport;

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Format version.
    pub pinscope_baseline: u32,
    /// RFC 3339.
    pub created_at: String,
    pub tool_version: String,
    pub targets: Vec<BaselineTarget>,
}

/// What one target presented when the baseline was taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineTarget {
    pub host: String,
    pub port: u16,
    pub transport: Transport,
    /// RFC 3339: when this target was probed.
    pub recorded_at: String,
    /// The presented chain, leaf first.
    pub chain: Vec<Position>,
    pub anchor: AnchorRecord,
    /// The negotiated TLS profile (absent for chains read from files).
    pub tls: Option<TlsRecord>,
    /// Apple's pinning policy for the host, if it has one.
    pub apple_pinning_policy: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub position: usize,
    pub subject: String,
    /// SHA-256 of the certificate's SubjectPublicKeyInfo, lower-case hex.
    pub spki_sha256: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorRecord {
    pub subject: Option<String>,
    pub spki_sha256: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsRecord {
    pub version: TlsVersion,
    pub cipher_suite: String,
}

/// Why a baseline could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    #[error("{origin}:{line}: {message}")]
    Invalid {
        origin: String,
        line: usize,
        message: String,
    },
    #[error("{origin}: baseline format {found}, but this pinscope reads format {FORMAT_VERSION}")]
    Version { origin: String, found: u32 },
}

impl Baseline {
    pub fn parse(text: &str, origin: &str) -> Result<Self, BaselineError> {
        let baseline: Self = serde_json::from_str(text).map_err(|e| BaselineError::Invalid {
            origin: origin.to_owned(),
            line: e.line(),
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or("")
                .to_owned(),
        })?;
        if baseline.pinscope_baseline != FORMAT_VERSION {
            return Err(BaselineError::Version {
                origin: origin.to_owned(),
                found: baseline.pinscope_baseline,
            });
        }
        Ok(baseline)
    }

    pub fn to_json(&self) -> String {
        let mut out = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into());
        out.push('\n');
        out
    }

    /// A baseline of these targets, written now by this build.
    pub fn new(created_at: &str, targets: Vec<BaselineTarget>) -> Self {
        Self {
            pinscope_baseline: FORMAT_VERSION,
            created_at: created_at.to_owned(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            targets,
        }
    }

    pub fn entry(&self, host: &str, port: u16, transport: Transport) -> Option<&BaselineTarget> {
        self.targets.iter().find(|t| {
            t.host.eq_ignore_ascii_case(host) && t.port == port && t.transport == transport
        })
    }
}
