//! The services that are not TLS: plain HTTP, NTP, SSH and QUIC. What their answers show goes to
//! the findings (a block page and an unsynchronised NTP server are failures the policy turns into
//! `blocked` and `protocol_error`); the explanations that go with them are here too. Like the rest
//! of the analysis this reads no clock and does no I/O: an NTP offset was measured by the probe.
//! What marks a proxy, and what kiss codes mean, is data (`data/service_signs.toml`).

use url::Url;

use super::findings::Findings;
use super::knowledge::ServiceSigns;
use super::policy::Decision;
use super::{Code, Context, Verdict};
use crate::model::observation::{
    FailureKind, HttpAnswer, NtpAnswer, Observation, Outcome, QuicAnswer, ServiceAnswer,
};
use crate::model::target::ProbeKind;

/// Beyond this difference between the NTP server's clock and this machine's, the difference is
/// reported: certificate checks on a device whose clock is that far off start to fail at the edges
/// of validity periods, and a clock set from a wrong source drifts further.
const CLOCK_SKEW_MS: f64 = 5_000.0;

pub(super) fn judge(
    answer: &ServiceAnswer,
    obs: &Observation,
    ctx: &Context<'_>,
    found: &mut Findings,
) {
    let signs = &ctx.knowledge.services;
    match answer {
        ServiceAnswer::Http(h) => judge_http(h, &obs.target.host, signs, found),
        ServiceAnswer::Ntp(n) => judge_ntp(n, signs, found),
        ServiceAnswer::Ssh(s) => found.info(
            Code::SshBanner,
            format!("the SSH server identified itself as '{}'", s.banner),
        ),
        ServiceAnswer::Quic(q) => judge_quic(q, found),
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// Any HTTP answer shows the port is reachable (`pass`); proxy headers add a warning; a redirect
/// to another site, or a proxy's own refusal, is a block page (`blocked`).
fn judge_http(h: &HttpAnswer, host: &str, signs: &ServiceSigns, found: &mut Findings) {
    let server = h.header("server");
    let mut answered = format!("HTTP {} {}", h.status, h.reason);
    if let Some(s) = server {
        answered.push_str(&format!(" (Server: {s})"));
    }
    found.info(Code::HttpAnswered, answered);

    let marks = proxy_marks(h, signs);
    for mark in &marks {
        found.warn(
            Code::TransparentProxy,
            format!("a transparent proxy is in the path: {mark}"),
        );
    }
    if let Some(message) = block_page(h, host, !marks.is_empty(), signs) {
        found.error(Code::BlockPage, message);
    }
}

/// Each sign of a proxy in the response: the header as received and why it means a proxy.
fn proxy_marks(h: &HttpAnswer, signs: &ServiceSigns) -> Vec<String> {
    let mut marks = Vec::new();
    for (name, value) in &h.headers {
        let lower = value.to_ascii_lowercase();
        let Some(known) = signs.proxy_header(name) else {
            continue;
        };
        if known
            .value_contains
            .as_deref()
            .is_some_and(|v| !lower.contains(v))
        {
            continue;
        }
        if known.cdn_too && signs.names_cdn(&lower) {
            continue;
        }
        marks.push(format!(
            "the answer carries '{}: {value}'; {}",
            header_case(name),
            known.why
        ));
    }
    if let Some(server) = h.header("server")
        && let Some(proxy) = signs.proxy_server(server)
    {
        marks.push(format!(
            "the answer carries 'Server: {server}'; it comes from {}, a proxy, not from the service",
            proxy.product
        ));
    }
    marks
}

/// Why the answer is a block page, if it is one.
fn block_page(h: &HttpAnswer, host: &str, via_proxy: bool, signs: &ServiceSigns) -> Option<String> {
    let from = h
        .header("server")
        .map(|s| format!(" from '{s}'"))
        .unwrap_or_default();
    match h.status {
        300..=399 => {
            let location = h.location()?;
            let target = redirect_host(host, location)?;
            if same_site(host, &target, signs) {
                return None;
            }
            let portal = if host == "captive.apple.com" {
                ". captive.apple.com itself answers with a 'Success' page; a redirect here is a captive portal, and devices show its login sheet"
            } else {
                ": a captive portal or a web filter's block page answers in the service's place"
            };
            Some(format!(
                "HTTP {} redirects to {location}, another host than {host}{portal}",
                h.status
            ))
        }
        511 => Some(format!(
            "HTTP 511 {}{from}: a captive portal asks for a login before it lets traffic through",
            h.reason
        )),
        407 => Some(format!(
            "HTTP 407 {}{from}: a proxy intercepts plain HTTP and demands a login",
            h.reason
        )),
        403 if via_proxy => Some(format!(
            "HTTP 403 {}{from}: the proxy in the path refuses the request",
            h.reason
        )),
        _ => None,
    }
}

/// The host a redirect points at (relative locations point at the target itself).
fn redirect_host(host: &str, location: &str) -> Option<String> {
    let authority = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let base = Url::parse(&format!("http://{authority}/")).ok()?;
    let url = base.join(location.trim()).ok()?;
    let to = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    Some(to.trim_start_matches('[').trim_end_matches(']').to_owned())
}

/// The same host, the same registrable domain (approximated by its last labels), or both Apple's.
fn same_site(a: &str, b: &str, signs: &ServiceSigns) -> bool {
    let a = a.trim_end_matches('.').to_ascii_lowercase();
    if a == b {
        return true;
    }
    match (site(&a, signs), site(b, signs)) {
        (Some(x), Some(y)) => x == y || (signs.is_apple_domain(&x) && signs.is_apple_domain(&y)),
        _ => false,
    }
}

fn site(host: &str, signs: &ServiceSigns) -> Option<String> {
    if host.parse::<core::net::IpAddr>().is_ok() {
        return None;
    }
    if let Some(apple) = signs.apple_domain(host) {
        return Some(apple.to_owned());
    }
    let labels: Vec<&str> = host.split('.').collect();
    // example.co.uk, example.com.cn: a two-letter country code under a short second level.
    let keep = match labels.as_slice() {
        [.., second, tld] if tld.len() == 2 && second.len() <= 3 => 3,
        _ => 2,
    };
    let start = labels.len().saturating_sub(keep);
    Some(labels[start..].join("."))
}

/// "X-Bluecoat-Via" from "x-bluecoat-via".
fn header_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

// ---------------------------------------------------------------------------------------------
// NTP
// ---------------------------------------------------------------------------------------------

/// A synchronised answer is `pass` (with `clock_skew` as a warning when far off). A kiss-of-death
/// (stratum 0) or an unsynchronised server (leap indicator 3, stratum 16 or more) is
/// `protocol_error` with `ntp_unsynchronised`: the server answered in NTP but gives no time a
/// device can use, so devices cannot set their clock here. `untrusted` is kept for chains devices
/// refuse; an admin filtering on it looks for certificate problems, which this is not. Both count
/// as failures for the exit code.
fn judge_ntp(n: &NtpAnswer, signs: &ServiceSigns, found: &mut Findings) {
    let mut parts = vec![format!("stratum {}", n.stratum)];
    if !n.reference_id.is_empty() {
        parts.push(format!("reference {}", n.reference_id));
    }
    if let Some(offset) = n.offset_ms {
        parts.push(format!("offset {:+.3} s", offset / 1000.0));
    }
    if let Some(rtt) = n.round_trip_ms {
        parts.push(format!("round trip {rtt:.1} ms"));
    }
    found.info(
        Code::NtpAnswered,
        format!("NTP answered: {}", parts.join(", ")),
    );

    let unsynchronised = if n.stratum == 0 {
        let code = n.reference_id.as_str();
        let meaning = signs
            .kiss(code)
            .unwrap_or("the server refuses to give the time");
        Some(format!("kiss-of-death '{code}': {meaning}"))
    } else if n.leap == 3 || n.stratum >= 16 {
        Some(format!(
            "the server says its own clock is not synchronised (leap indicator {}, stratum {})",
            n.leap, n.stratum
        ))
    } else {
        None
    };
    if let Some(message) = unsynchronised {
        found.error(Code::NtpUnsynchronised, message);
        return;
    }

    if let Some(offset) = n.offset_ms.filter(|o| o.abs() > CLOCK_SKEW_MS) {
        let direction = if offset > 0.0 { "ahead of" } else { "behind" };
        found.warn(
            Code::ClockSkew,
            format!(
                "the server's clock is {:.1} s {direction} this machine's; one of the two is wrong, and devices with a wrong clock reject valid certificates",
                offset.abs() / 1000.0
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// QUIC
// ---------------------------------------------------------------------------------------------

const QUIC_NOT_VERIFIED: &str = "the QUIC handshake, its certificate and any interception of QUIC were not checked; devices that cannot use QUIC fall back to TCP 443, which the TCP row checks";

fn judge_quic(q: &QuicAnswer, found: &mut Findings) {
    let versions: Vec<String> = q.versions.iter().map(|&v| quic_version_name(v)).collect();
    found.info(
        Code::QuicVersionNegotiation,
        format!(
            "a QUIC server answered with Version Negotiation, offering {}",
            versions.join(", ")
        ),
    );
    found.info(Code::NotVerified, QUIC_NOT_VERIFIED);
}

fn quic_version_name(v: u32) -> String {
    match v {
        0x0000_0001 => "QUIC v1".into(),
        0x6b33_43cf => "QUIC v2".into(),
        0xff00_0000..=0xff00_00ff => format!("draft-{}", v & 0xff),
        _ if v & 0x0f0f_0f0f == 0x0a0a_0a0a => format!("{v:#010x} (reserved, greasing)"),
        _ => format!("{v:#010x}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Explanations
// ---------------------------------------------------------------------------------------------

/// The explanation for a service target whose verdict needs words of its own; `None` leaves it to
/// the general text. `listed` is " Apple lists it for: …." or empty.
pub(super) fn explain(
    obs: &Observation,
    found: &Findings,
    decision: &Decision,
    listed: &str,
) -> Option<String> {
    let target = obs.target.label();
    let host = &obs.target.host;
    let message = |code: Code| found.get(code).map(|f| f.message.as_str());
    let answer = match &obs.outcome {
        Outcome::Service(answer) => answer,
        Outcome::Failed { failure, .. }
            if failure.kind == FailureKind::UnexpectedAnswer
                && decision.verdict == Verdict::ProtocolError =>
        {
            let (protocol, expected) = match obs.target.kind() {
                ProbeKind::Http => ("HTTP", "plain HTTP"),
                ProbeKind::Ntp => ("NTP", "an NTP reply"),
                ProbeKind::Ssh => ("SSH", "an SSH identification ('SSH-2.0-…')"),
                ProbeKind::Quic => ("QUIC", "QUIC Version Negotiation"),
                ProbeKind::Tls | ProbeKind::Skip(_) => return None,
            };
            let worst = message(Code::UnexpectedAnswer).unwrap_or(&failure.detail);
            return Some(format!(
                "{target} answered, but not with {protocol}: {worst}. Devices expect {expected} here, so something in the path (a proxy, a filter or another service) answers in its place; find what answers on {} {} and let the traffic through to {host}.{listed}",
                transport_name(obs),
                obs.target.port
            ));
        }
        _ => return None,
    };
    match (answer, decision.verdict) {
        (ServiceAnswer::Http(_), Verdict::Blocked) => {
            let why = message(Code::BlockPage)?;
            Some(format!(
                "{target} did not reach the service: {why}. Devices get this page instead of the service; allow {host} on the proxy or web filter (or sign this network in to the portal) and run pinscope again.{listed}"
            ))
        }
        (ServiceAnswer::Http(h), Verdict::Pass) => {
            let mut text = format!(
                "{target} answered plain HTTP ({} {}). This port carries no certificate to check.",
                h.status, h.reason
            );
            if let Some(proxy) = message(Code::TransparentProxy) {
                text.push_str(&format!(
                    " Note: {proxy}. Devices still reach the service, but the proxy sees and may change this traffic; if they misbehave, exempt {host} from it."
                ));
            }
            Some(text)
        }
        (ServiceAnswer::Ntp(_), Verdict::ProtocolError) => {
            let why = message(Code::NtpUnsynchronised)?;
            Some(format!(
                "{target} answered NTP but gives no usable time: {why}. Devices cannot set their clock from it. If a firewall or router answers NTP itself, let UDP 123 through to {host} or synchronise that device.{listed}"
            ))
        }
        (ServiceAnswer::Ntp(_), Verdict::Pass) => {
            let info = message(Code::NtpAnswered).unwrap_or("NTP answered");
            let mut text = format!("{target}: {info}. Devices can set their clock from it.");
            if let Some(skew) = message(Code::ClockSkew) {
                text.push_str(&format!(
                    " Note: {skew}. Check this machine's clock first; if it is right, whatever answers for {host} on this network gives the wrong time."
                ));
            }
            Some(text)
        }
        (ServiceAnswer::Ssh(s), Verdict::Pass) => Some(format!(
            "{target} identified itself as an SSH server ('{}'), so SFTP can reach it. Its host key and the login were not checked.",
            s.banner
        )),
        (ServiceAnswer::Quic(_), Verdict::Pass) => {
            let info = message(Code::QuicVersionNegotiation).unwrap_or("a QUIC server answered");
            Some(format!(
                "{target}: {info}, so UDP {} reaches a QUIC server. {}.",
                obs.target.port,
                capitalised(QUIC_NOT_VERIFIED)
            ))
        }
        _ => None,
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn transport_name(obs: &Observation) -> &'static str {
    if obs.target.kind().is_udp() {
        "UDP"
    } else {
        "TCP"
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::analysis::{Finding, policy};

    fn signs() -> ServiceSigns {
        super::super::knowledge::Knowledge::builtin()
            .expect("the built-in tables load")
            .services
    }

    /// What a stage found, and the verdict the policy makes of it.
    struct Judged {
        verdict: Verdict,
        findings: Vec<Finding>,
    }

    impl Judged {
        fn of(found: Findings) -> Self {
            Self {
                verdict: policy::verdict(found.as_slice()),
                findings: found.into_vec(),
            }
        }

        fn has(&self, code: Code) -> bool {
            self.findings.iter().any(|f| f.code == code)
        }
    }

    fn judge_http(h: &HttpAnswer, host: &str) -> Judged {
        let mut found = Findings::default();
        super::judge_http(h, host, &signs(), &mut found);
        Judged::of(found)
    }

    fn judge_ntp(n: &NtpAnswer) -> Judged {
        let mut found = Findings::default();
        super::judge_ntp(n, &signs(), &mut found);
        Judged::of(found)
    }

    fn http(status: u16, headers: &[(&str, &str)]) -> HttpAnswer {
        HttpAnswer {
            status,
            reason: "Reason".into(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn codes(j: &Judged) -> Vec<Code> {
        j.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn plain_answers_pass_and_proxies_warn() {
        let j = judge_http(
            &http(200, &[("server", "AppleHttpServer")]),
            "captive.apple.com",
        );
        assert_eq!(j.verdict, Verdict::Pass);
        assert_eq!(codes(&j), [Code::HttpAnswered]);

        let j = judge_http(&http(200, &[("via", "1.1 squid")]), "captive.apple.com");
        assert_eq!(j.verdict, Verdict::Pass);
        assert!(j.has(Code::TransparentProxy));

        // Apple's own CDN names itself in Via and X-Cache: not a proxy of this network.
        let j = judge_http(
            &http(
                200,
                &[
                    ("via", "http/1.1 usnyc3-edge-bx-004.ts.apple.com (acdn/1.0)"),
                    ("x-cache", "hit-fresh"),
                ],
            ),
            "captive.apple.com",
        );
        assert_eq!(codes(&j), [Code::HttpAnswered]);
        let j = judge_http(
            &http(200, &[("x-cache", "MISS from proxy.corp")]),
            "captive.apple.com",
        );
        assert!(j.has(Code::TransparentProxy));
    }

    #[test]
    fn redirects_elsewhere_and_proxy_refusals_are_block_pages() {
        let j = judge_http(
            &http(302, &[("location", "http://blockpage.example/deny?u=x")]),
            "captive.apple.com",
        );
        assert_eq!(j.verdict, Verdict::Blocked);
        assert!(j.findings[1].message.contains("blockpage.example"));
        for same in [
            "/hotspot",
            "https://captive.apple.com/",
            "https://www.apple.com/",
        ] {
            let j = judge_http(&http(301, &[("location", same)]), "captive.apple.com");
            assert_eq!(j.verdict, Verdict::Pass, "{same}");
        }
        let j = judge_http(&http(403, &[("server", "squid/5.7")]), "x.apple.com");
        assert_eq!(j.verdict, Verdict::Blocked);
        let j = judge_http(&http(403, &[("server", "AkamaiGHost")]), "x.apple.com");
        assert_eq!(j.verdict, Verdict::Pass);
        assert_eq!(
            judge_http(&http(511, &[]), "x.apple.com").verdict,
            Verdict::Blocked
        );
    }

    fn ntp(stratum: u8, leap: u8, reference: &str, offset: Option<f64>) -> NtpAnswer {
        NtpAnswer {
            stratum,
            leap,
            version: 4,
            reference_id: reference.into(),
            offset_ms: offset,
            round_trip_ms: offset.map(|_| 1.0),
        }
    }

    #[test]
    fn ntp_skew_and_kisses() {
        let j = judge_ntp(&ntp(1, 0, "GPS", Some(12.0)));
        assert_eq!(
            (j.verdict, codes(&j)),
            (Verdict::Pass, vec![Code::NtpAnswered])
        );
        let j = judge_ntp(&ntp(2, 0, "17.253.4.125", Some(-30_000.0)));
        assert_eq!(j.verdict, Verdict::Pass);
        assert!(j.findings[1].message.contains("30.0 s behind"));
        let j = judge_ntp(&ntp(0, 3, "RATE", None));
        assert_eq!(j.verdict, Verdict::ProtocolError);
        assert!(j.findings[1].message.contains("rate-limiting"));
        let j = judge_ntp(&ntp(16, 3, "", Some(0.0)));
        assert_eq!(j.verdict, Verdict::ProtocolError);
    }

    #[test]
    fn quic_versions_are_named() {
        assert_eq!(quic_version_name(1), "QUIC v1");
        assert_eq!(quic_version_name(0x6b33_43cf), "QUIC v2");
        assert_eq!(quic_version_name(0xff00_001d), "draft-29");
        assert!(quic_version_name(0x1a2a_3a4a).contains("greasing"));
    }
}
