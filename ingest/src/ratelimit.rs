//! Token buckets, keyed, with a bounded number of keys.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A token bucket per key: `rate` tokens per second up to `burst`.
#[derive(Debug)]
pub(crate) struct RateLimiter<K> {
    rate: f64,
    burst: f64,
    max_keys: usize,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `rate <= 0` means unlimited.
    pub fn new(rate: f64, burst: f64, max_keys: usize) -> Self {
        RateLimiter { rate, burst: burst.max(rate), max_keys, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes `cost` tokens, or says how long until they would be there.
    pub fn take(&self, key: &K, cost: f64, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= self.max_keys && !buckets.contains_key(key) {
            // Forget the keys whose buckets have refilled: they owe nothing.
            let (rate, burst) = (self.rate, self.burst);
            buckets
                .retain(|_, b| b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst);
            if buckets.len() >= self.max_keys {
                buckets.clear();
            }
        }
        let b = buckets.entry(key.clone()).or_insert(Bucket { tokens: self.burst, at: now });
        b.tokens = (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * self.rate).min(self.burst);
        b.at = now;
        // A batch bigger than the whole burst can still pass once the bucket is full.
        let cost = cost.min(self.burst);
        if b.tokens >= cost {
            b.tokens -= cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((cost - b.tokens) / self.rate))
        }
    }
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// Gives back `cost` tokens taken for a request refused elsewhere.
    pub fn refund(&self, key: &K, cost: f64) {
        if self.rate <= 0.0 {
            return;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = buckets.get_mut(key) {
            b.tokens = (b.tokens + cost.min(self.burst)).min(self.burst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refills_at_rate_and_caps_at_burst() {
        let l = RateLimiter::new(10.0, 20.0, 100);
        let t0 = Instant::now();
        assert!(l.take(&1, 20.0, t0).is_ok());
        let wait = l.take(&1, 5.0, t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(l.take(&2, 5.0, t0).is_ok(), "keys are independent");
        assert!(l.take(&1, 5.0, t0 + Duration::from_millis(500)).is_ok());
        assert!(l.take(&1, 20.0, t0 + Duration::from_secs(100)).is_ok(), "never above burst");
        assert!(l.take(&1, 1.0, t0 + Duration::from_secs(100)).is_err());
        l.refund(&1, 1.0);
        assert!(l.take(&1, 1.0, t0 + Duration::from_secs(100)).is_ok(), "a refund gives the tokens back");
    }

    #[test]
    fn unlimited_and_bounded_keys() {
        let l = RateLimiter::new(0.0, 0.0, 1);
        assert!(l.take(&1, 1e9, Instant::now()).is_ok());
        let l = RateLimiter::new(1.0, 1.0, 2);
        let t = Instant::now();
        for k in 0..1000 {
            assert!(l.take(&k, 1.0, t).is_ok());
        }
        assert!(l.buckets.lock().unwrap().len() <= 2);
    }
}
