//! Comparing a chain with the baseline recorded for its target: a planned rotation (new leaf, same
//! anchor key, still accepted under the host's rules) is a notice; a substitution (a new anchor, or
//! a chain devices refuse) is `pin_mismatch`, which the policy counts as evidence of interception.

use super::findings::Findings;
use super::judge::ChainFacts;
use super::{Code, Verdict, policy};
use crate::model::baseline::BaselineTarget;
use crate::model::observation::{Observation, Outcome};

pub(super) fn compare(
    entry: &BaselineTarget,
    obs: &Observation,
    j: &ChainFacts,
    found: &mut Findings,
) {
    if j.chain.is_empty() {
        return;
    }
    let when = &entry.recorded_at;
    let changed: Vec<String> = (0..entry.chain.len().max(j.chain.len()))
        .filter_map(|i| {
            let was = entry.chain.get(i).map(|p| p.spki_sha256.as_str());
            let now = j.chain.get(i).map(|f| f.summary.spki_sha256.as_str());
            (was != now).then(|| {
                format!(
                    "{} {}: {} → {}",
                    role(i),
                    i,
                    was.map_or("absent".to_owned(), abbreviated),
                    now.map_or("absent".to_owned(), abbreviated)
                )
            })
        })
        .collect();
    let anchor_same = match (&entry.anchor.spki_sha256, &j.anchor_spki) {
        (Some(was), Some(now)) => was == now,
        _ => entry.anchor.subject == j.anchor,
    };

    if let (Some(was), Outcome::Handshake { params, .. }) = (&entry.tls, &obs.outcome)
        && (was.version != params.version || was.cipher_suite != params.cipher_suite)
    {
        found.warn(
            Code::TlsProfileChanged,
            format!(
                "the TLS profile changed since the baseline of {when}: {} {} → {} {}",
                was.version, was.cipher_suite, params.version, params.cipher_suite
            ),
        );
    }

    if changed.is_empty() && anchor_same {
        found.info(
            Code::PinMatch,
            format!("every key in the chain matches the baseline of {when}"),
        );
        return;
    }
    // A rotation is a chain devices still accept: what the policy makes of the findings so far.
    if anchor_same && policy::verdict(found.as_slice()) == Verdict::Pass {
        found.info(
            Code::PinRotation,
            format!(
                "keys changed since the baseline of {when} ({}), under the same anchor key, and devices still accept the chain: a planned rotation; save a new baseline",
                changed.join("; ")
            ),
        );
        return;
    }
    let why = if anchor_same {
        "and devices refuse the new chain".to_owned()
    } else {
        format!(
            "and the anchor changed from '{}' to '{}'",
            entry.anchor.subject.as_deref().unwrap_or("?"),
            j.anchor.as_deref().unwrap_or("?")
        )
    };
    found.error(
        Code::PinMismatch,
        format!(
            "the chain differs from the baseline of {when} ({}) {why}: a substitution, not a rotation",
            if changed.is_empty() { "same keys".to_owned() } else { changed.join("; ") }
        ),
    );
}

fn role(i: usize) -> &'static str {
    if i == 0 { "leaf" } else { "position" }
}

/// "0123456789ab…": a key as the comparison lists it.
fn abbreviated(hex: &str) -> String {
    format!("{}…", hex.get(..12).unwrap_or(hex))
}
