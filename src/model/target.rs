//! What gets probed: a host, port and transport, with the catalog row it came from (if any), and how
//! it is probed. Also the parser for the `host[:port]` syntax of the command line and `--targets`.

use std::net::IpAddr;

use rustls_pki_types::ServerName;

use super::observation::SkipReason;
use super::row::{Probe, Row, Transport};

/// The port a target gets when none is written.
pub const DEFAULT_PORT: u16 = 443;

/// One thing to probe.
#[derive(Clone, Debug)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub transport: Transport,
    /// The catalog row behind this target, when the host:port is in the catalog.
    pub row: Option<Row>,
}

/// How a target is probed, derived from its transport, port and name, or given by its catalog row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// A TLS handshake with the chain captured.
    Tls,
    /// A plain-HTTP request (TCP 80).
    Http,
    /// An SNTP query (UDP 123).
    Ntp,
    /// The SSH server's banner.
    Ssh,
    /// A QUIC packet that a QUIC server answers with Version Negotiation (UDP 443).
    Quic,
    /// Not probed; the reason is reported as the row's finding.
    Skip(SkipReason),
}

impl ProbeKind {
    /// Whether the probe runs over UDP (no TCP connection is made).
    pub fn is_udp(&self) -> bool {
        matches!(self, Self::Ntp | Self::Quic)
    }
}

impl Target {
    pub fn from_row(row: &Row) -> Self {
        Self {
            host: row.host.clone(),
            port: row.port,
            transport: row.transport,
            row: Some(row.clone()),
        }
    }

    pub fn kind(&self) -> ProbeKind {
        if self.host.starts_with("*.") {
            return ProbeKind::Skip(SkipReason::NoConcreteHost {
                pattern: self.host.clone(),
            });
        }
        if let Some(probe) = self.row.as_ref().and_then(|r| r.probe) {
            return match probe {
                Probe::Http => ProbeKind::Http,
                Probe::Tls => ProbeKind::Tls,
                Probe::Ntp => ProbeKind::Ntp,
                Probe::Quic => ProbeKind::Quic,
                Probe::Ssh => ProbeKind::Ssh,
            };
        }
        match (self.transport, self.port) {
            (Transport::Tcp, 80) => ProbeKind::Http,
            (Transport::Tcp, _) => ProbeKind::Tls,
            (Transport::Udp, 123) => ProbeKind::Ntp,
            (Transport::Udp, 443) => ProbeKind::Quic,
            (Transport::Udp, port) => ProbeKind::Skip(SkipReason::UnknownUdpPort(port)),
            (Transport::Ssh, _) => ProbeKind::Ssh,
        }
    }

    /// `host:port` with IPv6 literals bracketed.
    pub fn label(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The catalog section, or "-" for targets not in the catalog.
    pub fn section(&self) -> &str {
        self.row.as_ref().map_or("-", |r| r.section.as_str())
    }
}

/// Why a `host[:port]` could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetError {
    #[error("'{0}': empty host")]
    EmptyHost(String),
    #[error("'{spec}': '{port}' is not a port (1-65535)")]
    BadPort { spec: String, port: String },
    #[error("'{0}': not a valid host name or IP address")]
    BadHost(String),
    #[error("'{0}': an IPv6 address with a port must be bracketed, as [::1]:443")]
    UnbracketedIpv6(String),
    #[error("'{0}': only https:// and http:// URLs are targets")]
    BadScheme(String),
    #[error("'{0}': not a valid internationalised domain name")]
    BadIdn(String),
}

/// Parses `host`, `host:port`, `[v6]`, `[v6]:port` (or a bare IPv6 literal), and URLs
/// `https://host[:port][/path]` (port 443 unless written) and `http://…` (port 80). The host is
/// normalised: lower case, an internationalised name in its ASCII (punycode) form, a trailing dot
/// removed.
pub fn parse_spec(spec: &str) -> Result<(String, u16), TargetError> {
    let s = spec.trim();
    let (rest, default_port) = match s.split_once("://") {
        Some((scheme, rest)) => {
            let port = match scheme.to_ascii_lowercase().as_str() {
                "https" => 443,
                "http" => 80,
                _ => return Err(TargetError::BadScheme(spec.to_owned())),
            };
            // The authority ends at the path, query or fragment; user information is dropped.
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let authority = &rest[..end];
            let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
            (authority, port)
        }
        None => (s, DEFAULT_PORT),
    };
    let (host, port) = if let Some(rest) = rest.strip_prefix('[') {
        let Some((h, after)) = rest.split_once(']') else {
            return Err(TargetError::BadHost(spec.to_owned()));
        };
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(TargetError::BadHost(spec.to_owned())),
        };
        (h, port)
    } else if rest.matches(':').count() > 1 {
        if rest.parse::<IpAddr>().is_ok() {
            (rest, None)
        } else {
            return Err(TargetError::UnbracketedIpv6(spec.to_owned()));
        }
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(TargetError::BadPort {
                    spec: spec.to_owned(),
                    port: p.to_owned(),
                });
            }
        },
    };
    Ok((normalise_host(host, spec)?, port))
}

/// A host name as it is probed: lower case, ASCII (an internationalised name in punycode), without
/// a trailing dot; an IP address as written. `spec` names the input in errors.
pub fn normalise_host(host: &str, spec: &str) -> Result<String, TargetError> {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return Err(TargetError::EmptyHost(spec.to_owned()));
    }
    let host = if host.is_ascii() {
        host.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(host).map_err(|_| TargetError::BadIdn(spec.to_owned()))?
    };
    if ServerName::try_from(host.as_str()).is_err() {
        return Err(TargetError::BadHost(spec.to_owned()));
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_with_default_port() {
        assert_eq!(
            parse_spec("gdmf.apple.com"),
            Ok(("gdmf.apple.com".into(), 443))
        );
        assert_eq!(
            parse_spec("Courier.push.apple.com:5223"),
            Ok(("courier.push.apple.com".into(), 5223))
        );
        assert_eq!(parse_spec("[::1]:8443"), Ok(("::1".into(), 8443)));
        assert_eq!(parse_spec("::1"), Ok(("::1".into(), 443)));
        assert!(matches!(
            parse_spec("host:0"),
            Err(TargetError::BadPort { .. })
        ));
        assert!(matches!(
            parse_spec("host:http"),
            Err(TargetError::BadPort { .. })
        ));
        assert!(matches!(parse_spec(":443"), Err(TargetError::EmptyHost(_))));
        assert!(matches!(
            parse_spec("bad host:443"),
            Err(TargetError::BadHost(_))
        ));
    }

    #[test]
    fn urls_idn_and_trailing_dots_are_normalised() {
        let ok =
            |s: &str, host: &str, port: u16| assert_eq!(parse_spec(s), Ok((host.into(), port)));
        ok("https://gdmf.apple.com/", "gdmf.apple.com", 443);
        ok(
            "HTTPS://gdmf.apple.com:8443/a/b?c#d",
            "gdmf.apple.com",
            8443,
        );
        ok("http://captive.apple.com", "captive.apple.com", 80);
        ok("https://user:pw@[::1]:9443/x", "::1", 9443);
        ok("gdmf.apple.com.", "gdmf.apple.com", 443);
        ok("gdmf.apple.com.:5223", "gdmf.apple.com", 5223);
        ok("bücher.example", "xn--bcher-kva.example", 443);
        ok("https://BÜCHER.example/", "xn--bcher-kva.example", 443);
        assert!(matches!(
            parse_spec("ftp://host/"),
            Err(TargetError::BadScheme(_))
        ));
        assert!(matches!(parse_spec("."), Err(TargetError::EmptyHost(_))));
        assert!(matches!(
            parse_spec("https://host:x/"),
            Err(TargetError::BadPort { .. })
        ));
    }
}
