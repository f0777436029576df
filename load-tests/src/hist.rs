//! A log-linear latency histogram in the spirit of HdrHistogram: exact
//! below 256 µs, then 128 linear sub-buckets per power of two, so any
//! reported percentile is within 0.4% of the true value (bucket midpoint,
//! half a bucket of at most 1/128 relative width) in a few KiB.

/// Linear bits: values below `2^MANTISSA_BITS` get a bucket each.
const MANTISSA_BITS: u32 = 8;
const HALF: u64 = 1 << (MANTISSA_BITS - 1);

/// Latencies in microseconds.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    sum: u128,
    max: u64,
}

fn index_of(v: u64) -> usize {
    if v < (1 << MANTISSA_BITS) {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let shift = msb - MANTISSA_BITS + 1;
    // `v >> shift` lies in [HALF, 2*HALF): buckets of width 2^shift.
    (shift as u64 * HALF + (v >> shift)) as usize
}

/// The value a bucket stands for: its midpoint.
fn value_of(index: usize) -> u64 {
    let i = index as u64;
    if i < (1 << MANTISSA_BITS) {
        return i;
    }
    let shift = i / HALF - 1;
    let mantissa = i - shift * HALF;
    let low = mantissa << shift;
    low + ((1u64 << shift) - 1) / 2
}

impl Histogram {
    /// Records one value (µs).
    pub fn record(&mut self, v: u64) {
        let i = index_of(v);
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.total += 1;
        self.sum += v as u128;
        self.max = self.max.max(v);
    }

    /// Adds another histogram's counts (per-connection histograms merge at the end).
    pub fn merge(&mut self, other: &Histogram) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Largest value recorded, exact.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Mean, exact.
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// The value at percentile `p` (0..=100): the smallest recorded value
    /// with at least `p`% of values at or below it, to bucket precision.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                // Never report beyond what was actually seen.
                return value_of(i).min(self.max);
            }
        }
        self.max
    }
}
