//! Retry delays: exponential from 1 s, capped at the 15-minute SQS maximum, with up to 20 % jitter.

use std::time::Duration;

use rand::Rng;

const BASE_SECS: u64 = 1;
const CAP_SECS: u64 = 900;

/// Delay before attempt `attempt + 1`, given that `attempt` (1-based) just failed.
pub fn retry_delay(attempt: u32) -> Duration {
    let exp = BASE_SECS.saturating_mul(1u64 << attempt.saturating_sub(1).min(20)).min(CAP_SECS);
    let jitter = rand::thread_rng().gen_range(0..=exp / 5);
    Duration::from_secs((exp + jitter).min(CAP_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        assert!((1..=1).contains(&retry_delay(1).as_secs()));
        assert!((8..=9).contains(&retry_delay(4).as_secs()));
        assert_eq!(retry_delay(30), Duration::from_secs(900));
        assert!(retry_delay(10).as_secs() <= 900);
    }
}
