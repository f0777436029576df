//! Reversals of direction along one axis, in bursts: `thrashed_cursor`
//! (the pointer's x, from `move` samples) and `excessive_scroll` (the
//! scroll offset, from `scroll` events).
//!
//! Positions run through a zigzag filter: a reversal is a turning point
//! followed by a retreat of at least one leg length, so jitter never counts
//! and every leg between two reversals is at least that long. A reversal
//! happens when the retreat completes it (its evidence is the turning
//! point), so it is known at its own time and never changes the past. A
//! burst is a run of reversals during which every reversal had at least
//! `min_reversals` (itself included) within the preceding `window_ms`; it is
//! one signal, with the turning points as evidence (at most
//! [`MAX_EVIDENCE`]; `count` stays exact). A turning point is reported in
//! one burst only.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::{Capped, Emit};
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

/// One reversal: when the retreat completed it, and the turning point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Turn {
    at: i64,
    ts: i64,
    seq: u64,
    /// Its number in the session (1, 2, ...), to tell reported ones apart.
    n: u64,
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
    /// Reversals within the window before the newest one.
    recent: VecDeque<Turn>,
    turns: u64,
    /// The burst in progress: its turning points, when the last was, and
    /// the page it started on.
    burst: Capped<Turn>,
    burst_end: i64,
    burst_url: Option<String>,
    /// The number of the last reversal reported in a burst.
    reported: u64,
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
                turns: 0,
                burst: Capped::default(),
                burst_end: 0,
                burst_url: None,
                reported: 0,
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
        let (ts, seq, epos) = st.extreme;
        if (s.pos - epos) * f64::from(st.dir) >= 0.0 {
            st.extreme = (s.ts, s.seq, s.pos);
        } else if (epos - s.pos).abs() >= s.leg {
            st.dir = -st.dir;
            st.extreme = (s.ts, s.seq, s.pos);
            st.turns += 1;
            let turn = Turn { at: s.ts, ts, seq, n: st.turns };
            Self::reversal(st, kind, cfg, turn, page, emit);
        }
    }

    fn reversal(
        st: &mut State,
        kind: SignalKind,
        cfg: &ReversalsConfig,
        turn: Turn,
        page: Option<&str>,
        emit: &mut Emit<'_>,
    ) {
        st.recent.push_back(turn);
        while st.recent.front().is_some_and(|t| t.at < turn.at - cfg.window_ms) {
            st.recent.pop_front();
        }
        if st.recent.len() < cfg.min_reversals as usize {
            Self::close_burst(st, kind, emit);
        } else if st.burst.count() == 0 {
            let reported = st.reported;
            let fresh: Vec<Turn> = st.recent.iter().copied().filter(|t| t.n > reported).collect();
            for t in fresh {
                Self::add(st, t);
            }
            st.burst_url = page.map(str::to_owned);
        } else {
            Self::add(st, turn);
        }
    }

    fn add(st: &mut State, t: Turn) {
        st.burst_end = t.ts;
        st.burst.push(t);
        st.reported = t.n;
    }

    /// The page changed: a burst in progress ends, and positions start
    /// afresh (a new page's scroll offset is no leg of the old one's).
    pub fn reset(&mut self, kind: SignalKind, emit: &mut Emit<'_>) {
        self.close(kind, emit);
    }

    /// Closes a burst no later reversal can extend, and forgets the zigzag
    /// once the axis has rested for a window.
    pub fn advance(&mut self, kind: SignalKind, cfg: &ReversalsConfig, now: i64, emit: &mut Emit<'_>) {
        let Some(st) = &mut self.state else { return };
        if st.burst.count() > 0 {
            // A reversal at `t` keeps the burst going only if `min - 1`
            // earlier ones lie within the window before it.
            let need = (cfg.min_reversals as usize).saturating_sub(1);
            let dense_until = match need {
                0 => st.recent.back().map_or(i64::MIN, |t| t.at),
                n => st.recent.len().checked_sub(n).map_or(i64::MIN, |i| st.recent[i].at),
            } + cfg.window_ms;
            if now > dense_until {
                Self::close_burst(st, kind, emit);
            }
        }
        let last = st.last_sample_ts.max(st.recent.back().map_or(i64::MIN, |t| t.at));
        if st.burst.count() == 0 && now > last + cfg.window_ms {
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
        if st.burst.count() == 0 {
            return;
        }
        let burst = std::mem::take(&mut st.burst);
        let url = st.burst_url.take();
        let evidence = burst.items().iter().map(|t| t.seq).collect();
        emit.page_signal(kind, url.as_deref(), burst.items()[0].ts, st.burst_end, burst.count(), evidence);
    }
}
