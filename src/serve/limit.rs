//! Request rate limits: a token bucket per kind of request. A scrape every few seconds never comes
//! near them; a loop hammering the port gets 429s instead of the machine's CPU (`/probe` opens
//! connections to other hosts and bcrypt checks are slow, so both are bounded).

use std::sync::Mutex;
use std::time::Instant;

/// Tokens refilled at `rate` per second up to `burst`; each request takes one.
#[derive(Debug)]
pub struct Bucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes a token if there is one.
    pub fn take(&self) -> bool {
        // A poisoned lock only means another request panicked mid-update: the numbers are
        // still numbers.
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tokens, at) = &mut *state;
        let now = Instant::now();
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refused() {
        let b = Bucket::new(0.001, 3.0);
        assert!(b.take() && b.take() && b.take());
        assert!(!b.take());
    }
}
