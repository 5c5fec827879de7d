//! Turning a verdict and its findings into what an admin reads: what the device demands, what the
//! chain here is, what that breaks, and what to change.

use super::apple::PinningResult;
use super::findings::Findings;
use super::judge::ChainFacts;
use super::policy::Decision;
use super::{Code, Context, Severity, Verdict};
use crate::model::observation::Observation;

pub(super) fn explain(
    obs: &Observation,
    found: &Findings,
    j: &ChainFacts,
    decision: &Decision,
    ctx: &Context<'_>,
) -> String {
    let target = obs.target.label();
    let host = &obs.target.host;
    let listed = purpose(obs, ctx);
    // For drops: ", which breaks what Apple lists it for: …"; for other failures, a sentence.
    let purpose = listed
        .as_ref()
        .map(|(who, what)| format!(", which breaks what {who} lists it for: {what}"))
        .unwrap_or_default();
    let listed = listed
        .map(|(who, what)| format!(" {who} lists it for: {what}."))
        .unwrap_or_default();
    if let Some(text) = super::services::explain(obs, found, decision, &listed) {
        return text;
    }
    let worst = found
        .as_slice()
        .iter()
        .rev()
        .max_by_key(|f| f.severity)
        .map(|f| f.message.as_str())
        .unwrap_or("");
    let pin = j.pinning.as_ref().map(|p| pin_clause(host, p, ctx));
    if let Some(text) = agent_pinned(obs, found, j, decision, worst) {
        return text;
    }
    match decision.verdict {
        Verdict::Pass => {
            let anchor = j
                .anchor
                .as_deref()
                .map(|a| format!(" and ends at '{a}'"))
                .unwrap_or_default();
            let mut text = match &pin {
                Some(pin) => format!(
                    "{pin} The chain {target} presented satisfies that{anchor}: devices accept it, and nothing on this path re-signed the connection."
                ),
                None => format!(
                    "{target} presented a chain Apple devices accept{anchor}. Nothing on this path re-signed the connection."
                ),
            };
            if let Some(w) = found.get(Code::TransparentConnectionAllowed) {
                return format!(
                    "{target} is inspected, and devices accept it only because of an MDM \
                     allowance: {}. Devices without that profile drop the connection{purpose}; to \
                     leave it untouched, exempt {target} from SSL inspection.",
                    w.message
                );
            }
            if let Some(w) = found.get(Code::UnexpectedIssuer) {
                text.push_str(&format!(" Note: {}.", w.message));
            }
            text
        }
        Verdict::Intercepted if decision.by_baseline_alone => {
            // The chain is one devices accept; what makes it suspect is that it is not the one
            // recorded when the network was clean.
            let change = found
                .get(Code::PinMismatch)
                .map_or("", |f| f.message.as_str());
            format!(
                "{target} now presents a chain devices accept, but not the one the baseline recorded: {change}. If this change was not planned, something on the path re-issues the certificate: exempt {target} from SSL inspection. If it was planned, save a new baseline."
            )
        }
        Verdict::Intercepted => {
            let (signer, product) = signer_and_product(j, decision);
            let copied =
                if found.has(Code::AppleNamesCopied) || found.has(Code::IssuerSignatureMismatch) {
                    " It carries names of CAs devices trust, but not their keys."
                } else {
                    ""
                };
            let chain = match pin {
                Some(p) => format!("{p} The chain here"),
                None => format!("The chain {target} presented"),
            };
            // Where Apple's policy allows a transparent-connection pin, that is the other way out.
            let exempt = if transparent_allowed(j, ctx) {
                format!(
                    "Exempt {target} from SSL inspection, or, since Apple's policy for this host \
                     allows it, install an MDM profile on your devices whose transparent-connection \
                     pin names the inspection CA's key (check it with --transparent-ca)."
                )
            } else {
                format!("Exempt {target} from SSL inspection.")
            };
            format!(
                "{chain} ends at '{signer}'{product}, which no public or Apple root trusts.{copied} Devices drop this connection{purpose}. {exempt}"
            )
        }
        Verdict::Untrusted if found.has(Code::PinningFailed) => {
            let lead = pin.unwrap_or_default();
            let failure = j
                .pinning
                .as_ref()
                .and_then(PinningResult::closest_failure)
                .unwrap_or(worst);
            format!(
                "{lead} The chain here fails it: {failure}. Devices refuse it{purpose}; no sign of interception was found, so check what serves {host} on this network."
            )
        }
        Verdict::Untrusted => format!(
            "{target} presented a chain that devices will not accept: {worst}. No sign of \
             interception was found; check the server, or what answers for it on this network.{listed}"
        ),
        Verdict::Blocked => format!(
            "{target} could not be reached: {worst}. Allow outbound {} {} to {host} on the \
             firewall or proxy.{}",
            obs.target.transport.to_string().to_uppercase(),
            obs.target.port,
            listed
        ),
        Verdict::Timeout => format!(
            "{target} did not answer in time: {worst}. A firewall that silently drops the \
             traffic looks like this; allow outbound {} {} to {host}.{}",
            obs.target.transport.to_string().to_uppercase(),
            obs.target.port,
            listed
        ),
        Verdict::DnsError => format!(
            "{host} does not resolve from here: {worst}. Devices cannot reach it; check DNS \
             filtering and the resolver in use.{}",
            listed
        ),
        Verdict::TlsError => {
            let hint = if found.has(Code::NotTls) {
                "Something that is not a TLS server answers on this port: a proxy or block page \
                 in the path, or the wrong service."
            } else {
                "A middlebox that filters by server name, or a server that refuses this client, \
                 causes this."
            };
            format!(
                "{target} did not complete a TLS handshake: {worst}. {hint}{}",
                listed
            )
        }
        Verdict::ProxyError => format!(
            "{target} could not be reached through the proxy {}: {worst}. Fix the proxy's policy for {host}, or exempt it from the proxy.{listed}",
            obs.proxy.as_deref().unwrap_or("in use")
        ),
        Verdict::ProtocolError => format!(
            "{target} answered, but not with the protocol devices expect: {worst}. Something in the path answers in its place.{listed}"
        ),
        Verdict::Skipped => {
            let reason = found
                .as_slice()
                .iter()
                .find(|f| f.severity == Severity::Info)
                .map(|f| f.message.as_str())
                .unwrap_or("not probed");
            format!("{target} was not checked: {reason}.")
        }
    }
}

/// Whether Apple's pinning policy for this host lets an MDM profile allow an inspection CA.
fn transparent_allowed(j: &ChainFacts, ctx: &Context<'_>) -> bool {
    j.pinning
        .as_ref()
        .and_then(|p| ctx.knowledge.pinning.by_name(&p.policy))
        .is_some_and(|p| p.transparent_connection)
}

/// The CA a forged chain ends at, and " (Product)" when the product is known and the CA's name
/// does not already say it.
fn signer_and_product<'a>(j: &'a ChainFacts, decision: &Decision) -> (&'a str, String) {
    let signer = j.anchor.as_deref().unwrap_or("a CA that is not public");
    let product = decision
        .interception
        .as_ref()
        .and_then(|i| i.product.as_deref())
        .filter(|p| {
            !signer
                .to_ascii_lowercase()
                .contains(&p.to_ascii_lowercase())
        })
        .map(|p| format!(" ({p})"))
        .unwrap_or_default();
    (signer, product)
}

/// For hosts an MDM agent pins (a Kandji tenant's device domains), the explanation speaks to the
/// admin troubleshooting that agent: what the agent does, and which domains to exempt together.
fn agent_pinned(
    obs: &Observation,
    found: &Findings,
    j: &ChainFacts,
    decision: &Decision,
    worst: &str,
) -> Option<String> {
    let row = obs.target.row.as_ref()?;
    let agent = row.pinned_by.as_deref()?;
    let host = &obs.target.host;
    let domains = std::iter::once(host.as_str())
        .chain(row.pinned_with.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" and ");
    // What to exempt, to follow "Exempt" or "exempt".
    let what = if row.pinned_with.is_empty() {
        format!("{host} from SSL inspection.")
    } else {
        format!("both device domains from SSL inspection: {domains}.")
    };
    let stalls = "devices stop checking in with the tenant, so MDM commands, Library items and \
                  agent updates stall until the connection is direct";
    match decision.verdict {
        Verdict::Intercepted => {
            let (signer, product) = signer_and_product(j, decision);
            Some(format!(
                "The {agent} pins {host} and refuses any other certificate; the chain here ends at '{signer}'{product}, so the agent drops the connection and {stalls}. Exempt {what}"
            ))
        }
        Verdict::Untrusted => Some(format!(
            "The {agent} pins {host} and will not accept this chain ({worst}); {stalls}. No sign of interception was found: check what serves {host} on this network. Exempt {what}"
        )),
        Verdict::Pass if found.has(Code::UnexpectedIssuer) => Some(format!(
            "{host} presented a publicly valid chain, but not from the CA this tenant's domains use: the {agent} pins these domains and may refuse it. If something on this network re-issues the certificate, exempt {what}"
        )),
        _ => None,
    }
}

/// "Apple devices pin gdmf.apple.com (policy Pallas) to Apple Root CA with an Apple-marked
/// intermediate."
fn pin_clause(host: &str, result: &PinningResult, ctx: &Context<'_>) -> String {
    let demand = ctx
        .knowledge
        .pinning
        .by_name(&result.policy)
        .map(PinningResult::demand)
        .unwrap_or_else(|| "a pinned chain".into());
    format!(
        "Apple devices pin {host} (policy {}) to {demand}.",
        result.policy
    )
}

/// Who lists this row (`data/catalog_sources.toml`) and what for, when the catalog row says.
fn purpose<'k>(obs: &Observation, ctx: &Context<'k>) -> Option<(&'k str, String)> {
    let row = obs.target.row.as_ref()?;
    let description = row.description.trim().trim_end_matches('.');
    if description.is_empty() {
        return None;
    }
    let lister = ctx.knowledge.sources.lister(&row.source, &row.section);
    Some((lister, description.to_owned()))
}
