//! What to fetch for a chain: every OCSP and CRL URL it names, with the request to send for each
//! or the reason it is not fetched.

use std::collections::HashSet;

use rustls_pki_types::CertificateDer;

use super::ocsp::ocsp_request;
use crate::analysis::chain::{self, CertFacts};
use crate::model::observation::{FetchRequest, Observation, PlannedFetch, RevocationKind};

/// URLs of each kind taken from one certificate; more is not what a CA does.
const MAX_URLS_PER_CERT: usize = 4;
/// Certificates of a chain whose revocation is checked; real chains are far shorter.
const MAX_CERTS: usize = 8;

/// The fetches every captured chain among `observations` calls for, in observation and chain
/// order; each names its observation by index.
pub fn plan(observations: &[Observation]) -> Vec<PlannedFetch> {
    observations
        .iter()
        .enumerate()
        .filter_map(|(i, obs)| obs.outcome.captured().map(|c| (i, c)))
        .flat_map(|(i, captured)| plan_chain(i, &captured.chain))
        .collect()
}

/// Every OCSP and CRL URL named by the presented chain, with the request to send for each.
/// The issuer of a certificate is the presented certificate whose subject is its issuer name,
/// preferring the next one in the chain.
fn plan_chain(observation: usize, chain: &[CertificateDer<'_>]) -> Vec<PlannedFetch> {
    let facts: Vec<CertFacts> = chain.iter().take(MAX_CERTS + 1).map(chain::facts).collect();
    let mut out = Vec::new();
    for (i, cert) in facts.iter().enumerate().take(MAX_CERTS) {
        if cert.summary.parse_error.is_some() {
            continue;
        }
        let issuer = find_issuer(&facts, i);
        let mut seen = HashSet::new();
        let urls = cert
            .ocsp_urls
            .iter()
            .take(MAX_URLS_PER_CERT)
            .map(|u| (RevocationKind::Ocsp, u))
            .chain(
                cert.crl_urls
                    .iter()
                    .take(MAX_URLS_PER_CERT)
                    .map(|u| (RevocationKind::Crl, u)),
            );
        for (kind, url) in urls {
            if !seen.insert((kind, url.clone())) {
                continue;
            }
            out.push(PlannedFetch {
                observation,
                kind,
                url: url.clone(),
                cert_sha256: cert.summary.sha256.clone(),
                issuer_sha256: issuer.map(|f| f.summary.sha256.clone()),
                request: request(kind, url, cert, issuer),
            });
        }
    }
    out
}

/// What to send for one URL of `cert`, or why nothing is.
fn request(
    kind: RevocationKind,
    url: &str,
    cert: &CertFacts,
    issuer: Option<&CertFacts>,
) -> FetchRequest {
    if let Some(problem) = scheme_problem(url) {
        return FetchRequest::Skip(problem);
    }
    if cert.self_issued() {
        return FetchRequest::Skip(
            "the certificate is self-issued: a root's revocation is not checked".into(),
        );
    }
    match (kind, issuer) {
        // A CRL is fetched even without its issuer: reaching it is what devices need, and the
        // judgement says the signature could not be checked.
        (RevocationKind::Crl, _) => FetchRequest::Get,
        (RevocationKind::Ocsp, Some(issuer)) => match ocsp_request(cert, issuer) {
            Ok(req) => FetchRequest::Ocsp(req),
            Err(e) => FetchRequest::Skip(format!("no OCSP request could be built: {e}")),
        },
        (RevocationKind::Ocsp, None) => FetchRequest::Skip(format!(
            "the issuer '{}' was not presented by the server, so no OCSP request can be built (it \
             names the issuer's key)",
            cert.issuer_cn
        )),
    }
}

fn find_issuer(facts: &[CertFacts], i: usize) -> Option<&CertFacts> {
    let cert = facts.get(i)?;
    if cert.self_issued() {
        return None;
    }
    let is_issuer = |f: &CertFacts| {
        f.summary.parse_error.is_none()
            && !f.subject_der.is_empty()
            && f.subject_der == cert.issuer_der
    };
    facts.get(i + 1).filter(|f| is_issuer(f)).or_else(|| {
        facts
            .iter()
            .enumerate()
            .find(|(k, f)| *k != i && is_issuer(f))
            .map(|(_, f)| f)
    })
}

fn scheme_problem(url: &str) -> Option<String> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") {
        None
    } else if lower.starts_with("https://") {
        Some(
            "an https:// URL: revocation is fetched over plain HTTP only (fetching it over TLS \
             would itself need a revocation check), so it was not fetched"
                .into(),
        )
    } else {
        let scheme = url.split_once(':').map_or(url, |(s, _)| s);
        Some(format!("a {scheme}: URL: only http:// URLs are fetched"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_is_fetched() {
        assert_eq!(scheme_problem("http://ocsp.example/"), None);
        assert_eq!(scheme_problem("HTTP://ocsp.example/"), None);
        assert!(
            scheme_problem("https://ocsp.example/")
                .unwrap()
                .contains("https://")
        );
        assert_eq!(
            scheme_problem("ldap://dir.example/cn=CA").unwrap(),
            "a ldap: URL: only http:// URLs are fetched"
        );
    }

    #[test]
    fn garbage_plans_nothing() {
        let chain = [CertificateDer::from(vec![1, 2, 3])];
        assert!(plan_chain(0, &chain).is_empty());
    }
}
