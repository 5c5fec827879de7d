//! Verdicts for the services that are not TLS: plain HTTP, NTP, SSH and QUIC.

use super::verdict::Judgement;
use super::{Code, Context, Finding, Severity, Verdict};
use crate::observation::{Observation, ServiceAnswer};

pub(super) fn judge_service(
    answer: &ServiceAnswer,
    _obs: &Observation,
    _ctx: &Context<'_>,
) -> Judgement {
    let message = match answer {
        ServiceAnswer::Http(h) => format!("HTTP {} {}", h.status, h.reason),
        ServiceAnswer::Ntp(n) => format!("NTP stratum {}", n.stratum),
        ServiceAnswer::Ssh(s) => s.banner.clone(),
        ServiceAnswer::Quic(q) => format!("QUIC versions {:?}", q.versions),
    };
    Judgement::new(
        Verdict::Pass,
        vec![Finding::new(Code::HttpAnswered, Severity::Info, message)],
    )
}
