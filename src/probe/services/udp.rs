//! The UDP probes: SNTP (RFC 4330) and QUIC version negotiation (RFC 9000 §6), over one
//! request/reply loop that re-sends until an answer or the deadline.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::quote;
use crate::model::observation::{
    Failure, FailureKind, NtpAnswer, Phase, QuicAnswer, ServiceAnswer,
};

/// An SNTP packet without extensions (RFC 4330 §4).
const NTP_PACKET: usize = 48;
/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A version of the reserved `0x?a?a?a?a` form (RFC 9000 §15): no server speaks it, so a QUIC server
/// answers with Version Negotiation.
const QUIC_GREASE_VERSION: u32 = 0x1a2a_3a4a;
/// RFC 9000 §14.1: a client's first datagram is padded to at least 1200 bytes, and servers only
/// answer unknown versions in datagrams that large.
const QUIC_DATAGRAM: usize = 1200;
const QUIC_DCID_LEN: usize = 16;
const QUIC_SCID_LEN: usize = 8;

/// A UDP request is sent again this often until an answer comes or the address's time is up.
const UDP_RESEND: Duration = Duration::from_secs(1);
/// The largest datagram read.
const UDP_RECV: usize = 4096;

// ---------------------------------------------------------------------------------------------
// NTP
// ---------------------------------------------------------------------------------------------

/// Sends an SNTP request to each address in turn until one answers.
pub(in crate::probe) async fn ntp(
    addrs: &[SocketAddr],
    deadline: Instant,
) -> Result<(SocketAddr, ServiceAnswer), Failure> {
    udp_exchange(addrs, deadline, "NTP", Ntp::default).await
}

/// One SNTP exchange: the requests sent (their transmit timestamps, used as nonces) and the
/// validation of replies (RFC 4330 §5).
#[derive(Default)]
struct Ntp {
    sent: Vec<u64>,
}

impl Exchange for Ntp {
    fn request(&mut self) -> Vec<u8> {
        let mut packet = vec![0u8; NTP_PACKET];
        // LI 0, version 4, mode 3 (client).
        packet[0] = (4 << 3) | 3;
        // The transmit timestamp is the nonce the server echoes as the origin timestamp; its lowest
        // fraction bits (a few nanoseconds) are random so that a blind guess cannot match it.
        let mut noise = [0u8; 2];
        fill_random(&mut noise);
        let t1 = ntp_now() ^ u64::from(u16::from_be_bytes(noise));
        packet[40..48].copy_from_slice(&t1.to_be_bytes());
        self.sent.push(t1);
        packet
    }

    fn reply(&mut self, bytes: &[u8]) -> Result<ServiceAnswer, String> {
        let t4 = ntp_now();
        if bytes.len() < NTP_PACKET {
            return Err(format!(
                "a {}-byte reply, too short for NTP (48 bytes): {}",
                bytes.len(),
                quote(bytes)
            ));
        }
        let leap = bytes[0] >> 6;
        let version = (bytes[0] >> 3) & 7;
        let mode = bytes[0] & 7;
        let stratum = bytes[1];
        if mode != 4 {
            return Err(format!(
                "an NTP packet in mode {mode}, not a server reply (mode 4): {}",
                quote(bytes)
            ));
        }
        if !(1..=4).contains(&version) {
            return Err(format!("an NTP reply with version {version}"));
        }
        let stamp = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            u64::from_be_bytes(b)
        };
        let (origin, t2, t3) = (stamp(24), stamp(32), stamp(40));
        if !self.sent.contains(&origin) {
            return Err(
                "an NTP reply whose origin timestamp is not the one sent (a stale or forged reply)"
                    .into(),
            );
        }
        // RFC 4330 §5: a zero transmit timestamp is invalid, except in a kiss-of-death, which
        // carries no time at all.
        if t3 == 0 && stratum != 0 {
            return Err("an NTP reply with a zero transmit timestamp".into());
        }
        let (offset_ms, round_trip_ms) = if t2 != 0 && t3 != 0 {
            let t1 = origin;
            let offset = (diff(t2, t1) + diff(t3, t4)) / 2.0;
            let round_trip = (diff(t4, t1) - diff(t3, t2)).max(0.0);
            (Some(offset * 1000.0), Some(round_trip * 1000.0))
        } else {
            (None, None)
        };
        Ok(ServiceAnswer::Ntp(NtpAnswer {
            stratum,
            leap,
            version,
            reference_id: reference_id(stratum, &bytes[12..16]),
            offset_ms,
            round_trip_ms,
        }))
    }
}

/// This machine's clock as an NTP timestamp (32.32 fixed point, seconds since 1900, modulo the era).
fn ntp_now() -> u64 {
    let since_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = (since_unix.as_secs() + NTP_UNIX_OFFSET) & 0xffff_ffff;
    let frac = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// `a - b` in seconds, for timestamps within 68 years of each other (era-independent).
fn diff(a: u64, b: u64) -> f64 {
    // Reading the wrapped difference as two's complement is the point here.
    let d = a.wrapping_sub(b) as i64;
    d as f64 / 4_294_967_296.0
}

/// Stratum 0 (kiss code) and 1 (source name): four ASCII letters; higher strata: the IPv4 address
/// of the upstream server (or, for IPv6 upstreams, the first bytes of a hash of it).
fn reference_id(stratum: u8, id: &[u8]) -> String {
    if stratum <= 1 {
        let text: String = id
            .iter()
            .take_while(|&&b| b != 0)
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    char::from(b)
                } else {
                    '?'
                }
            })
            .collect();
        text.trim().to_owned()
    } else {
        id.iter().map(u8::to_string).collect::<Vec<_>>().join(".")
    }
}

// ---------------------------------------------------------------------------------------------
// QUIC
// ---------------------------------------------------------------------------------------------

/// Sends a QUIC Initial with an unknown version, which a QUIC server answers with Version
/// Negotiation.
pub(in crate::probe) async fn quic(
    addrs: &[SocketAddr],
    _host: &str,
    deadline: Instant,
) -> Result<(SocketAddr, ServiceAnswer), Failure> {
    udp_exchange(addrs, deadline, "QUIC", Quic::new).await
}

struct Quic {
    dcid: [u8; QUIC_DCID_LEN],
    scid: [u8; QUIC_SCID_LEN],
    packet: Vec<u8>,
}

impl Quic {
    fn new() -> Self {
        let mut dcid = [0u8; QUIC_DCID_LEN];
        let mut scid = [0u8; QUIC_SCID_LEN];
        fill_random(&mut dcid);
        fill_random(&mut scid);
        // Long header, fixed bit, type Initial, 4-byte packet number; then version, both
        // connection IDs, an empty token, the length of the rest, and random bytes where the
        // encrypted payload would be. Only the invariant fields (RFC 8999) matter to the server.
        let mut packet = Vec::with_capacity(QUIC_DATAGRAM);
        packet.push(0xc3);
        packet.extend_from_slice(&QUIC_GREASE_VERSION.to_be_bytes());
        packet.push(QUIC_DCID_LEN as u8);
        packet.extend_from_slice(&dcid);
        packet.push(QUIC_SCID_LEN as u8);
        packet.extend_from_slice(&scid);
        packet.push(0); // token length
        let rest = QUIC_DATAGRAM - packet.len() - 2;
        let rest_len = u16::try_from(rest).unwrap_or(0) | 0x4000; // two-byte varint
        packet.extend_from_slice(&rest_len.to_be_bytes());
        let mut payload = vec![0u8; rest];
        fill_random(&mut payload);
        packet.extend_from_slice(&payload);
        Self { dcid, scid, packet }
    }
}

impl Exchange for Quic {
    fn request(&mut self) -> Vec<u8> {
        self.packet.clone()
    }

    fn reply(&mut self, bytes: &[u8]) -> Result<ServiceAnswer, String> {
        let Some(&first) = bytes.first() else {
            return Err("an empty datagram".into());
        };
        if first & 0x80 == 0 || bytes.len() < 7 {
            return Err(format!(
                "a {}-byte datagram that is not a QUIC long-header packet: {}",
                bytes.len(),
                quote(bytes)
            ));
        }
        let version = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        if version != 0 {
            return Err(format!(
                "a QUIC packet of version {version:#010x} instead of Version Negotiation"
            ));
        }
        let mut at = 5;
        let mut take = |n: usize| -> Option<&[u8]> {
            let s = bytes.get(at..at + n)?;
            at += n;
            Some(s)
        };
        let ids = (|| {
            let dcid_len = usize::from(*take(1)?.first()?);
            let dcid = take(dcid_len)?;
            let scid_len = usize::from(*take(1)?.first()?);
            let scid = take(scid_len)?;
            Some((dcid, scid))
        })();
        let Some((dcid, scid)) = ids else {
            return Err("a truncated QUIC Version Negotiation packet".into());
        };
        // RFC 9000 §6.1: the server's packet goes to the client's source ID, from the client's
        // destination ID.
        if dcid != self.scid.as_slice() || scid != self.dcid.as_slice() {
            return Err(
                "a QUIC Version Negotiation packet that does not echo the connection IDs sent"
                    .into(),
            );
        }
        let list = bytes.get(at..).unwrap_or_default();
        if list.is_empty() || list.len() % 4 != 0 {
            return Err(format!(
                "a QUIC Version Negotiation packet with a malformed version list ({} bytes)",
                list.len()
            ));
        }
        let versions: Vec<u32> = list
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        // RFC 9000 §6.2: a list that includes the version sent is not a real negotiation.
        if versions.contains(&QUIC_GREASE_VERSION) {
            return Err(format!(
                "a QUIC Version Negotiation packet that lists the version sent ({QUIC_GREASE_VERSION:#010x})"
            ));
        }
        Ok(ServiceAnswer::Quic(QuicAnswer { versions }))
    }
}

// ---------------------------------------------------------------------------------------------
// UDP request/reply, shared by NTP and QUIC
// ---------------------------------------------------------------------------------------------

/// One protocol's datagrams: what to send, and whether a reply is the protocol's answer (or, as
/// `Err`, what it was instead).
trait Exchange {
    fn request(&mut self) -> Vec<u8>;
    fn reply(&mut self, bytes: &[u8]) -> Result<ServiceAnswer, String>;
}

/// How one address fared.
enum Miss {
    Silent,
    Refused(String),
    Unreachable(String),
    Garbage(String),
    Io(String),
}

/// Asks each address in turn, each with an equal share of the time left, re-sending every
/// [`UDP_RESEND`]. The first valid answer wins; otherwise the most telling miss is reported.
async fn udp_exchange<E: Exchange>(
    addrs: &[SocketAddr],
    deadline: Instant,
    protocol: &str,
    new: impl Fn() -> E,
) -> Result<(SocketAddr, ServiceAnswer), Failure> {
    // Finish a little before the caller's deadline, so that this probe's own account of what
    // happened is reported rather than the caller's generic one.
    let left = deadline.saturating_duration_since(Instant::now());
    let deadline = deadline - (left / 10).min(Duration::from_millis(250));
    let mut misses = Vec::new();
    for (i, &addr) in addrs.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        let share = left / u32::try_from(addrs.len() - i).unwrap_or(u32::MAX);
        match ask(addr, Instant::now() + share, &mut new()).await {
            Ok(answer) => return Ok((addr, answer)),
            Err(miss) => misses.push((addr, miss)),
        }
    }
    Err(summarise(protocol, &misses, left))
}

async fn ask(
    addr: SocketAddr,
    until: Instant,
    exchange: &mut impl Exchange,
) -> Result<ServiceAnswer, Miss> {
    let local = if addr.is_ipv4() {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| Miss::Io(format!("cannot open a UDP socket: {e}")))?;
    // A connected socket receives only this address's datagrams and reports ICMP errors.
    socket.connect(addr).await.map_err(|e| udp_miss(addr, &e))?;
    let mut buf = vec![0u8; UDP_RECV];
    loop {
        let now = Instant::now();
        if now >= until {
            return Err(Miss::Silent);
        }
        socket
            .send(&exchange.request())
            .await
            .map_err(|e| udp_miss(addr, &e))?;
        let wait = (now + UDP_RESEND).min(until);
        match tokio::time::timeout_at(wait, socket.recv(&mut buf)).await {
            // Nothing yet: send again.
            Err(_) => {}
            Ok(Err(e)) => return Err(udp_miss(addr, &e)),
            // The socket is connected, so this came from the address asked.
            Ok(Ok(n)) => {
                return exchange
                    .reply(&buf[..n])
                    .map_err(|what| Miss::Garbage(format!("{addr} answered with {what}")));
            }
        }
    }
}

fn udp_miss(addr: SocketAddr, e: &io::Error) -> Miss {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => Miss::Refused(format!(
            "{addr}: nothing listens on UDP port {} (ICMP port unreachable: {e})",
            addr.port()
        )),
        K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => {
            Miss::Unreachable(format!("{addr}: {e}"))
        }
        _ => Miss::Io(format!("{addr}: {e}")),
    }
}

/// The failure for a target none of whose addresses answered. A wrong answer says the most, then
/// a refusal, then silence (what a dropping firewall gives); an address this machine cannot send
/// to at all (an IPv6 address without IPv6 here) says the least.
fn summarise(protocol: &str, misses: &[(SocketAddr, Miss)], budget: Duration) -> Failure {
    let rank = |m: &Miss| match m {
        Miss::Garbage(_) => 0,
        Miss::Refused(_) => 1,
        Miss::Silent => 2,
        Miss::Unreachable(_) => 3,
        Miss::Io(_) => 4,
    };
    let Some((_, worst)) = misses.iter().min_by_key(|(_, m)| rank(m)) else {
        return Failure {
            kind: FailureKind::Dns(crate::model::observation::DnsProblem::NoAddresses),
            phase: Phase::Resolve,
            detail: "no addresses to send to".into(),
        };
    };
    let (kind, detail) = match worst {
        Miss::Garbage(d) => (FailureKind::UnexpectedAnswer, d.clone()),
        Miss::Refused(d) => (FailureKind::Refused, d.clone()),
        Miss::Unreachable(d) => (FailureKind::Unreachable, d.clone()),
        Miss::Io(d) => (FailureKind::Io, d.clone()),
        Miss::Silent => {
            let silent: Vec<String> = misses
                .iter()
                .filter(|(_, m)| matches!(m, Miss::Silent))
                .map(|(a, _)| a.to_string())
                .collect();
            (
                FailureKind::Timeout,
                format!(
                    "no {protocol} reply from {} within {:.1}s",
                    silent.join(", "),
                    budget.as_secs_f64()
                ),
            )
        }
    };
    Failure {
        kind,
        phase: Phase::Handshake,
        detail,
    }
}

fn fill_random(buf: &mut [u8]) {
    // ring's system random source; should it ever fail, fall back to the clock's low bits, which
    // still make the IDs differ between runs (they are nonces here, not secrets).
    if rustls::crypto::ring::default_provider()
        .secure_random
        .fill(buf)
        .is_err()
    {
        let seed = ntp_now().to_le_bytes();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = seed[i % seed.len()] ^ (i as u8).wrapping_mul(151);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ntp_reply(req: &[u8], stratum: u8, skew_secs: i64) -> Vec<u8> {
        let mut r = vec![0u8; 48];
        r[0] = (4 << 3) | 4;
        r[1] = stratum;
        r[12..16].copy_from_slice(b"GPS\0");
        r[24..32].copy_from_slice(&req[40..48]);
        let now = ntp_now().wrapping_add_signed(skew_secs << 32);
        r[32..40].copy_from_slice(&now.to_be_bytes());
        r[40..48].copy_from_slice(&now.to_be_bytes());
        r
    }

    #[test]
    fn ntp_replies_are_validated_and_measured() {
        let mut ntp = Ntp::default();
        let req = ntp.request();
        assert_eq!(req.len(), 48);
        assert_eq!(req[0], 0x23);
        let ServiceAnswer::Ntp(a) = ntp.reply(&ntp_reply(&req, 1, 30)).unwrap() else {
            panic!("not NTP");
        };
        assert_eq!(a.reference_id, "GPS");
        let offset = a.offset_ms.unwrap();
        assert!((offset - 30_000.0).abs() < 1_000.0, "{offset}");

        let mut other = ntp_reply(&req, 1, 0);
        other[24] ^= 1;
        assert!(ntp.reply(&other).unwrap_err().contains("origin"));
        assert!(ntp.reply(&req).unwrap_err().contains("mode 3"));
        assert!(ntp.reply(b"hello").unwrap_err().contains("too short"));
        assert_eq!(reference_id(2, &[192, 0, 2, 1]), "192.0.2.1");
    }

    #[test]
    fn the_most_telling_miss_is_reported() {
        let v6: SocketAddr = "[2001:db8::1]:123".parse().unwrap();
        let v4: SocketAddr = "192.0.2.1:123".parse().unwrap();
        let f = summarise(
            "NTP",
            &[
                (v6, Miss::Unreachable("no route".into())),
                (v4, Miss::Silent),
            ],
            Duration::from_secs(2),
        );
        assert_eq!(f.kind, FailureKind::Timeout);
        assert_eq!(f.detail, "no NTP reply from 192.0.2.1:123 within 2.0s");
        let f = summarise(
            "NTP",
            &[(v6, Miss::Silent), (v4, Miss::Refused("refused".into()))],
            Duration::from_secs(2),
        );
        assert_eq!(f.kind, FailureKind::Refused);
    }

    #[test]
    fn quic_version_negotiation_is_parsed() {
        let mut q = Quic::new();
        let req = q.request();
        assert_eq!(req.len(), QUIC_DATAGRAM);
        assert_eq!(&req[1..5], &QUIC_GREASE_VERSION.to_be_bytes());
        let mut vn = vec![0x80, 0, 0, 0, 0, QUIC_SCID_LEN as u8];
        vn.extend_from_slice(&q.scid);
        vn.push(QUIC_DCID_LEN as u8);
        vn.extend_from_slice(&q.dcid);
        vn.extend_from_slice(&[0, 0, 0, 1, 0x6b, 0x33, 0x43, 0xcf]);
        let ServiceAnswer::Quic(a) = q.reply(&vn).unwrap() else {
            panic!("not QUIC");
        };
        assert_eq!(a.versions, [1, 0x6b33_43cf]);
        vn[7] ^= 1;
        assert!(q.reply(&vn).unwrap_err().contains("echo"));
        assert!(q.reply(b"garbage").unwrap_err().contains("not a QUIC"));
    }
}
