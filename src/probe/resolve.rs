//! Name resolution behind a trait, so tests and `--resolve` can point names anywhere without touching
//! the machine's resolver, and a later resolver (DNS over a chosen server) can slot in.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

/// A boxed resolution future (trait objects cannot have async methods).
pub type ResolveFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<SocketAddr>, ResolveError>> + Send + 'a>>;

/// Resolves a host name to the socket addresses to try, in order.
pub trait Resolve: Send + Sync + fmt::Debug {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a>;
}

/// Why a name did not resolve.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveError {
    #[error("{host}: no addresses")]
    NoAddresses { host: String },
    #[error("{host}: {detail}")]
    Lookup { host: String, detail: String },
}

/// The operating system's resolver (getaddrinfo through tokio).
#[derive(Debug, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a> {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| ResolveError::Lookup {
                    host: host.to_owned(),
                    detail: e.to_string(),
                })?
                .collect();
            if addrs.is_empty() {
                return Err(ResolveError::NoAddresses {
                    host: host.to_owned(),
                });
            }
            Ok(addrs)
        })
    }
}

/// Asks one DNS server directly (`--dns-server`).
#[derive(Debug)]
pub struct DnsServerResolver {
    server: SocketAddr,
}

/// Why a `--dns-server` value could not be used.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("--dns-server '{value}': {reason}")]
pub struct DnsServerError {
    pub value: String,
    pub reason: String,
}

impl DnsServerResolver {
    pub fn new(value: &str) -> Result<Self, DnsServerError> {
        let server = value
            .parse::<SocketAddr>()
            .or_else(|_| value.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
            .map_err(|_| DnsServerError {
                value: value.to_owned(),
                reason: "expected IP or IP:PORT (IPv6 with a port as [addr]:port)".into(),
            })?;
        Ok(Self { server })
    }
}

impl Resolve for DnsServerResolver {
    fn resolve<'a>(&'a self, host: &'a str, _port: u16) -> ResolveFuture<'a> {
        Box::pin(async move {
            Err(ResolveError::Lookup {
                host: host.to_owned(),
                detail: format!("querying {} directly is not implemented yet", self.server),
            })
        })
    }
}

/// One `--resolve HOST:PORT:ADDR[,ADDR…]` rule (curl's syntax; HOST may be `*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveRule {
    pub host: String,
    pub port: u16,
    pub addrs: Vec<IpAddr>,
}

/// Why a `--resolve` value could not be read.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("--resolve '{value}': {reason}")]
pub struct ResolveRuleError {
    pub value: String,
    pub reason: String,
}

impl FromStr for ResolveRule {
    type Err = ResolveRuleError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| ResolveRuleError {
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let mut parts = value.splitn(3, ':');
        let (Some(host), Some(port), Some(addrs)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(err("expected HOST:PORT:ADDR"));
        };
        if host.is_empty() {
            return Err(err("empty HOST (use * to match every host)"));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| err(&format!("'{port}' is not a port (1-65535)")))?;
        let addrs = addrs
            .split(',')
            .map(|a| {
                let bare = a
                    .strip_prefix('[')
                    .and_then(|a| a.strip_suffix(']'))
                    .unwrap_or(a);
                bare.parse::<IpAddr>().map_err(|_| {
                    err(&format!(
                        "'{a}' is not an IP address (IPv6 goes in brackets)"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port,
            addrs,
        })
    }
}

/// Answers from `--resolve` rules first (exact host before `*`), and asks the inner resolver
/// for everything else.
#[derive(Debug)]
pub struct OverrideResolver {
    rules: Vec<ResolveRule>,
    inner: Arc<dyn Resolve>,
}

impl OverrideResolver {
    pub fn new(rules: Vec<ResolveRule>, inner: Arc<dyn Resolve>) -> Self {
        Self { rules, inner }
    }

    fn lookup(&self, host: &str, port: u16) -> Option<Vec<SocketAddr>> {
        let host = host.to_ascii_lowercase();
        let exact = self.rules.iter().find(|r| r.port == port && r.host == host);
        let rule = exact.or_else(|| self.rules.iter().find(|r| r.port == port && r.host == "*"))?;
        Some(
            rule.addrs
                .iter()
                .map(|&a| SocketAddr::new(a, port))
                .collect(),
        )
    }
}

impl Resolve for OverrideResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a> {
        match self.lookup(host, port) {
            Some(addrs) => Box::pin(async move { Ok(addrs) }),
            None => self.inner.resolve(host, port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_like_curl() {
        let r: ResolveRule = "gdmf.apple.com:443:127.0.0.1".parse().expect("rule");
        assert_eq!(r.addrs, vec![IpAddr::from([127, 0, 0, 1])]);
        let r: ResolveRule = "*:8443:[::1],127.0.0.2".parse().expect("rule");
        assert_eq!(r.host, "*");
        assert_eq!(r.addrs.len(), 2);
        assert!("host:443".parse::<ResolveRule>().is_err());
        assert!("host:99999:127.0.0.1".parse::<ResolveRule>().is_err());
        assert!("host:443:not-an-ip".parse::<ResolveRule>().is_err());
    }

    #[test]
    fn exact_rules_win_over_star() {
        let rules = vec![
            "*:443:127.0.0.9".parse().expect("rule"),
            "a.example:443:127.0.0.1".parse().expect("rule"),
        ];
        let r = OverrideResolver::new(rules, Arc::new(SystemResolver));
        assert_eq!(
            r.lookup("A.example", 443),
            Some(vec!["127.0.0.1:443".parse().expect("addr")])
        );
        assert_eq!(
            r.lookup("b.example", 443),
            Some(vec!["127.0.0.9:443".parse().expect("addr")])
        );
        assert_eq!(r.lookup("b.example", 80), None);
    }
}
