//! Reversals of direction along one axis, in bursts: `thrashed_cursor`
//! (the pointer's x, from `move` samples) and `excessive_scroll` (the
//! scroll offset, from `scroll` events).
//!
//! Positions run through a zigzag filter: a reversal is a turning point
//! followed by a retreat of at least one leg length, so jitter never counts
//! and every leg between two reversals is at least that long. A burst is a
//! run of reversals during which every reversal had at least
//! `min_reversals` (itself included) within the preceding `window_ms`; it is
//! one signal, with the turning points as evidence.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::Emit;
use crate::config::ReversalsConfig;
use crate::SignalKind;

/// One position sample: the event's time, seq and the position on the axis.
pub(crate) struct Sample {
    pub ts: i64,
    pub seq: u64,
    pub pos: f64,
    /// The shortest leg at this sample, in px.
    pub leg: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    /// Where the first leg started.
    origin: f64,
    /// +1 or -1 once the first leg is long enough, else 0.
    dir: i8,
    /// The furthest point of the current leg: the next turning point, if
    /// the position retreats far enough from it.
    extreme: (i64, u64, f64),
    last_sample_ts: i64,
    /// Reversals within the window before the newest one: `(ts, seq)`.
    recent: VecDeque<(i64, u64)>,
    /// The burst in progress, if any, and the page it started on.
    burst: Vec<(i64, u64)>,
    burst_url: Option<String>,
}

/// Zigzag and burst state (boxed: absent while the axis is at rest).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Reversals {
    state: Option<Box<State>>,
}

impl Reversals {
    pub fn is_idle(&self) -> bool {
        self.state.is_none()
    }

    pub fn on_sample(
        &mut self,
        kind: SignalKind,
        cfg: &ReversalsConfig,
        s: Sample,
        page: Option<&str>,
        emit: &mut Emit<'_>,
    ) {
        let st = self.state.get_or_insert_with(|| {
            Box::new(State {
                origin: s.pos,
                dir: 0,
                extreme: (s.ts, s.seq, s.pos),
                last_sample_ts: s.ts,
                recent: VecDeque::new(),
                burst: Vec::new(),
                burst_url: None,
            })
        });
        st.last_sample_ts = s.ts;
        if st.dir == 0 {
            if (s.pos - st.origin).abs() >= s.leg {
                st.dir = if s.pos > st.origin { 1 } else { -1 };
                st.extreme = (s.ts, s.seq, s.pos);
            }
            return;
        }
        let (ets, eseq, epos) = st.extreme;
        if (s.pos - epos) * f64::from(st.dir) >= 0.0 {
            st.extreme = (s.ts, s.seq, s.pos);
        } else if (epos - s.pos).abs() >= s.leg {
            st.dir = -st.dir;
            st.extreme = (s.ts, s.seq, s.pos);
            Self::reversal(st, kind, cfg, (ets, eseq), page, emit);
        }
    }

    fn reversal(
        st: &mut State,
        kind: SignalKind,
        cfg: &ReversalsConfig,
        r: (i64, u64),
        page: Option<&str>,
        emit: &mut Emit<'_>,
    ) {
        st.recent.push_back(r);
        while st.recent.front().is_some_and(|&(ts, _)| ts < r.0 - cfg.window_ms) {
            st.recent.pop_front();
        }
        if st.recent.len() < cfg.min_reversals as usize {
            Self::close_burst(st, kind, emit);
        } else if st.burst.is_empty() {
            st.burst.extend(st.recent.iter().copied());
            st.burst_url = page.map(str::to_owned);
        } else {
            st.burst.push(r);
        }
    }

    /// Closes a burst no later reversal can extend, and forgets the zigzag
    /// once the axis has rested for a window.
    pub fn advance(&mut self, kind: SignalKind, cfg: &ReversalsConfig, now: i64, emit: &mut Emit<'_>) {
        let Some(st) = &mut self.state else { return };
        if !st.burst.is_empty() {
            // A reversal at `t` keeps the burst going only if `min - 1`
            // earlier ones lie within the window before it.
            let need = (cfg.min_reversals as usize).saturating_sub(1);
            let dense_until = match need {
                0 => st.recent.back().map_or(i64::MIN, |r| r.0),
                n => st.recent.len().checked_sub(n).map_or(i64::MIN, |i| st.recent[i].0),
            } + cfg.window_ms;
            if now > dense_until {
                Self::close_burst(st, kind, emit);
            }
        }
        if st.burst.is_empty()
            && now > st.last_sample_ts.max(st.recent.back().map_or(i64::MIN, |r| r.0)) + cfg.window_ms
        {
            self.state = None;
        }
    }

    /// The session ended.
    pub fn close(&mut self, kind: SignalKind, emit: &mut Emit<'_>) {
        if let Some(st) = &mut self.state {
            Self::close_burst(st, kind, emit);
        }
        self.state = None;
    }

    fn close_burst(st: &mut State, kind: SignalKind, emit: &mut Emit<'_>) {
        if st.burst.is_empty() {
            return;
        }
        let burst = std::mem::take(&mut st.burst);
        let url = st.burst_url.take();
        let (first, last) = (burst[0].0, burst[burst.len() - 1].0);
        let evidence = burst.iter().map(|r| r.1).collect();
        emit.page_signal(kind, url.as_deref(), first, last, burst.len() as u32, evidence);
    }
}
