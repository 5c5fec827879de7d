//! Turning a verdict and its findings into what an admin reads: what is wrong, what it breaks, and
//! what to change.

use super::{Code, Context, Judgement, Severity, Verdict};
use crate::observation::{Observation, Outcome};

pub(super) fn explain(obs: &Observation, j: &Judgement, ctx: &Context<'_>) -> String {
    let target = obs.target.label();
    let host = &obs.target.host;
    let purpose = obs
        .target
        .row
        .as_ref()
        .map(|r| r.description.trim())
        .filter(|d| !d.is_empty())
        .map(|d| format!(" Apple lists it for: {d}."))
        .unwrap_or_default();
    let worst = j
        .findings
        .iter()
        .rev()
        .max_by_key(|f| f.severity)
        .map(|f| f.message.as_str())
        .unwrap_or("");
    match j.verdict {
        Verdict::Pass if matches!(obs.outcome, Outcome::Connected) => format!(
            "{target} accepted a TCP connection. This port carries plain HTTP, so there is no \
             certificate to check."
        ),
        Verdict::Pass => format!(
            "{target} presented a chain that is valid against the public roots{}. Nothing on this \
             path re-signed the connection.",
            j.anchor
                .as_deref()
                .map(|a| format!(" and ends at '{a}'"))
                .unwrap_or_default()
        ),
        Verdict::Intercepted => {
            let signer = j.anchor.as_deref().unwrap_or("a CA that is not public");
            let why = if j
                .findings
                .iter()
                .any(|f| f.code == Code::IssuerSignatureMismatch)
            {
                format!("carries a trusted CA's name but was not signed by its key ({worst})")
            } else {
                format!("is signed by '{signer}', which no public root trusts")
            };
            format!(
                "Exempt {target} from HTTPS inspection: the chain presented {why}. Apple devices \
                 refuse it and drop the connection.{purpose}"
            )
        }
        Verdict::Untrusted => format!(
            "{target} presented a chain that devices will not accept: {worst}. No sign of \
             interception was found; check the server, or what answers for it on this network."
        ),
        Verdict::Blocked => format!(
            "{target} could not be reached: {worst}. Allow outbound {} {} to {host} on the \
             firewall or proxy.{purpose}",
            obs.target.transport.to_string().to_uppercase(),
            obs.target.port
        ),
        Verdict::Timeout => format!(
            "{target} did not answer within {}s: {worst}. A firewall that silently drops the \
             traffic looks like this; allow outbound {} {} to {host}.{purpose}",
            ctx.timeout.as_secs_f64(),
            obs.target.transport.to_string().to_uppercase(),
            obs.target.port
        ),
        Verdict::DnsError => format!(
            "{host} does not resolve from here: {worst}. Devices cannot reach it; check DNS \
             filtering or the resolver this machine uses.{purpose}"
        ),
        Verdict::TlsError => {
            let hint = if j.findings.iter().any(|f| f.code == Code::NotTls) {
                "Something that is not a TLS server answers on this port: a proxy or block page \
                 in the path, or the wrong service."
            } else {
                "A middlebox that filters by server name, or a server that refuses this client, \
                 causes this."
            };
            format!("{target} did not complete a TLS handshake: {worst}. {hint}{purpose}")
        }
        Verdict::Skipped => {
            let reason = j
                .findings
                .iter()
                .find(|f| f.severity == Severity::Info)
                .map(|f| f.message.as_str())
                .unwrap_or("not probed");
            format!("{target} was not checked: {reason}.")
        }
    }
}
