//! The exporter's config file (TOML): the site, its labels, the schedule, what each audit covers
//! and how (the audit's flags, as keys), and which targets `/probe` may touch. Errors name the
//! file and line, as the catalog's do; flags given on the command line override the file (that
//! merge is the command line's: `cli::commands::serve`).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::allow::AllowEntry;
use crate::model::row::Region;

/// The whole file. Every table is optional: an empty file audits the catalog every five minutes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The `site` label on every series (default: this machine's host name).
    pub site: Option<String>,
    /// More labels on every series, e.g. `region = "emea"`.
    #[serde(default)]
    pub labels: BTreeMap<LabelName, String>,
    #[serde(default)]
    pub schedule: Schedule,
    #[serde(default)]
    pub audit: AuditSection,
    #[serde(default)]
    pub probe: ProbeSection,
}

/// `[schedule]`: how often the site is audited.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Time between the end of one audit and the start of the next (default 5 minutes).
    pub interval: Option<Seconds>,
    /// Up to this much is added to or taken from each interval, so exporters started together do
    /// not audit in step (default none).
    pub jitter: Option<Seconds>,
}

/// `[audit]`: the audit's flags, one key each (`--section` is `sections`, `--host` is `hosts`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    #[serde(default)]
    pub sections: Vec<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub targets: Vec<String>,
    pub targets_file: Option<PathBuf>,
    pub catalog: Option<PathBuf>,
    pub kandji_tenant: Option<String>,
    pub kandji_subdomain: Option<String>,
    pub region: Option<Region>,
    pub proxy: Option<String>,
    /// Ignore the proxy environment variables (`--no-proxy`).
    pub no_proxy: Option<bool>,
    /// A proxy auto-config file or http:// URL choosing each target's path, or `auto` (`--pac`).
    pub pac: Option<String>,
    /// Where `pac = "auto"` looks for WPAD (`--wpad-domain`).
    #[serde(default)]
    pub wpad_domain: Vec<String>,
    pub dns_server: Option<String>,
    #[serde(default)]
    pub resolve: Vec<String>,
    #[serde(default)]
    pub connect_to: Vec<String>,
    #[serde(default)]
    pub public_roots: Vec<PathBuf>,
    #[serde(default)]
    pub native_roots: Vec<PathBuf>,
    #[serde(default)]
    pub apple_roots: Vec<PathBuf>,
    pub apple_trust_store: Option<PathBuf>,
    #[serde(default)]
    pub transparent_ca: Vec<PathBuf>,
    pub timeout: Option<Seconds>,
    pub concurrency: Option<usize>,
    pub deadline: Option<Seconds>,
    /// Fetch OCSP responses and CRLs (default true; false is `--no-revocation`).
    pub revocation: Option<bool>,
    pub baseline: Option<PathBuf>,
}

/// `[probe]`: what `/probe?target=` may audit.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSection {
    /// `"catalog"` (every host and port of the catalog), `"targets"` (the scheduled audit's),
    /// `"host:port"`, `"*.example.com:443"` or `"host:*"`. Default: `["catalog"]`.
    pub allow: Option<Vec<AllowEntry>>,
}

/// A duration: a number of seconds, or a string such as `"90s"`, `"5m"`, `"1h"`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Seconds(pub Duration);

/// A Prometheus label name that pinscope does not set itself.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LabelName(pub String);

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{path}: cannot read")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: String,
        line: usize,
        message: String,
    },
}

impl Config {
    /// Reads and checks the file. Relative paths in it are taken from the file's folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let mut config = Self::parse(&text, &shown)?;
        config.rebase(path.parent().unwrap_or_else(|| Path::new("")));
        Ok(config)
    }

    /// Parses a file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: origin.to_owned(),
            line: line_of(text, e.span()),
            message: e.message().trim().to_owned(),
        })
    }

    /// Makes the file's relative paths relative to `dir` (where the file is), so the exporter
    /// reads the same files whatever its working directory.
    fn rebase(&mut self, dir: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() && p.as_os_str() != "-" {
                *p = dir.join(&*p);
            }
        };
        let a = &mut self.audit;
        for p in a
            .targets_file
            .iter_mut()
            .chain(a.catalog.iter_mut())
            .chain(a.apple_trust_store.iter_mut())
            .chain(a.baseline.iter_mut())
            .chain(a.public_roots.iter_mut())
            .chain(a.native_roots.iter_mut())
            .chain(a.apple_roots.iter_mut())
            .chain(a.transparent_ca.iter_mut())
        {
            join(p);
        }
        // `pac` is a file, a URL or `auto`: only a relative file is the config folder's.
        if let Some(pac) = &mut a.pac
            && pac != "auto"
            && !pac.contains("://")
            && Path::new(pac.as_str()).is_relative()
        {
            *pac = dir.join(pac.as_str()).display().to_string();
        }
    }
}

/// The 1-based line a byte range starts on (1 when there is none).
fn line_of(text: &str, span: Option<Range<usize>>) -> usize {
    let start = span.map_or(0, |s| s.start).min(text.len());
    text.as_bytes()[..start]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Seconds;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("seconds, or a duration such as \"90s\", \"5m\" or \"1h\"")
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Seconds, E> {
                u64::try_from(v)
                    .map(|s| Seconds(Duration::from_secs(s)))
                    .map_err(|_| E::custom(format!("{v}: a duration cannot be negative")))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Seconds, E> {
                Ok(Seconds(Duration::from_secs(v)))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Seconds, E> {
                Duration::try_from_secs_f64(v)
                    .map(Seconds)
                    .map_err(|_| E::custom(format!("{v}: not a usable number of seconds")))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Seconds, E> {
                parse_duration(v).map(Seconds).ok_or_else(|| {
                    E::custom(format!(
                        "'{v}': not a duration (a number with s, m or h, e.g. \"5m\")"
                    ))
                })
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `"90"`, `"90s"`, `"5m"`, `"1.5h"`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let scale = match unit.trim() {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    let n: f64 = number.trim().parse().ok()?;
    Duration::try_from_secs_f64(n * scale).ok()
}

impl<'de> Deserialize<'de> for LabelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        // The renderer's own rule: a label its series carry (or Prometheus sets) is refused here,
        // where the file's line can be named, rather than dropped silently at render time.
        crate::report::prometheus::check_label_name(&name)
            .map_err(|e| serde::de::Error::custom(format!("label {e}")))?;
        Ok(Self(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_line() {
        let text = "site = \"paris\"\n[schedule]\ninterval = \"5x\"\n";
        let e = Config::parse(text, "f.toml").unwrap_err().to_string();
        assert!(e.starts_with("f.toml:3: "), "{e}");
        let e = Config::parse("[audit]\ntimeout = 3\nbogus = 1\n", "f.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("f.toml:3: ") && e.contains("bogus"), "{e}");
        let e = Config::parse("[labels]\nsite = \"x\"\n", "f.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("f.toml:2: ") && e.contains("reserved"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("5 parsecs"), None);
        let c = Config::parse("[schedule]\ninterval = 60\njitter = \"10s\"\n", "f").unwrap();
        assert_eq!(c.schedule.interval, Some(Seconds(Duration::from_secs(60))));
        assert_eq!(c.schedule.jitter, Some(Seconds(Duration::from_secs(10))));
    }
}
