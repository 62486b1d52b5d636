//! Round-trip time estimation shared by the engines.

/// TCP's RTT estimator (RFC 6298): smoothed RTT and its variation from echoed timestamps.
/// The cool-down is `srtt + 4 * rttvar`: it follows the queueing delay of the moment, where
/// the largest RTT ever seen would keep a fast scan waiting for a queue long since drained.
#[derive(Default)]
pub struct RttEstimator {
    srtt: u64,
    rttvar: u64,
}

impl RttEstimator {
    /// Adds one round-trip time, in microseconds.
    pub fn sample(&mut self, us: u64) {
        if self.srtt == 0 {
            self.srtt = us.max(1);
            self.rttvar = us / 2;
        } else {
            let err = self.srtt.abs_diff(us);
            self.rttvar = (3 * self.rttvar + err) / 4;
            self.srtt = (7 * self.srtt + us) / 8;
        }
    }

    /// The retransmission timeout, `srtt + 4 rttvar`, in microseconds (0: no sample yet).
    pub fn rto_us(&self) -> u64 {
        self.srtt + 4 * self.rttvar
    }
}

#[cfg(test)]
mod tests {
    use super::RttEstimator;

    #[test]
    fn rto_follows_the_recent_rtt() {
        let mut e = RttEstimator::default();
        e.sample(1000);
        assert_eq!(e.rto_us(), 1000 + 4 * 500);
        // A queue builds up, then drains: the estimate comes back down with it.
        for _ in 0..50 {
            e.sample(40_000);
        }
        assert!(e.rto_us() >= 40_000);
        for _ in 0..100 {
            e.sample(1000);
        }
        assert!(e.rto_us() < 2000, "{}", e.rto_us());
    }
}
