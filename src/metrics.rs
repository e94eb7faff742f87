//! What the page plots: the run sampled at fixed moments of virtual time, and how long
//! writes took to reach every replica.
//!
//! Samples are part of the run's state, so going back in time shows the plots as they were,
//! and the same run always has the same samples. Sample `i` describes the cluster at virtual
//! time `i × interval`: it is taken as the clock moves onto or past that moment, so it holds
//! every event handled and every command given before it, and nothing of the moment itself.
//! The series stays
//! short as a run grows: past [`MAX_SAMPLES`], every other sample goes and the interval
//! doubles. Counters are running totals, so thinning loses no message; a plot of a rate
//! takes differences.

use serde::Serialize;

use crate::chunked::Chunked;
use crate::ids::Time;

/// Milliseconds between samples at first.
pub const FIRST_INTERVAL: Time = 100;
/// The most samples kept; then every other one goes and the interval doubles.
pub const MAX_SAMPLES: usize = 2048;

/// Upper bounds (exclusive, in milliseconds) of the buckets of time to reach every replica;
/// a last bucket holds everything slower.
pub const CONVERGENCE_BUCKETS_MS: [Time; 14] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 60_000,
];

/// The cluster at one moment. Counts of messages and requests are running totals since the
/// run began; the last two fields are the state at that moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// Writes sent to replicas (fire-and-forget, coordinated or gossiped).
    pub replicate: u64,
    /// Coordinator reads, acknowledgements and replies.
    pub requests: u64,
    /// Read repairs.
    pub repair: u64,
    /// Hinted writes and handoffs.
    pub hint: u64,
    /// Anti-entropy requests and replies.
    pub anti_entropy: u64,
    /// Message copies dropped, for any reason.
    pub dropped: u64,
    /// Client writes.
    pub writes: u64,
    /// Client reads.
    pub reads: u64,
    /// Of which returned something older than the newest write of their key.
    pub stale_reads: u64,
    /// Client requests answered "unavailable", "timed out" or "refused".
    pub failed: u64,
    /// Replicas (a key on a node) that do not reflect the newest write of their key: the
    /// cells the page marks ≠, down nodes included.
    pub stale_replicas: u32,
    /// Keys with at least one such replica.
    pub divergent_keys: u32,
}

impl Sample {
    /// The fields in order, as numbers (the page receives samples flat).
    pub const FIELDS: usize = 12;

    /// The fields in the order of [`Self::FIELDS`].
    pub fn values(&self) -> [f64; Self::FIELDS] {
        [
            self.replicate as f64,
            self.requests as f64,
            self.repair as f64,
            self.hint as f64,
            self.anti_entropy as f64,
            self.dropped as f64,
            self.writes as f64,
            self.reads as f64,
            self.stale_reads as f64,
            self.failed as f64,
            f64::from(self.stale_replicas),
            f64::from(self.divergent_keys),
        ]
    }
}

/// The sampled series and the histogram of time to convergence.
#[derive(Clone, Debug)]
pub struct Metrics {
    interval: Time,
    /// The moment of the next sample.
    next: Time,
    /// In shared chunks: a snapshot of the run copies pointers.
    samples: Chunked<Sample>,
}

/// Writes by how long they took to reach every replica of their key: one count per bucket of
/// [`CONVERGENCE_BUCKETS_MS`], and a last one for slower writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConvergenceTimes {
    counts: [u32; CONVERGENCE_BUCKETS_MS.len() + 1],
}

impl ConvergenceTimes {
    /// A write reached every replica of its key `ms` milliseconds after it was made.
    pub fn add(&mut self, ms: Time) {
        let bucket = CONVERGENCE_BUCKETS_MS.partition_point(|&bound| bound <= ms);
        self.counts[bucket] += 1;
    }

    /// The counts, bucket by bucket.
    pub fn counts(&self) -> &[u32] {
        &self.counts
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut metrics = Metrics {
            interval: FIRST_INTERVAL,
            next: 0,
            samples: Chunked::new(256),
        };
        // Moment 0: an empty cluster, before anything happened.
        metrics.record(0, Sample::default());
        metrics
    }
}

impl Metrics {
    /// Whether a sample is due when the clock moves to `to`.
    #[inline]
    pub fn due(&self, to: Time) -> bool {
        to >= self.next
    }

    /// Records `sample` for every sample moment up to `to` not yet recorded (nothing happened
    /// between them: the cluster was the same at each).
    pub fn record(&mut self, to: Time, sample: Sample) {
        while self.next <= to {
            self.samples.push(sample);
            self.next += self.interval;
            if self.samples.len() >= MAX_SAMPLES {
                self.thin();
            }
        }
    }

    /// Keeps every other sample (those at even multiples of the interval) and doubles it.
    fn thin(&mut self) {
        let mut kept = Chunked::new(256);
        for sample in self.samples.iter().step_by(2) {
            kept.push(*sample);
        }
        self.samples = kept;
        self.interval *= 2;
        self.next = self.samples.len() as Time * self.interval;
    }

    /// Milliseconds between samples.
    pub fn interval(&self) -> Time {
        self.interval
    }

    /// The samples recorded, oldest first (sample `i` at `i × interval`).
    pub fn samples(&self) -> impl Iterator<Item = &Sample> + '_ {
        self.samples.iter()
    }

    /// How many samples are recorded.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(writes: u64) -> Sample {
        Sample {
            writes,
            ..Sample::default()
        }
    }

    #[test]
    fn a_quiet_stretch_repeats_the_state_at_every_moment_in_it() {
        let mut m = Metrics::default();
        m.record(350, sample(3));
        let writes: Vec<u64> = m.samples().map(|s| s.writes).collect();
        assert_eq!(writes, [0, 3, 3, 3], "samples at 0, 100, 200, 300 ms");
        assert!(!m.due(399) && m.due(400));
    }

    #[test]
    fn thinning_keeps_even_moments_and_doubles_the_interval() {
        let mut m = Metrics::default();
        // Sample i holds i writes, so what is kept shows which moments survived.
        for i in 1..MAX_SAMPLES as u64 {
            m.record(i * FIRST_INTERVAL, sample(i));
        }
        assert_eq!(m.interval(), 2 * FIRST_INTERVAL);
        assert_eq!(m.len(), MAX_SAMPLES / 2);
        assert!(
            m.samples()
                .enumerate()
                .all(|(j, s)| s.writes == 2 * j as u64),
            "sample j is the one taken at j × the new interval"
        );
        assert!(m.due(MAX_SAMPLES as Time * FIRST_INTERVAL));
        assert!(!m.due(MAX_SAMPLES as Time * FIRST_INTERVAL - 1));
    }

    #[test]
    fn a_long_quiet_stretch_stays_short() {
        let mut m = Metrics::default();
        m.record(24 * 60 * 60 * 1000, sample(1));
        assert!(m.len() < MAX_SAMPLES);
        assert!(m.interval() >= 24 * 60 * 60 * 1000 / MAX_SAMPLES as Time);
    }

    #[test]
    fn convergence_buckets_are_bounded_above() {
        let mut times = ConvergenceTimes::default();
        for ms in [0, 1, 4, 5, 59_999, 60_000, 1_000_000] {
            times.add(ms);
        }
        let c = times.counts();
        assert_eq!((c[0], c[1], c[2], c[3]), (1, 1, 1, 1), "0 | 1 | 4 | 5");
        assert_eq!(c[13], 1, "59,999 below a minute");
        assert_eq!(c[14], 2, "a minute and more");
    }
}
