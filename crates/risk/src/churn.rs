//! Age and turnover of a set (research.md, "Eclipse-risk metrics", items 7
//! and 8): an eclipse attacker has to *replace* honest entries, so a young
//! set with high turnover, or one filled mostly from inbound contact, is one
//! being taken over. Bitcoin Core protects long-lived peers on eviction and
//! the discv5 spec rationale favours long-lived entries for the same reason.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The median (mean of the two middle values for an even count), `None` for
/// no values. NaNs sort last.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// `part / whole`, `None` when `whole` is 0.
pub fn ratio(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Window over which turnover is measured.
pub const TURNOVER_WINDOW: Duration = Duration::from_secs(3600);

/// Removals remembered at most: the rate reads at most this many per window
/// (a flood of evictions saturates it rather than growing memory).
pub const TURNOVER_CAPACITY: usize = 16_384;

/// Removals from a set over a sliding window, bounded in memory. Time is
/// passed in.
#[derive(Clone, Debug)]
pub struct Turnover {
    events: VecDeque<Instant>,
    window: Duration,
    capacity: usize,
}

impl Default for Turnover {
    fn default() -> Self {
        Self::new(TURNOVER_WINDOW, TURNOVER_CAPACITY)
    }
}

impl Turnover {
    /// An empty log over `window`, remembering at most `capacity` removals.
    pub fn new(window: Duration, capacity: usize) -> Self {
        Self {
            events: VecDeque::new(),
            window,
            capacity: capacity.max(1),
        }
    }

    /// Records `n` removals at `at`.
    pub fn record(&mut self, at: Instant, n: usize) {
        for _ in 0..n {
            if self.events.len() == self.capacity {
                self.events.pop_front();
            }
            self.events.push_back(at);
        }
    }

    /// Removals per hour: those in the last window, divided by the window, or
    /// by the time since `since` (the start of observation) when that is
    /// shorter — but never by less than one minute, so that the first
    /// seconds do not extrapolate a handful of removals into thousands.
    pub fn per_hour(&mut self, now: Instant, since: Instant) -> f64 {
        while let Some(&front) = self.events.front() {
            if now.saturating_duration_since(front) > self.window {
                self.events.pop_front();
            } else {
                break;
            }
        }
        let observed = now
            .saturating_duration_since(since)
            .min(self.window)
            .max(Duration::from_secs(60));
        self.events.len() as f64 * 3600.0 / observed.as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median([]), None);
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn turnover_counts_the_window_only() {
        let t0 = Instant::now();
        let mut t = Turnover::new(Duration::from_secs(3600), 100);
        t.record(t0, 10);
        // After two hours, 10 removals at t0 have left the window.
        t.record(t0 + Duration::from_secs(5400), 6);
        let rate = t.per_hour(t0 + Duration::from_secs(7200), t0);
        assert_eq!(rate, 6.0);
        // Observed for 30 minutes only: 6 in half an hour is 12 per hour.
        let rate = t.per_hour(
            t0 + Duration::from_secs(7200),
            t0 + Duration::from_secs(5400),
        );
        assert_eq!(rate, 12.0);
    }

    #[test]
    fn turnover_is_bounded() {
        let t0 = Instant::now();
        let mut t = Turnover::new(Duration::from_secs(3600), 5);
        t.record(t0, 50);
        assert_eq!(t.events.len(), 5);
        // One minute is the shortest observation: 5 per minute = 300/h.
        assert_eq!(t.per_hour(t0, t0), 300.0);
    }
}
