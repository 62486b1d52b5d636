//! Probe pacing for `--rate`: a generic cell-rate algorithm with a 5 ms burst allowance, so
//! any window of `w` seconds carries at most `rate × (w + 0.005)` probes (≤ 1.05× the rate
//! over 100 ms) while the long-run average is exact.

use std::time::{Duration, Instant};

/// Burst allowance: how far ahead of schedule a sender may run.
const BURST: Duration = Duration::from_millis(5);

/// Paces probes to at most `rate` per second; unlimited when built with `None`.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    interval_ns: u64,
    start: Instant,
    /// Theoretical arrival time of the next probe, in ns since `start`.
    tat_ns: u64,
}

impl RateLimiter {
    /// A limiter for `rate` probes per second (`None`: no limit); below one per second the
    /// gap between probes is `1/rate` seconds (`--scan-delay`).
    pub fn new(rate: Option<f64>) -> RateLimiter {
        RateLimiter {
            interval_ns: rate
                .filter(|r| r.is_finite() && *r > 0.0)
                .map(|r| ((1e9 / r) as u64).max(1))
                .unwrap_or(0),
            start: Instant::now(),
            tat_ns: 0,
        }
    }

    /// True when there is no limit.
    pub fn unlimited(&self) -> bool {
        self.interval_ns == 0
    }

    /// Books `n` probes if they may go at `now`; otherwise returns how long to wait.
    pub fn try_acquire(&mut self, now: Instant, n: u64) -> Result<(), Duration> {
        if self.interval_ns == 0 {
            return Ok(());
        }
        let now_ns = now.saturating_duration_since(self.start).as_nanos() as u64;
        let burst = BURST.as_nanos() as u64;
        let tat = self.tat_ns.max(now_ns);
        let after = tat + self.interval_ns * n;
        // A group larger than the burst allowance leaves once the schedule has caught up.
        if after > now_ns + burst + self.interval_ns && tat > now_ns {
            let wait = (after - (now_ns + burst + self.interval_ns)).min(tat - now_ns);
            return Err(Duration::from_nanos(wait.max(1000)));
        }
        self.tat_ns = after;
        Ok(())
    }
}

/// A limiter engines running at once draw on (discovery beside the port scan), so that
/// `--rate` bounds the probes of all of them together.
#[derive(Debug, Clone)]
pub struct SharedLimiter(std::sync::Arc<std::sync::Mutex<RateLimiter>>);

impl SharedLimiter {
    /// A shared limiter for `rate` probes per second.
    pub fn new(rate: f64) -> SharedLimiter {
        SharedLimiter(std::sync::Arc::new(std::sync::Mutex::new(
            RateLimiter::new(Some(rate)),
        )))
    }

    fn try_acquire(&self, now: Instant, n: u64) -> Result<(), Duration> {
        match self.0.lock() {
            Ok(mut l) => l.try_acquire(now, n),
            // A sender that panicked holding it: pace on what it left.
            Err(p) => p.into_inner().try_acquire(now, n),
        }
    }
}

/// What a sender paces with: its own limiter, or one shared with the engines beside it.
#[derive(Debug, Clone)]
pub enum Pace {
    /// This sender's own budget.
    Own(RateLimiter),
    /// A budget shared with other engines.
    Shared(SharedLimiter),
    /// This sender's own lower budget (congestion control, a rate limit's pace), inside the
    /// shared one.
    Both(RateLimiter, SharedLimiter),
}

impl Pace {
    /// True when there is no limit.
    pub fn unlimited(&self) -> bool {
        match self {
            Pace::Own(l) => l.unlimited(),
            Pace::Shared(_) | Pace::Both(..) => false,
        }
    }

    /// Books `n` probes if they may go at `now`; otherwise returns how long to wait.
    pub fn try_acquire(&mut self, now: Instant, n: u64) -> Result<(), Duration> {
        match self {
            Pace::Own(l) => l.try_acquire(now, n),
            Pace::Shared(s) => s.try_acquire(now, n),
            // The own budget is booked first: when the shared one then says wait, the own
            // is a little behind, so the sender errs slow, never fast.
            Pace::Both(own, s) => {
                own.try_acquire(now, n)?;
                s.try_acquire(now, n)
            }
        }
    }
}

/// A rate as people read it: `850/s`, `20.2k/s`, `1.41M/s`.
pub fn human(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2}M/s", r / 1e6)
    } else if r >= 1e4 {
        format!("{:.1}k/s", r / 1e3)
    } else if r >= 1e3 {
        format!("{:.2}k/s", r / 1e3)
    } else if r >= 10.0 {
        format!("{r:.0}/s")
    } else {
        format!("{r:.2}/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_waits() {
        let mut r = RateLimiter::new(None);
        for _ in 0..1000 {
            assert!(r.try_acquire(Instant::now(), 1).is_ok());
        }
    }

    #[test]
    fn counts_at_most_rate_plus_burst_in_a_window() {
        let mut r = RateLimiter::new(Some(1000.0));
        let t0 = r.start;
        let mut sent = 0;
        // Simulated clock: try every 10 µs for 100 ms.
        for step in 0..10_000u64 {
            let now = t0 + Duration::from_micros(step * 10);
            if r.try_acquire(now, 1).is_ok() {
                sent += 1;
            }
        }
        // 100 probes for 100 ms plus at most 5 ms (+1) of burst.
        assert!((100..=106).contains(&sent), "{sent}");
    }

    #[test]
    fn fractional_rates_space_probes_out() {
        // --scan-delay 2s: one probe, then nothing for two seconds.
        let mut r = RateLimiter::new(Some(0.5));
        let t0 = r.start;
        assert!(r.try_acquire(t0, 1).is_ok());
        let wait = r.try_acquire(t0, 1).unwrap_err();
        assert!(wait > Duration::from_millis(1900), "{wait:?}");
        assert!(r.try_acquire(t0 + Duration::from_secs(2), 1).is_ok());
    }

    #[test]
    fn rates_read_as_people_write_them() {
        assert_eq!(human(20_192.880_6), "20.2k/s");
        assert_eq!(human(1_412_000.0), "1.41M/s");
        assert_eq!(human(1500.0), "1.50k/s");
        assert_eq!(human(850.4), "850/s");
        assert_eq!(human(0.5), "0.50/s");
    }
}
