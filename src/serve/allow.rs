//! Which targets `/probe` may audit. An exporter reachable by many must never become an open
//! scanner for whoever can reach its port, so every on-demand target is checked against a list the
//! config states; by default, only the catalog's hosts and ports.

use serde::{Deserialize, Deserializer};

use crate::catalog::Catalog;
use crate::run::plan::Targets;

/// One entry of `[probe] allow`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowEntry {
    /// `"catalog"`: every host and port the catalog lists (with the Kandji values and `--catalog`
    /// the site uses).
    Catalog,
    /// `"targets"`: the targets the scheduled audit probes.
    Targets,
    /// `"host:port"`, `"*.example.com:443"`, `"host:*"`: a name (or every name under a domain) on
    /// a port (or any port).
    Pattern {
        /// The exact host, or the domain (with its leading dot) whose names match.
        host: HostPattern,
        /// `None`: any port.
        port: Option<u16>,
    },
}

/// The host half of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    /// `*.example.com`: names ending in `.example.com` (not `example.com` itself).
    Under(String),
}

/// The allow-list, as the config (or the default) gives it.
#[derive(Clone, Debug)]
pub struct Allow(pub Vec<AllowEntry>);

impl Default for Allow {
    fn default() -> Self {
        Self(vec![AllowEntry::Catalog])
    }
}

impl Allow {
    /// Whether `/probe` may audit `host:port`; `scheduled` are the scheduled audit's targets.
    pub fn permits(&self, host: &str, port: u16, catalog: &Catalog, scheduled: &Targets) -> bool {
        self.0.iter().any(|e| match e {
            AllowEntry::Catalog => catalog.find(host, port).is_some(),
            AllowEntry::Targets => scheduled.iter().any(|t| t.host == host && t.port == port),
            AllowEntry::Pattern { host: h, port: p } => {
                p.is_none_or(|p| p == port)
                    && match h {
                        HostPattern::Exact(x) => x == host,
                        HostPattern::Under(domain) => {
                            host.len() > domain.len() && host.ends_with(domain.as_str())
                        }
                    }
            }
        })
    }
}

impl std::str::FromStr for AllowEntry {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "catalog" => return Ok(Self::Catalog),
            "targets" => return Ok(Self::Targets),
            _ => {}
        }
        let bad = |why: &str| format!("allow '{s}': {why}");
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| bad("expected \"catalog\", \"targets\" or HOST:PORT"))?;
        let port = match port {
            "*" => None,
            p => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|&p| p > 0)
                    .ok_or_else(|| bad("the port must be 1-65535 or *"))?,
            ),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let host = match host.strip_prefix('*') {
            Some(rest) if rest.starts_with('.') && rest.len() > 1 && !rest.contains('*') => {
                HostPattern::Under(rest.to_owned())
            }
            Some(_) => {
                return Err(bad(
                    "only a leading \"*.\" before a domain is allowed (an exporter must not \
                     probe any host for whoever asks)",
                ));
            }
            None if host.is_empty() || host.contains('*') => {
                return Err(bad("a host name, or *.DOMAIN"));
            }
            None => HostPattern::Exact(host.trim_end_matches('.').to_owned()),
        };
        Ok(Self::Pattern { host, port })
    }
}

impl<'de> Deserialize<'de> for AllowEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::TenantValues;

    #[test]
    fn patterns() {
        let catalog = Catalog::load(None, &TenantValues::default()).unwrap();
        let allow = Allow(vec![
            "*.example.com:443".parse().unwrap(),
            "lab.test:*".parse().unwrap(),
        ]);
        let none = Targets::listed(Vec::new());
        assert!(allow.permits("a.example.com", 443, &catalog, &none));
        assert!(!allow.permits("example.com", 443, &catalog, &none));
        assert!(!allow.permits("a.example.com", 8443, &catalog, &none));
        assert!(allow.permits("lab.test", 1234, &catalog, &none));
        assert!(!allow.permits("evil.test", 443, &catalog, &none));
        assert!(Allow::default().permits("gdmf.apple.com", 443, &catalog, &none));
        assert!(!Allow::default().permits("example.org", 443, &catalog, &none));
        for bad in [
            "*",
            "*:*",
            "*:443",
            "a.*.com:443",
            "host",
            "host:0",
            "host:x",
        ] {
            assert!(bad.parse::<AllowEntry>().is_err(), "{bad}");
        }
    }
}
