//! Addresses checked where the sources document them: for a catalog row with documented networks
//! (`networks` in the catalog, e.g. APNs in 17.0.0.0/8), the addresses its name resolved to that
//! lie outside every one of them. A DNS filter, sinkhole or split-horizon zone that answers for
//! Apple's names with a local box is a common reason push "does not work". The finding is context:
//! the verdict follows what happened on the connection to that address.

use std::net::IpAddr;

use super::findings::Findings;
use super::{Code, Finding, Severity};
use crate::catalog::Network;
use crate::model::observation::Observation;

/// The addresses outside every documented network of their family. An address of a family no
/// network is documented for (IPv6 when only 17.0.0.0/8 is) is not judged.
pub fn outside(networks: &[Network], addresses: &[IpAddr]) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    for &ip in addresses {
        let judged = networks.iter().any(|n| n.same_family(ip));
        if judged && !networks.iter().any(|n| n.contains(ip)) && !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

/// The finding for one observation, if its name resolved outside its row's networks. Only the
/// target's own name counts: not a literal address, a proxy's address, or another host's
/// (`--connect-to`).
pub fn finding(obs: &Observation) -> Option<Finding> {
    let row = obs.target.row.as_ref()?;
    if row.networks.is_empty() {
        return None;
    }
    let by = obs.answered_by?;
    let bad = outside(&row.networks, &obs.addresses);
    if bad.is_empty() {
        return None;
    }
    let addresses: Vec<String> = bad.iter().map(IpAddr::to_string).collect();
    let blocks: Vec<String> = row
        .networks
        .iter()
        .map(|n| format!("{} ({})", n.cidr, n.source))
        .collect();
    Some(Finding::new(
        Code::AddressOutsideDocumentedNetwork,
        Severity::Warning,
        format!(
            "{} was resolved by {by} to {}, outside {}, where the sources document this service: a DNS filter, sinkhole or split-horizon zone may be answering for the name; devices given this answer connect there",
            obs.target.host,
            addresses.join(", "),
            blocks.join(" and ")
        ),
    ))
}

pub(super) fn check(obs: &Observation, found: &mut Findings) {
    if let Some(f) = finding(obs) {
        found.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn addresses_inside_apples_network_are_not_reported() {
        let apns = [Network::parse("17.0.0.0/8", "apns-networking").expect("block")];
        assert!(outside(&apns, &[ip("17.57.146.20"), ip("17.188.182.1")]).is_empty());
        assert_eq!(
            outside(
                &apns,
                &[ip("17.57.146.20"), ip("127.0.0.1"), ip("10.0.0.53")]
            ),
            [ip("127.0.0.1"), ip("10.0.0.53")]
        );
        // 17.0.0.0/8 says nothing about IPv6 addresses.
        assert!(outside(&apns, &[ip("2620:149:a44::1")]).is_empty());
        assert!(outside(&[], &[ip("127.0.0.1")]).is_empty());
        // The edges of the block.
        assert!(outside(&apns, &[ip("17.0.0.0"), ip("17.255.255.255")]).is_empty());
        assert_eq!(
            outside(&apns, &[ip("16.255.255.255"), ip("18.0.0.0")]).len(),
            2
        );
    }
}
