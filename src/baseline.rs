//! Baselines: what a clean network presented, per target, so later audits can tell a planned
//! certificate rotation from a substitution. The file is JSON meant to be read by people too
//! (docs/baselines.md describes every field); `pinscope_baseline` is its format version.

use serde::{Deserialize, Serialize};

use crate::analysis::Verdict;
use crate::catalog::Transport;
use crate::observation::Outcome;
use crate::report::TargetResult;
use crate::report::saved::{SavedError, SavedReport};

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
    pub version: String,
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
    #[error("{origin}: {message}")]
    Report { origin: String, message: String },
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

    /// Records every target that passed and presented a chain. Returns the baseline and the
    /// targets left out, with why: a baseline is a picture of a clean network.
    pub fn from_results(
        results: &[TargetResult],
        created_at: &str,
        probed_at: &str,
    ) -> (Self, Vec<String>) {
        let mut targets = Vec::new();
        let mut left_out = Vec::new();
        for r in results {
            let a = &r.assessment;
            let label = r.observation.target.label();
            if a.verdict != Verdict::Pass || a.chain.is_empty() {
                left_out.push(format!("{label} ({})", a.verdict.as_str()));
                continue;
            }
            let tls = match &r.observation.outcome {
                Outcome::Handshake { params, .. } => Some(TlsRecord {
                    version: params.version.clone(),
                    cipher_suite: params.cipher_suite.clone(),
                }),
                _ => None,
            };
            targets.push(BaselineTarget {
                host: r.observation.target.host.clone(),
                port: r.observation.target.port,
                transport: r.observation.target.transport,
                recorded_at: probed_at.to_owned(),
                chain: a
                    .chain
                    .iter()
                    .enumerate()
                    .map(|(position, c)| Position {
                        position,
                        subject: c.subject.clone(),
                        spki_sha256: c.spki_sha256.clone(),
                    })
                    .collect(),
                anchor: AnchorRecord {
                    subject: a.anchor.clone(),
                    spki_sha256: a.anchor_spki_sha256.clone(),
                },
                tls,
                apple_pinning_policy: a.pinning.as_ref().map(|p| p.policy.clone()),
            });
        }
        (Self::new(created_at, targets), left_out)
    }

    /// Builds a baseline from an audit's JSON document (`--format json` output).
    pub fn from_report(
        text: &str,
        origin: &str,
        created_at: &str,
    ) -> Result<(Self, Vec<String>), BaselineError> {
        let bad = |message: String| BaselineError::Report {
            origin: origin.to_owned(),
            message,
        };
        let report = SavedReport::parse(text).map_err(|e| match &e {
            SavedError::NotJson { line, .. } => BaselineError::Invalid {
                origin: origin.to_owned(),
                line: *line,
                message: e.to_string(),
            },
            _ => bad(e.to_string()),
        })?;
        let recorded = report.finished_at().unwrap_or(created_at);
        let mut out = Vec::new();
        let mut left_out = Vec::new();
        for saved in report.targets() {
            let (host, port, verdict, t) = (saved.host, saved.port, saved.verdict, saved.json);
            let s = |k: &str| saved.text(k);
            let chain = t
                .get("chain")
                .and_then(|c| c.as_array())
                .cloned()
                .unwrap_or_default();
            if verdict != "pass" || chain.is_empty() {
                left_out.push(format!("{host}:{port} ({verdict})"));
                continue;
            }
            let transport = match s("transport") {
                Some("udp") => Transport::Udp,
                Some("ssh") => Transport::Ssh,
                _ => Transport::Tcp,
            };
            let positions = chain
                .iter()
                .enumerate()
                .map(|(position, c)| {
                    let field = |k: &str| c.get(k).and_then(|v| v.as_str()).map(str::to_owned);
                    match (field("subject"), field("spki_sha256")) {
                        (Some(subject), Some(spki_sha256)) => Ok(Position {
                            position,
                            subject,
                            spki_sha256,
                        }),
                        _ => Err(bad(format!(
                            "{host}:{port}: chain entry {position} lacks subject or spki_sha256"
                        ))),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            let tls = t.get("tls").filter(|v| v.is_object()).and_then(|v| {
                Some(TlsRecord {
                    version: v.get("version")?.as_str()?.to_owned(),
                    cipher_suite: v.get("cipher_suite")?.as_str()?.to_owned(),
                })
            });
            out.push(BaselineTarget {
                host: host.to_owned(),
                port,
                transport,
                recorded_at: recorded.to_owned(),
                chain: positions,
                anchor: AnchorRecord {
                    subject: s("anchor").map(str::to_owned),
                    spki_sha256: s("anchor_spki_sha256").map(str::to_owned),
                },
                tls,
                apple_pinning_policy: t
                    .get("apple_pinning")
                    .and_then(|p| p.get("policy"))
                    .and_then(|p| p.as_str())
                    .map(str::to_owned),
            });
        }
        Ok((Self::new(created_at, out), left_out))
    }

    fn new(created_at: &str, targets: Vec<BaselineTarget>) -> Self {
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
