//! When a failed delivery is tried again: the backoff schedule, as data.
//!
//! After the first attempt fails: 1 min, 5 min, 30 min, 2 h, 5 h, 10 h, then every 12 h, each ±10% jitter so
//! a receiver that comes back up is not hit by every queued event at the same second. A delivery still
//! failing 3 days after its event is marked failed.

use rand::RngExt;
use satang_domain::Timestamp;

/// Seconds to wait after the n-th failed attempt (index 0 = after the first).
pub const BACKOFF_SECONDS: &[i64] = &[60, 300, 1_800, 7_200, 18_000, 36_000];
/// Waits after the schedule above runs out.
pub const THEN_EVERY_SECONDS: i64 = 12 * 3_600;
/// No attempt is made later than this after the delivery was queued.
pub const GIVE_UP_AFTER_SECONDS: i64 = 3 * 86_400;
/// A delivery attempt that takes longer has failed.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The wait after `failed_attempts` failures, before jitter.
pub fn base_delay(failed_attempts: u32) -> i64 {
    let i = failed_attempts.saturating_sub(1) as usize;
    BACKOFF_SECONDS.get(i).copied().unwrap_or(THEN_EVERY_SECONDS)
}

/// When to try again after `failed_attempts` failures, or `None` to give up.
pub fn next_attempt(queued_at: Timestamp, failed_attempts: u32, now: Timestamp) -> Option<Timestamp> {
    let base = base_delay(failed_attempts);
    let jitter = rand::rng().random_range(-(base / 10)..=base / 10);
    let at = now.plus_seconds(base + jitter);
    (at.unix() - queued_at.unix() <= GIVE_UP_AFTER_SECONDS).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_grows_then_repeats_every_12_hours() {
        let waits: Vec<i64> = (1..=9).map(base_delay).collect();
        assert_eq!(waits, vec![60, 300, 1_800, 7_200, 18_000, 36_000, 43_200, 43_200, 43_200]);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let t0 = Timestamp::from_unix(1_000_000);
        for n in 1..=7 {
            for _ in 0..200 {
                let at = next_attempt(t0, n, t0).unwrap().unix() - t0.unix();
                let base = base_delay(n);
                assert!((base - base / 10..=base + base / 10).contains(&at), "attempt {n}: {at}");
            }
        }
    }

    #[test]
    fn gives_up_three_days_after_queueing() {
        let t0 = Timestamp::from_unix(1_000_000);
        let late = t0.plus_seconds(GIVE_UP_AFTER_SECONDS - 3_600);
        assert_eq!(next_attempt(t0, 9, late), None);
        assert!(next_attempt(t0, 1, t0).is_some());
    }
}
