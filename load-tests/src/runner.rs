//! The timed run: `connections` keep-alive connections pull due batches
//! from one schedule. A session has at most one batch in flight, and its
//! next batch is scheduled only once the previous one was answered, so
//! each session's batches arrive in order, as from one browser tab.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Notify;

use crate::hist::Histogram;
use crate::http::{Conn, Target};
use crate::plan::PlannedSession;

/// How the run behaves.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Connections.
    pub connections: usize,
    /// Retries of one batch after 429/503 or a transport error.
    pub max_retries: u32,
    /// Stop starting new batches after this long (unpaced runs).
    pub deadline: Option<Duration>,
    /// Longest `Retry-After` honoured, so a misbehaving server cannot stall the run.
    pub max_retry_wait: Duration,
}

/// What the run measured.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Send-to-202 latency, µs.
    pub latency: Histogram,
    /// Batches answered 202.
    pub acked_batches: u64,
    /// `accepted` summed over 202 answers.
    pub acked_events: u64,
    /// Non-202 answers by status.
    pub rejects_by_status: BTreeMap<u16, u64>,
    /// Non-202 answers by `reason`.
    pub rejects_by_reason: BTreeMap<String, u64>,
    /// Events the server dropped inside accepted batches, by reason.
    pub dropped_by_reason: BTreeMap<String, u64>,
    /// Strings the server truncated.
    pub truncated: u64,
    /// Connect, write or read failures.
    pub transport_errors: u64,
    /// Batches sent again after 429/503 or a transport error.
    pub retries: u64,
    /// Batches never acknowledged (rejected for good or out of retries).
    pub lost_batches: u64,
    /// Batches never sent because the deadline passed.
    pub unsent_batches: u64,
    /// Request bytes written.
    pub bytes_sent: u64,
    /// How late (vs. schedule) the latest batch went out, ms.
    pub max_behind_ms: u64,
    /// Batches sent more than a second behind schedule.
    pub behind_1s: u64,
    /// First send to last answer.
    pub elapsed: Duration,
}

impl Stats {
    fn merge(&mut self, o: &Stats) {
        self.latency.merge(&o.latency);
        self.acked_batches += o.acked_batches;
        self.acked_events += o.acked_events;
        for (k, v) in &o.rejects_by_status {
            *self.rejects_by_status.entry(*k).or_default() += v;
        }
        for (map, other) in [
            (&mut self.rejects_by_reason, &o.rejects_by_reason),
            (&mut self.dropped_by_reason, &o.dropped_by_reason),
        ] {
            for (k, v) in other {
                *map.entry(k.clone()).or_default() += v;
            }
        }
        self.truncated += o.truncated;
        self.transport_errors += o.transport_errors;
        self.retries += o.retries;
        self.lost_batches += o.lost_batches;
        self.unsent_batches += o.unsent_batches;
        self.bytes_sent += o.bytes_sent;
        self.max_behind_ms = self.max_behind_ms.max(o.max_behind_ms);
        self.behind_1s += o.behind_1s;
    }
}

/// The result of a run: the measurements, and for each session whether
/// every batch carrying its injected pattern was acknowledged.
#[derive(Debug)]
pub struct Outcome {
    /// Measurements.
    pub stats: Stats,
    /// Per session: the pattern reached the server durably.
    pub pattern_delivered: Vec<bool>,
}

/// A batch waiting for its time: `(due ms, tie-break, session, attempt)`.
/// The tie-break keeps equal-due items first-in first-out, which makes
/// unpaced runs a round robin over sessions.
type Item = Reverse<(u64, u64, u32, u32)>;

struct Sched {
    heap: BinaryHeap<Item>,
    tie: u64,
    in_flight: usize,
    next_batch: Vec<usize>,
    pattern_lost: Vec<bool>,
    stopped: bool,
}

impl Sched {
    fn push(&mut self, due: u64, session: u32, attempt: u32) {
        self.tie += 1;
        self.heap.push(Reverse((due, self.tie, session, attempt)));
    }
}

struct Shared {
    sessions: Vec<PlannedSession>,
    sched: Mutex<Sched>,
    notify: Notify,
    start: Instant,
    target: Target,
    cfg: RunConfig,
}

/// The 202 body; only what is counted.
#[derive(Deserialize)]
struct Accepted {
    accepted: u64,
    #[serde(default)]
    dropped: Vec<DroppedEntry>,
    #[serde(default)]
    truncated: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct DroppedEntry {
    reason: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    reason: String,
}

enum Verdict {
    Acked,
    Retry(Duration),
    Lost,
}

/// Runs the plan to completion (or to the deadline).
pub async fn run(
    sessions: Vec<PlannedSession>,
    target: Target,
    cfg: RunConfig,
) -> (Outcome, Vec<PlannedSession>) {
    let n = sessions.len();
    let mut sched = Sched {
        heap: BinaryHeap::with_capacity(n),
        tie: 0,
        in_flight: 0,
        next_batch: vec![0; n],
        pattern_lost: vec![false; n],
        stopped: false,
    };
    for (i, s) in sessions.iter().enumerate() {
        if let Some(b) = s.batches.first() {
            sched.push(b.due_ms, i as u32, 0);
        }
    }
    let shared = Arc::new(Shared {
        sessions,
        sched: Mutex::new(sched),
        notify: Notify::new(),
        start: Instant::now(),
        target,
        cfg: cfg.clone(),
    });
    let workers: Vec<_> =
        (0..cfg.connections.max(1)).map(|_| tokio::spawn(worker(Arc::clone(&shared)))).collect();
    let mut stats = Stats::default();
    for w in workers {
        match w.await {
            Ok(s) => stats.merge(&s),
            Err(e) => eprintln!("warning: a connection task failed: {e}"),
        }
    }
    stats.elapsed = shared.start.elapsed();
    let shared = Arc::into_inner(shared).expect("all workers have finished");
    let sched = shared.sched.into_inner().expect("no worker panicked holding the lock");
    let pattern_delivered = shared
        .sessions
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.pattern_batches.as_ref().is_some_and(|r| !sched.pattern_lost[i] && sched.next_batch[i] >= r.end)
        })
        .collect();
    (Outcome { stats, pattern_delivered }, shared.sessions)
}

async fn worker(shared: Arc<Shared>) -> Stats {
    let mut stats = Stats::default();
    let mut conn: Option<Conn> = None;
    loop {
        // Take the earliest due batch, or wait for one to be scheduled.
        let item = loop {
            let notified = shared.notify.notified();
            {
                let mut s = shared.sched.lock().expect("scheduler lock");
                if !s.stopped {
                    if let Some(deadline) = shared.cfg.deadline {
                        if shared.start.elapsed() >= deadline {
                            // Sessions past the deadline just end, as when a tab closes.
                            s.stopped = true;
                            let left: usize = std::mem::take(&mut s.heap)
                                .into_iter()
                                .map(|Reverse((_, _, sess, _))| {
                                    shared.sessions[sess as usize].batches.len() - s.next_batch[sess as usize]
                                })
                                .sum();
                            stats.unsent_batches += left as u64;
                        }
                    }
                }
                if let Some(Reverse(it)) = s.heap.pop() {
                    s.in_flight += 1;
                    break Some(it);
                }
                if s.in_flight == 0 {
                    break None;
                }
            }
            notified.await;
        };
        let Some((due, _, session, attempt)) = item else {
            // Everything is done: wake the others so they see it too.
            shared.notify.notify_waiters();
            return stats;
        };
        let due_at = shared.start + Duration::from_millis(due);
        let now = Instant::now();
        if due_at > now {
            tokio::time::sleep_until(due_at.into()).await;
        } else if due > 0 && attempt == 0 {
            let behind = now.duration_since(due_at).as_millis() as u64;
            stats.max_behind_ms = stats.max_behind_ms.max(behind);
            stats.behind_1s += u64::from(behind > 1000);
        }
        let s = session as usize;
        let (batch_index, request) = {
            let b = shared.sched.lock().expect("scheduler lock").next_batch[s];
            (b, &shared.sessions[s].batches[b].request)
        };
        let verdict = send_one(&shared, &mut conn, request, &mut stats).await;
        let verdict = match verdict {
            Verdict::Retry(_) if attempt >= shared.cfg.max_retries => Verdict::Lost,
            v => v,
        };
        let mut sch = shared.sched.lock().expect("scheduler lock");
        sch.in_flight -= 1;
        let elapsed = shared.start.elapsed().as_millis() as u64;
        match verdict {
            Verdict::Retry(wait) => {
                stats.retries += 1;
                let due = (elapsed + wait.as_millis() as u64).max(due);
                sch.push(due, session, attempt + 1);
            }
            v => {
                if matches!(v, Verdict::Lost) {
                    stats.lost_batches += 1;
                    if shared.sessions[s].pattern_batches.as_ref().is_some_and(|r| r.contains(&batch_index)) {
                        sch.pattern_lost[s] = true;
                    }
                }
                sch.next_batch[s] += 1;
                if let Some(next) = shared.sessions[s].batches.get(batch_index + 1) {
                    if !sch.stopped {
                        sch.push(next.due_ms, session, 0);
                    } else {
                        stats.unsent_batches += (shared.sessions[s].batches.len() - batch_index - 1) as u64;
                    }
                }
            }
        }
        let done = sch.heap.is_empty() && sch.in_flight == 0;
        drop(sch);
        if done {
            shared.notify.notify_waiters();
        } else {
            shared.notify.notify_one();
        }
    }
}

/// Sends one request on the worker's connection (connecting if needed)
/// and counts the answer.
async fn send_one(shared: &Shared, conn: &mut Option<Conn>, request: &[u8], stats: &mut Stats) -> Verdict {
    let transport_retry = Duration::from_millis(200);
    if conn.is_none() {
        match Conn::connect(shared.target.addr).await {
            Ok(c) => *conn = Some(c),
            Err(_) => {
                stats.transport_errors += 1;
                return Verdict::Retry(transport_retry);
            }
        }
    }
    let c = conn.as_mut().expect("connected above");
    let sent = Instant::now();
    let resp = match c.send(request).await {
        Ok(r) => r,
        Err(_) => {
            stats.transport_errors += 1;
            *conn = None;
            return Verdict::Retry(transport_retry);
        }
    };
    let latency = sent.elapsed();
    stats.bytes_sent += request.len() as u64;
    if resp.close {
        *conn = None;
    }
    if resp.status == 202 {
        stats.latency.record(latency.as_micros() as u64);
        stats.acked_batches += 1;
        if let Ok(a) = serde_json::from_slice::<Accepted>(&resp.body) {
            stats.acked_events += a.accepted;
            for d in a.dropped {
                *stats.dropped_by_reason.entry(d.reason).or_default() += 1;
            }
            stats.truncated += a.truncated.len() as u64;
        }
        return Verdict::Acked;
    }
    *stats.rejects_by_status.entry(resp.status).or_default() += 1;
    let reason = serde_json::from_slice::<ErrorBody>(&resp.body)
        .map(|b| b.reason)
        .unwrap_or_else(|_| "(no reason)".into());
    *stats.rejects_by_reason.entry(reason).or_default() += 1;
    if matches!(resp.status, 429 | 503) {
        let wait = Duration::from_secs(resp.retry_after.unwrap_or(1)).min(shared.cfg.max_retry_wait);
        Verdict::Retry(wait)
    } else {
        Verdict::Lost
    }
}
