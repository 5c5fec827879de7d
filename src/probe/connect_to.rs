//! `--connect-to HOST1:PORT1:HOST2:PORT2` (curl's syntax): connections meant for HOST1:PORT1 go to
//! HOST2:PORT2 instead, while the name sent (SNI, `Host:`) and judged stays HOST1. An empty HOST1 or
//! PORT1 matches any; an empty HOST2 or PORT2 keeps the original. It applies where this machine
//! resolves a name: direct connections to named targets (not IP literals, and not the targets a
//! proxy connects to for it).

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use super::resolve::{Resolve, ResolveFuture};
use crate::model::observation::AnsweredBy;
use crate::model::target::normalise_host;

/// One `--connect-to` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectTo {
    /// The host it applies to (lower case), or any when `None`.
    pub from_host: Option<String>,
    /// The port it applies to, or any when `None`.
    pub from_port: Option<u16>,
    /// Where to connect instead (a name or an IP address), or the same host when `None`.
    pub to_host: Option<String>,
    /// The port to connect to instead, or the same port when `None`.
    pub to_port: Option<u16>,
}

/// Why a `--connect-to` value could not be read.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("--connect-to '{value}': {reason}")]
pub struct ConnectToError {
    pub value: String,
    pub reason: String,
}

/// Splits `value` at its colons, keeping bracketed IPv6 addresses whole (brackets removed).
fn fields(value: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = value;
    loop {
        let (field, after) = if let Some(inner) = rest.strip_prefix('[') {
            let (addr, after) = inner.split_once(']')?;
            match after.strip_prefix(':') {
                Some(a) => (addr, Some(a)),
                None if after.is_empty() => (addr, None),
                None => return None,
            }
        } else {
            match rest.split_once(':') {
                Some((f, a)) => (f, Some(a)),
                None => (rest, None),
            }
        };
        out.push(field.to_owned());
        match after {
            Some(a) => rest = a,
            None => return Some(out),
        }
    }
}

impl FromStr for ConnectTo {
    type Err = ConnectToError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| ConnectToError {
            value: value.to_owned(),
            reason,
        };
        let parts = fields(value)
            .filter(|f| f.len() == 4)
            .ok_or_else(|| err("expected HOST1:PORT1:HOST2:PORT2 (IPv6 in brackets)".into()))?;
        let port = |p: &str| -> Result<Option<u16>, ConnectToError> {
            if p.is_empty() {
                return Ok(None);
            }
            match p.parse::<u16>() {
                Ok(n) if n > 0 => Ok(Some(n)),
                _ => Err(err(format!("'{p}' is not a port (1-65535)"))),
            }
        };
        let host = |h: &str| (!h.is_empty()).then(|| h.to_ascii_lowercase());
        // HOST1 is compared with targets, whose names are normalised (punycode, no trailing dot).
        let from_host = match parts[0].as_str() {
            "" => None,
            h => Some(normalise_host(h, h).map_err(|e| err(e.to_string()))?),
        };
        Ok(Self {
            from_host,
            from_port: port(&parts[1])?,
            to_host: host(&parts[2]),
            to_port: port(&parts[3])?,
        })
    }
}

impl ConnectTo {
    fn matches(&self, host: &str, port: u16) -> bool {
        self.from_host
            .as_deref()
            .is_none_or(|h| h.eq_ignore_ascii_case(host))
            && self.from_port.is_none_or(|p| p == port)
    }
}

/// Applies the first matching `--connect-to` rule, then asks the inner resolver (so `--resolve`
/// applies to the new host, as in curl).
#[derive(Debug)]
pub struct ConnectToResolver {
    rules: Vec<ConnectTo>,
    inner: Arc<dyn Resolve>,
}

impl ConnectToResolver {
    pub fn new(rules: Vec<ConnectTo>, inner: Arc<dyn Resolve>) -> Self {
        Self { rules, inner }
    }
}

impl Resolve for ConnectToResolver {
    fn answered_by(&self, host: &str, port: u16) -> Option<AnsweredBy> {
        match self.redirect(host, port) {
            // The addresses are another host's: nothing to say about this name's.
            Some(_) => None,
            None => self.inner.answered_by(host, port),
        }
    }

    fn pinned(&self, host: &str, port: u16) -> Option<Vec<SocketAddr>> {
        let Some((to_host, to_port)) = self.redirect(host, port) else {
            return self.inner.pinned(host, port);
        };
        match to_host.parse::<IpAddr>() {
            Ok(ip) => Some(vec![SocketAddr::new(ip, to_port)]),
            Err(_) => self.inner.pinned(&to_host, to_port),
        }
    }

    fn gives_up_after(&self) -> Option<Duration> {
        self.inner.gives_up_after()
    }

    fn redirect(&self, host: &str, port: u16) -> Option<(String, u16)> {
        let rule = self.rules.iter().find(|r| r.matches(host, port))?;
        let to_host = rule.to_host.clone().unwrap_or_else(|| host.to_owned());
        Some((to_host, rule.to_port.unwrap_or(port)))
    }

    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a> {
        let Some(rule) = self.rules.iter().find(|r| r.matches(host, port)) else {
            return self.inner.resolve(host, port);
        };
        let to_host = rule.to_host.as_deref().unwrap_or(host);
        let to_port = rule.to_port.unwrap_or(port);
        match to_host.parse::<IpAddr>() {
            Ok(ip) => Box::pin(async move { Ok(vec![SocketAddr::new(ip, to_port)]) }),
            Err(_) => self.inner.resolve(to_host, to_port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_like_curl() {
        let r: ConnectTo = "gdmf.apple.com:443:127.0.0.1:8443".parse().expect("rule");
        assert_eq!(r.from_host.as_deref(), Some("gdmf.apple.com"));
        assert_eq!(r.to_port, Some(8443));
        let r: ConnectTo = "::[::1]:".parse().expect("rule");
        assert_eq!(r.from_host, None);
        assert_eq!(r.from_port, None);
        assert_eq!(r.to_host.as_deref(), Some("::1"));
        assert_eq!(r.to_port, None);
        assert!("a:443:b".parse::<ConnectTo>().is_err());
        assert!("a:0:b:1".parse::<ConnectTo>().is_err());
        assert!("a:1:[::1:2".parse::<ConnectTo>().is_err());
        assert!(r.matches("any.example", 5223));
    }
}
