//! UDP servers on loopback: SNTP (RFC 4330), QUIC version negotiation, and a DNS responder that
//! answers, fails, refuses or stays silent name by name.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A UDP port that answers each datagram with what `reply` makes of it (nothing for `None`).
pub fn udp_server(reply: impl Fn(&[u8]) -> Option<Vec<u8>> + Send + 'static) -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            if let Some(r) = reply(&buf[..n]) {
                let _ = socket.send_to(&r, from);
            }
        }
    });
    port
}

/// A UDP port with nothing listening: datagrams to it draw ICMP port unreachable.
pub fn closed_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

/// This machine's clock as an NTP timestamp, moved by `skew` seconds.
fn ntp_now(skew: i64) -> u64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let secs = (d.as_secs() as i64 + 2_208_988_800 + skew) as u64 & 0xffff_ffff;
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// What an SNTP server says of itself and its clock.
#[derive(Clone, Copy)]
pub struct Sntp {
    pub leap: u8,
    pub stratum: u8,
    pub reference: [u8; 4],
    /// How many seconds its clock is off this machine's.
    pub skew_secs: i64,
    /// Kiss-of-death replies carry no timestamps.
    pub no_time: bool,
}

/// A stratum-1 server with a good clock.
pub const GOOD_SNTP: Sntp = Sntp {
    leap: 0,
    stratum: 1,
    reference: *b"GPS\0",
    skew_secs: 0,
    no_time: false,
};

/// An SNTP server (RFC 4330 §5) on a loopback UDP port.
pub fn sntp_server(cfg: Sntp) -> u16 {
    udp_server(move |req| {
        if req.len() < 48 {
            return None;
        }
        let mut r = vec![0u8; 48];
        r[0] = (cfg.leap << 6) | (4 << 3) | 4;
        r[1] = cfg.stratum;
        r[2] = 6;
        r[3] = 0xec;
        r[12..16].copy_from_slice(&cfg.reference);
        r[24..32].copy_from_slice(&req[40..48]);
        if !cfg.no_time {
            let now = ntp_now(cfg.skew_secs);
            r[16..24].copy_from_slice(&now.to_be_bytes());
            r[32..40].copy_from_slice(&now.to_be_bytes());
            r[40..48].copy_from_slice(&now.to_be_bytes());
        }
        Some(r)
    })
}

/// Answers a QUIC long-header packet with Version Negotiation listing `versions`.
pub fn quic_vn_server(versions: &'static [u32]) -> u16 {
    udp_server(move |req| {
        if req.len() < 7 || req[0] & 0x80 == 0 {
            return None;
        }
        let dcid_len = usize::from(req[5]);
        let dcid = req.get(6..6 + dcid_len)?;
        let scid_len = usize::from(*req.get(6 + dcid_len)?);
        let scid = req.get(7 + dcid_len..7 + dcid_len + scid_len)?;
        let mut vn = vec![0x80 | 0x2a, 0, 0, 0, 0];
        vn.push(scid.len() as u8);
        vn.extend_from_slice(scid);
        vn.push(dcid.len() as u8);
        vn.extend_from_slice(dcid);
        for v in versions {
            vn.extend_from_slice(&v.to_be_bytes());
        }
        Some(vn)
    })
}

/// How the DNS responder treats one name.
#[derive(Clone, Debug, Default)]
pub struct Zone {
    pub a: Vec<Ipv4Addr>,
    pub aaaa: Vec<Ipv6Addr>,
    /// The response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED).
    pub rcode: u8,
    /// Never answer queries for this name.
    pub silent: bool,
}

impl Zone {
    pub fn v4(ip: Ipv4Addr) -> Self {
        Self {
            a: vec![ip],
            ..Self::default()
        }
    }
    pub fn v6(ip: Ipv6Addr) -> Self {
        Self {
            aaaa: vec![ip],
            ..Self::default()
        }
    }
    pub fn rcode(rcode: u8) -> Self {
        Self {
            rcode,
            ..Self::default()
        }
    }
    pub fn silent() -> Self {
        Self {
            silent: true,
            ..Self::default()
        }
    }
}

/// A DNS responder on 127.0.0.1 (UDP, port chosen by the system). Names it does not know get
/// NXDOMAIN. Every question it receives is logged as "name TYPE".
pub struct DnsServer {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl DnsServer {
    pub fn start(zones: &[(&str, Zone)]) -> Self {
        let zones: HashMap<String, Zone> = zones
            .iter()
            .map(|(n, z)| (n.to_ascii_lowercase(), z.clone()))
            .collect();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&log);
        std::thread::spawn(move || {
            // Bounded: the responder lives for at most 60 s of idle time.
            socket
                .set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap();
            let mut buf = [0u8; 4096];
            while let Ok((n, peer)) = socket.recv_from(&mut buf) {
                let Some((name, qtype, question_end)) = parse_question(&buf[..n]) else {
                    continue;
                };
                let type_name = match qtype {
                    1 => "A".to_string(),
                    28 => "AAAA".to_string(),
                    t => format!("TYPE{t}"),
                };
                seen.lock().unwrap().push(format!("{name} {type_name}"));
                let zone = zones.get(&name).cloned().unwrap_or(Zone::rcode(3));
                if zone.silent {
                    continue;
                }
                let answers: Vec<(u16, Vec<u8>)> = match qtype {
                    1 => zone.a.iter().map(|ip| (1, ip.octets().to_vec())).collect(),
                    28 => zone
                        .aaaa
                        .iter()
                        .map(|ip| (28, ip.octets().to_vec()))
                        .collect(),
                    _ => Vec::new(),
                };
                let reply = encode_reply(&buf[..question_end], zone.rcode, &answers);
                let _ = socket.send_to(&reply, peer);
            }
        });
        Self { addr, log }
    }

    /// `--dns-server=ADDRESS`
    pub fn flag(&self) -> String {
        format!("--dns-server={}", self.addr)
    }

    /// The questions received so far, as "name TYPE".
    pub fn questions(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

/// The first question of a query: (name in lower case without the final dot, type, offset just
/// after the question).
fn parse_question(msg: &[u8]) -> Option<(String, u16, usize)> {
    if msg.len() < 12 || msg[2] & 0x80 != 0 || u16::from_be_bytes([msg[4], msg[5]]) == 0 {
        return None;
    }
    let mut labels = Vec::new();
    let mut at = 12;
    loop {
        let len = *msg.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(msg.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]);
    let end = at + 4;
    (end <= msg.len()).then(|| (labels.join("."), qtype, end))
}

/// A response to `query` (its header and question, as received) with the given code and answers.
fn encode_reply(query: &[u8], rcode: u8, answers: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&query[..2]); // id
    out.push(0x80 | (query[2] & 0x79)); // QR, the query's opcode and RD
    out.push(0x80 | (rcode & 0x0f)); // RA, rcode
    out.extend_from_slice(&[0, 1]); // one question
    out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // no authority, no additional records
    out.extend_from_slice(&query[12..]); // the question, verbatim
    for (rtype, rdata) in answers {
        out.extend_from_slice(&[0xc0, 0x0c]); // the name in the question
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&[0, 1]); // class IN
        out.extend_from_slice(&60u32.to_be_bytes()); // TTL
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(rdata);
    }
    out
}
