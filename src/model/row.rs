//! What the catalog says about one host, port and transport: the rows targets are made from. The
//! catalog module loads them from its data; the types live here, in the model, so targets, the
//! analysis and the renderers can name them without depending on how the catalog is read.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// How a catalog row is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
    Ssh,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Ssh => "ssh",
        })
    }
}

/// How a row is probed when the catalog says so (`probe = "…"`), instead of the default that its
/// transport and port imply (TCP 80: HTTP, other TCP: TLS, UDP 123: NTP, UDP 443: QUIC, SSH: SSH).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Probe {
    Http,
    Tls,
    Ntp,
    Quic,
    Ssh,
}

impl Probe {
    /// Whether this probe can run over the transport (NTP and QUIC need UDP; the others a TCP
    /// connection, which `tcp` and `ssh` rows are).
    pub fn fits(self, transport: Transport) -> bool {
        match self {
            Self::Ntp | Self::Quic => transport == Transport::Udp,
            Self::Http | Self::Tls | Self::Ssh => transport != Transport::Udp,
        }
    }
}

/// Whether the source says the service works through an (explicit, non-inspecting) proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxySupport {
    // Declared from weakest to strongest: merging keeps the strongest statement (`max`).
    Unknown,
    No,
    Yes,
}

impl fmt::Display for ProxySupport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unknown => "unknown",
            Self::No => "no",
            Self::Yes => "yes",
        })
    }
}

/// A Kandji/Iru hosting region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    Us,
    Eu,
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Us => "us",
            Self::Eu => "eu",
        })
    }
}

/// One host:port:transport that devices must reach, with what the sources say about it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub host: String,
    pub port: u16,
    pub transport: Transport,
    /// The primary section: the first one that lists this row.
    pub section: String,
    /// Every section that lists this row, primary first.
    pub sections: Vec<String>,
    pub description: String,
    pub os: Vec<String>,
    pub supports_proxy: ProxySupport,
    /// Listed only by an older edition of a source.
    pub legacy: bool,
    /// A concrete name chosen to stand for a wildcard entry (see `pattern`).
    pub representative: bool,
    /// The wildcard this row stands for, when it came from one.
    pub pattern: Option<String>,
    /// The primary source id; `sources` lists all.
    pub source: String,
    pub sources: Vec<String>,
    pub note: Option<String>,
    /// The highest TLS version the real server speaks ("1.2"), when its operator documents one.
    pub tls_max: Option<String>,
    /// The TLS 1.2 cipher suites the real server offers (IANA names), when its operator documents
    /// them; empty when unknown.
    pub tls_ciphers: Vec<String>,
    /// How to probe it, when not the default for its transport and port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<Probe>,
    /// Who pins this host's certificate besides Apple (for example the Kandji Agent).
    pub pinned_by: Option<String>,
    /// The other hosts pinned together with this one, to be exempted together.
    pub pinned_with: Vec<String>,
    /// The address blocks a source documents the service in (`networks` in the catalog): an
    /// address outside all of them is reported (`address_outside_documented_network`).
    pub networks: Vec<Network>,
}

/// An address block a source documents for a row's service (`17.0.0.0/8` for APNs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Network {
    /// As written: `17.0.0.0/8`.
    pub cidr: String,
    /// The id of the source that documents it.
    pub source: String,
    #[serde(skip)]
    addr: IpAddr,
    #[serde(skip)]
    prefix: u8,
}

impl Network {
    /// Reads `ADDR/PREFIX`; `None` when it is not one (or host bits are set).
    pub fn parse(cidr: &str, source: &str) -> Option<Self> {
        let (addr, prefix) = cidr.trim().split_once('/')?;
        let addr: IpAddr = addr.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > bits {
            return None;
        }
        // Host bits set (17.1.0.0/8) read as a mistake: refuse them.
        if masked(addr, prefix) != bits_of(addr) {
            return None;
        }
        Some(Self {
            cidr: cidr.trim().to_owned(),
            source: source.to_owned(),
            addr,
            prefix,
        })
    }

    /// Whether the address is of this block's family and inside it.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.same_family(ip) && masked(ip, self.prefix) == masked(self.addr, self.prefix)
    }

    /// Whether the address is of the block's family (IPv4 or IPv6).
    pub fn same_family(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4()
    }
}

fn bits_of(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The address with everything past `prefix` bits cleared.
fn masked(ip: IpAddr, prefix: u8) -> u128 {
    let width: u32 = if ip.is_ipv4() { 32 } else { 128 };
    let keep = u32::from(prefix).min(width);
    if keep == 0 {
        return 0;
    }
    let shift = width - keep;
    (bits_of(ip) >> shift) << shift
}

impl Row {
    /// A wildcard for which no concrete name is known: it is listed, but cannot be probed.
    pub fn is_unresolved_pattern(&self) -> bool {
        self.host.starts_with("*.")
    }

    /// The host, port and transport that identify the row.
    pub fn key(&self) -> (String, u16, Transport) {
        (self.host.clone(), self.port, self.transport)
    }

    /// The numbered family a representative name belongs to: its first label's first run of
    /// digits replaced by `*` (`7-courier.push.apple.com` → `*-courier.push.apple.com`). Only
    /// representative rows have one: their numbers come from a `{A..B}` range in the catalog and
    /// name interchangeable servers, so a table may show them as one line. A name a user gave, or
    /// a row not standing for a wildcard, keeps its digits as part of who it is.
    pub fn numbered_family(&self) -> Option<String> {
        if !self.representative || self.pattern.is_none() {
            return None;
        }
        let label_end = self.host.find('.').unwrap_or(self.host.len());
        let start = self.host[..label_end].find(|c: char| c.is_ascii_digit())?;
        let len = self.host[start..label_end]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(label_end - start);
        Some(format!(
            "{}*{}",
            &self.host[..start],
            &self.host[start + len..]
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(host: &str, pattern: Option<&str>) -> Row {
        Row {
            host: host.into(),
            port: 443,
            transport: Transport::Tcp,
            section: "s".into(),
            sections: vec!["s".into()],
            description: String::new(),
            os: Vec::new(),
            supports_proxy: ProxySupport::Unknown,
            legacy: false,
            representative: pattern.is_some(),
            pattern: pattern.map(Into::into),
            source: "x".into(),
            sources: vec!["x".into()],
            note: None,
            tls_max: None,
            tls_ciphers: Vec::new(),
            probe: None,
            pinned_by: None,
            pinned_with: Vec::new(),
            networks: Vec::new(),
        }
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let apple = Network::parse("17.0.0.0/8", "s").expect("block");
        assert!(apple.contains("17.253.144.10".parse().expect("ip")));
        assert!(!apple.contains("127.0.0.1".parse().expect("ip")));
        assert!(!apple.contains("18.0.0.1".parse().expect("ip")));
        assert!(!apple.contains("::1".parse().expect("ip")));
        let v6 = Network::parse("2620:149::/32", "s").expect("block");
        assert!(v6.contains("2620:149:a::1".parse().expect("ip")));
        assert!(Network::parse("17.1.0.0/8", "s").is_none());
        assert!(Network::parse("17.0.0.0/33", "s").is_none());
        assert!(Network::parse("17.0.0.0", "s").is_none());
    }

    #[test]
    fn a_numbered_family_replaces_the_first_labels_digits() {
        let family = |host, pattern| row(host, pattern).numbered_family();
        let push = Some("*.push.apple.com");
        assert_eq!(
            family("17-courier.push.apple.com", push).as_deref(),
            Some("*-courier.push.apple.com")
        );
        assert_eq!(
            family("is3-ssl.mzstatic.com", Some("*.mzstatic.com")).as_deref(),
            Some("is*-ssl.mzstatic.com")
        );
        assert_eq!(
            family("r10.c.lencr.org", Some("*.c.lencr.org")).as_deref(),
            Some("r*.c.lencr.org")
        );
        // No digits in the first label, or not standing for a wildcard: no family.
        assert_eq!(family("courier.push.apple.com", push), None);
        assert_eq!(family("gs.apple.com2.example", push), None);
        assert_eq!(family("host1.example.com", None), None);
    }
}
