//! `ufse-load`: a load generator for the UFSE HTTP edge.
//!
//! This crate owns the load and recall testing of a running `ufse serve`:
//! it simulates many concurrent browser sessions sending realistic gzip
//! batches (wire format v1) to `POST /v1/batch`, with a known fraction of
//! sessions carrying exactly one injected frustration pattern (rage, dead
//! or error click), measures acknowledged throughput and latency, and
//! optionally checks the server's incidents against that ground truth.
//!
//! All batches are generated, gzipped and framed as HTTP requests before
//! the clock starts, so the timed run costs the machine little more than
//! writing bytes; nothing is ever replayed (the server deduplicates by
//! `seq`), so the pre-built set is sized to the run.
//!
//! Modules:
//! - `rng`: xorshift64* PRNG, for `--seed` determinism without `rand`.
//! - `gen`: session generation (normal traffic that never trips a rule,
//!   injected patterns of exact shape), SDK-like batch cutting, JSON, gzip.
//! - `plan`: derives the run's size, builds every session's requests in
//!   parallel within a memory budget.
//! - `http`: a minimal HTTP/1.1 keep-alive client over raw TCP.
//! - `runner`: the schedule, the per-connection workers, the counters.
//! - `hist`: a log-linear latency histogram (HdrHistogram-like).
//! - `recall`: polls `ufse incidents list --json` and scores recall and
//!   false positives.

mod gen;
mod hist;
mod http;
mod plan;
mod recall;
mod rng;
mod runner;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde_json::{json, Value};

use crate::plan::{Plan, PlanConfig};
use crate::recall::{RecallConfig, RecallReport};
use crate::runner::{RunConfig, Stats};

/// Batches per session when neither a rate nor a size is given.
const DEFAULT_UNPACED_BATCHES: u64 = 5;

/// Replays pre-built browser batches against `ufse serve` and reports
/// acknowledged throughput, latency, rejects and (optionally) recall.
#[derive(Debug, Parser)]
#[command(name = "ufse-load", version, about)]
struct Args {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Project write key, sent as X-Ufse-Key.
    #[arg(long, env = "UFSE_LOAD_KEY")]
    key: String,
    /// Concurrent browser sessions.
    #[arg(long, default_value_t = 2000)]
    sessions: usize,
    /// Most events in one batch.
    #[arg(long, default_value_t = 100)]
    events_per_batch: usize,
    /// Size the run as sessions x N x events-per-batch events.
    #[arg(long, value_name = "N")]
    batches_per_session: Option<u64>,
    /// Size the run by its total events (wins over the other sizes).
    #[arg(long, value_name = "N")]
    total_events: Option<u64>,
    /// Paced: how long the sessions last. Unpaced: no new batches after this long.
    #[arg(long, default_value_t = 60)]
    duration_secs: u64,
    /// Target events/s; the run is sized as rate x duration and paced on
    /// the sessions' own clocks. 0 sends as fast as answers come.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Paced runs: the SDK sends a batch this long after its first event
    /// (or when full). Keep it under the server's 5 s reorder window.
    #[arg(long, default_value_t = 3000)]
    flush_ms: i64,
    /// Fraction of sessions with one injected pattern (rage, dead, error click in turn).
    #[arg(long, default_value_t = 0.05)]
    inject: f64,
    /// Keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Runtime threads for the timed run (1 = at most one core).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// PRNG seed; the same seed gives the same traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// gzip level of the bodies (0-9).
    #[arg(long, default_value_t = 6)]
    gzip_level: u32,
    /// Memory budget of the pre-built requests; larger runs are scaled down to it.
    #[arg(long, default_value_t = 512)]
    max_prebuilt_mb: u64,
    /// Retries of one batch after 429/503 (honouring Retry-After) or a transport error.
    #[arg(long, default_value_t = 5)]
    max_retries: u32,
    /// Prefix of every sid [default: lt-<start time in hex>], unique per run.
    #[arg(long)]
    run_id: Option<String>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// After the run, poll the server's incidents and score them against the injections.
    #[arg(long, requires = "data_dir")]
    check_recall: bool,
    /// The ufse binary used for --check-recall.
    #[arg(long, value_name = "PATH", default_value = "ufse")]
    ufse_bin: PathBuf,
    /// The server's data directory, for --check-recall.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Project whose incidents are checked.
    #[arg(long, default_value = "default")]
    project: String,
    /// Longest wait for the server's verdicts after the run.
    #[arg(long, default_value_t = 60)]
    recall_wait_secs: u64,
    /// Incident counts unchanged this long are taken as final (the server
    /// closes a silent session's windows about 18 s after its last batch).
    #[arg(long, default_value_t = 25)]
    recall_settle_secs: u64,
    /// Exit with failure when any kind's recall is below this (0-1).
    #[arg(long)]
    min_recall: Option<f64>,
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Total events of the run, from the most specific size given.
fn total_events(a: &Args) -> u64 {
    let per_session = |b: u64| a.sessions as u64 * b * a.events_per_batch as u64;
    if let Some(t) = a.total_events {
        t
    } else if let Some(b) = a.batches_per_session {
        per_session(b)
    } else if a.rate > 0.0 {
        (a.rate * a.duration_secs as f64).round() as u64
    } else {
        per_session(DEFAULT_UNPACED_BATCHES)
    }
}

fn run() -> Result<ExitCode> {
    let args = Args::parse();
    if !(0.0..=1.0).contains(&args.inject) {
        bail!("--inject must be between 0 and 1");
    }
    if args.events_per_batch == 0 || args.connections == 0 || args.threads == 0 {
        bail!("--events-per-batch, --connections and --threads must be at least 1");
    }
    if args.rate < 0.0 {
        bail!("--rate must not be negative");
    }
    let target = http::target(&args.url).context("parsing --url")?;
    let paced = args.rate > 0.0;
    let base_ts =
        SystemTime::now().duration_since(UNIX_EPOCH).context("reading the clock")?.as_millis() as i64;
    let run_id = args.run_id.clone().unwrap_or_else(|| format!("lt-{base_ts:x}"));
    let request_head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nX-Ufse-Key: {}\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: ",
        target.path, target.host, args.key
    );
    let cfg = PlanConfig {
        sessions: args.sessions,
        events_per_batch: args.events_per_batch,
        total_events: total_events(&args),
        paced,
        duration_ms: args.duration_secs as i64 * 1000,
        flush_ms: args.flush_ms.max(1),
        inject: args.inject,
        seed: args.seed,
        run_id: run_id.clone(),
        base_ts,
        gzip_level: args.gzip_level,
        request_head,
        max_bytes: args.max_prebuilt_mb * 1024 * 1024,
        build_threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    };
    eprintln!("building {} events over {} sessions ...", cfg.total_events, cfg.sessions);
    let built = Instant::now();
    let (plan, scaled) = plan::build(&cfg).context("building the batches")?;
    let build_secs = built.elapsed().as_secs_f64();
    if let Some(fit) = scaled {
        eprintln!(
            "warning: scaled the run down to {fit} events to fit --max-prebuilt-mb {}",
            args.max_prebuilt_mb
        );
    }
    eprintln!(
        "built {} batches, {} events, {:.1} MB gzipped ({:.1} MB JSON) in {build_secs:.1}s; running on {} connections ...",
        plan.batches,
        plan.events,
        plan.body_bytes as f64 / 1e6,
        plan.json_bytes as f64 / 1e6,
        args.connections
    );

    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build()
    }
    .context("starting the runtime")?;
    let run_cfg = RunConfig {
        connections: args.connections,
        max_retries: args.max_retries,
        deadline: (!paced).then(|| Duration::from_secs(args.duration_secs)),
        max_retry_wait: Duration::from_secs(10),
    };
    let Plan { sessions, events, batches, body_bytes, json_bytes, .. } = plan;
    let (outcome, sessions) = runtime.block_on(runner::run(sessions, target, run_cfg));
    drop(runtime);
    let stats = outcome.stats;

    let mut injected: BTreeMap<&str, u64> = BTreeMap::new();
    for s in &sessions {
        if let Some(inj) = &s.injection {
            *injected.entry(inj.kind.as_str()).or_default() += 1;
        }
    }
    let recall = if args.check_recall {
        let truth: HashMap<String, _> = sessions
            .into_iter()
            .zip(&outcome.pattern_delivered)
            .map(|(s, &delivered)| (s.sid, (s.injection, delivered)))
            .collect();
        let rcfg = RecallConfig {
            ufse_bin: args.ufse_bin.clone(),
            data_dir: args.data_dir.clone().context("--check-recall needs --data-dir")?,
            project: args.project.clone(),
            wait: Duration::from_secs(args.recall_wait_secs),
            settle: Duration::from_secs(args.recall_settle_secs),
            poll: Duration::from_secs(2),
        };
        eprintln!("waiting up to {}s for the server's verdicts ...", args.recall_wait_secs);
        let r = recall::check(&rcfg, &truth, |r| {
            let found: u64 = r.by_kind.values().map(|k| k.found).sum();
            let expected: u64 = r.by_kind.values().map(|k| k.expected).sum();
            eprintln!("  {:>5.1}s: {found}/{expected} found, {} incidents", r.waited_secs, r.incidents);
        })
        .context("checking recall")?;
        Some(r)
    } else {
        None
    };

    let planned = json!({
        "sessions": args.sessions,
        "events": events,
        "batches": batches,
        "gzip_bytes": body_bytes,
        "json_bytes": json_bytes,
        "build_secs": round2(build_secs),
        "scaled_to_events": scaled,
        "injected": injected,
    });
    let report = report_json(&args, &run_id, paced, planned, &stats, recall.as_ref());
    if args.json {
        println!("{report}");
    } else {
        print!("{}", report_text(&report));
    }
    let recall_ok = match (args.min_recall, &recall) {
        (Some(min), Some(r)) => r.by_kind.values().all(|k| k.recall >= min),
        _ => true,
    };
    Ok(if stats.acked_batches > 0 && recall_ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn ms(us: u64) -> f64 {
    round2(us as f64 / 1000.0)
}

/// The report as one JSON object (the text report is printed from it, so both always agree).
fn report_json(
    args: &Args,
    run_id: &str,
    paced: bool,
    planned: Value,
    s: &Stats,
    recall: Option<&RecallReport>,
) -> Value {
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    json!({
        "config": {
            "url": args.url,
            "run_id": run_id,
            "sessions": args.sessions,
            "events_per_batch": args.events_per_batch,
            "connections": args.connections,
            "threads": args.threads,
            "rate": args.rate,
            "paced": paced,
            "flush_ms": args.flush_ms,
            "seed": args.seed,
            "gzip_level": args.gzip_level,
        },
        "planned": planned,
        "duration_secs": round2(secs),
        "acked": {
            "batches": s.acked_batches,
            "events": s.acked_events,
            "batches_per_sec": round2(s.acked_batches as f64 / secs),
            "events_per_sec": round2(s.acked_events as f64 / secs),
            "mb_sent_per_sec": round2(s.bytes_sent as f64 / 1e6 / secs),
        },
        "latency_ms": {
            "p50": ms(s.latency.percentile(50.0)),
            "p90": ms(s.latency.percentile(90.0)),
            "p99": ms(s.latency.percentile(99.0)),
            "max": ms(s.latency.max()),
            "mean": round2(s.latency.mean() / 1000.0),
            "samples": s.latency.count(),
        },
        "rejects": {
            "by_status": s.rejects_by_status.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "by_reason": s.rejects_by_reason,
        },
        "dropped_events": s.dropped_by_reason,
        "truncated_strings": s.truncated,
        "transport_errors": s.transport_errors,
        "retries": s.retries,
        "lost_batches": s.lost_batches,
        "unsent_batches": s.unsent_batches,
        "schedule": { "max_behind_ms": s.max_behind_ms, "batches_behind_1s": s.behind_1s },
        "recall": recall,
    })
}

fn map_text(v: &Value) -> String {
    match v.as_object() {
        Some(m) if !m.is_empty() => m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "),
        _ => "none".into(),
    }
}

/// The human report.
fn report_text(r: &Value) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let c = &r["config"];
    let p = &r["planned"];
    let a = &r["acked"];
    let l = &r["latency_ms"];
    let _ = writeln!(
        o,
        "ufse-load {} -> {} ({} sessions, {} connections, {} thread(s), {})",
        c["run_id"].as_str().unwrap_or_default(),
        c["url"].as_str().unwrap_or_default(),
        c["sessions"],
        c["connections"],
        c["threads"],
        if c["paced"].as_bool() == Some(true) {
            format!("paced at {} events/s", c["rate"])
        } else {
            "unpaced".into()
        }
    );
    let _ = writeln!(
        o,
        "planned:   {} events in {} batches, {:.1} MB gzipped; injected {}",
        p["events"],
        p["batches"],
        p["gzip_bytes"].as_f64().unwrap_or(0.0) / 1e6,
        map_text(&p["injected"])
    );
    let _ = writeln!(o, "duration:  {} s", r["duration_secs"]);
    let _ = writeln!(
        o,
        "acked:     {} events/s, {} batches/s ({} events, {} batches, {} MB/s sent)",
        a["events_per_sec"], a["batches_per_sec"], a["events"], a["batches"], a["mb_sent_per_sec"]
    );
    let _ = writeln!(
        o,
        "latency:   p50 {} ms, p90 {} ms, p99 {} ms, max {} ms (send to 202)",
        l["p50"], l["p90"], l["p99"], l["max"]
    );
    let _ = writeln!(
        o,
        "rejects:   by status {}; by reason {}",
        map_text(&r["rejects"]["by_status"]),
        map_text(&r["rejects"]["by_reason"])
    );
    let _ = writeln!(
        o,
        "dropped:   {}; truncated strings {}",
        map_text(&r["dropped_events"]),
        r["truncated_strings"]
    );
    let _ = writeln!(
        o,
        "errors:    {} transport, {} retries, {} lost batches, {} unsent (deadline)",
        r["transport_errors"], r["retries"], r["lost_batches"], r["unsent_batches"]
    );
    if c["paced"].as_bool() == Some(true) {
        let _ = writeln!(
            o,
            "schedule:  max {} ms behind, {} batches over 1 s behind",
            r["schedule"]["max_behind_ms"], r["schedule"]["batches_behind_1s"]
        );
    }
    if let Some(rc) = r["recall"].as_object() {
        let _ = writeln!(
            o,
            "recall:    (waited {} s: {})",
            rc["waited_secs"],
            rc["stopped_because"].as_str().unwrap_or("")
        );
        if let Some(kinds) = rc["by_kind"].as_object() {
            for (k, v) in kinds {
                let _ = writeln!(
                    o,
                    "  {k:<12} expected {:>6}  found {:>6}  recall {:.3}",
                    v["expected"],
                    v["found"],
                    v["recall"].as_f64().unwrap_or(0.0)
                );
            }
        }
        let _ = writeln!(o, "  unexpected   {}", map_text(&rc["unexpected"]));
        let _ = writeln!(o, "  secondary    {}", map_text(&rc["secondary"]));
        let _ = writeln!(o, "  undelivered  {}", rc["undelivered"]);
    }
    o
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::io::Read;

    use flate2::read::GzDecoder;
    use serde_json::Value;

    use crate::gen::{self, cut_batches, session_events, Ev, InjectKind, Kind, SessionSpec};
    use crate::hist::Histogram;
    use crate::plan::{self, injection_for, PlanConfig};
    use crate::recall::{compare, IncidentLine};
    use crate::rng::Rng;

    const BASE: i64 = 1_700_000_000_000;

    fn plan_config(paced: bool) -> PlanConfig {
        PlanConfig {
            sessions: 60,
            events_per_batch: 100,
            total_events: 60 * 450,
            paced,
            duration_ms: 120_000,
            flush_ms: 3000,
            inject: 0.5,
            seed: 7,
            run_id: "lt-test".into(),
            base_ts: BASE,
            gzip_level: 6,
            request_head: "POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: ".into(),
            max_bytes: 256 << 20,
            build_threads: 2,
        }
    }

    fn body_of(request: &[u8]) -> Vec<u8> {
        let at = request.windows(4).position(|w| w == b"\r\n\r\n").expect("head ends") + 4;
        let mut json = Vec::new();
        GzDecoder::new(&request[at..]).read_to_end(&mut json).expect("valid gzip");
        json
    }

    fn sessions(inject: InjectKind, n: usize, mean_dt_ms: f64) -> Vec<(SessionSpec, gen::SessionEvents)> {
        (0..n)
            .map(|i| {
                let spec =
                    SessionSpec { index: i, n_events: 300, start_ts: BASE, mean_dt_ms, inject: Some(inject) };
                let mut rng = Rng::new(i as u64 * 31 + inject as u64);
                let ev = session_events(&mut rng, &spec);
                (spec, ev)
            })
            .collect()
    }

    fn click_of(e: &Ev) -> Option<(i64, i64, &str)> {
        match &e.kind {
            Kind::Click { x, y, sel, .. } => Some((*x, *y, sel.as_str())),
            _ => None,
        }
    }

    #[test]
    fn batches_are_valid_wire_format_with_increasing_seqs_across_batches() {
        for paced in [false, true] {
            let (built, scaled) = plan::build(&plan_config(paced)).expect("builds");
            assert_eq!(scaled, None);
            let limits = ufse_schema::Limits::default();
            let mut events = 0;
            for s in &built.sessions {
                let mut last_seq = 0u64;
                let mut last_ts = i64::MIN;
                let mut last_due = 0;
                for b in &s.batches {
                    assert!(b.request.starts_with(b"POST /v1/batch HTTP/1.1\r\n"));
                    let json = body_of(&b.request);
                    // The server's own validator accepts every event untouched.
                    let parsed = ufse_schema::parse_batch(&json, &limits).expect("valid batch");
                    assert!(parsed.dropped.is_empty() && parsed.truncated.is_empty(), "{:?}", parsed.dropped);
                    assert_eq!(parsed.sid, s.sid);
                    assert!(!parsed.events.is_empty() && parsed.events.len() <= 100);
                    let v: Value = serde_json::from_slice(&json).expect("JSON");
                    assert_eq!(v["v"], 1);
                    assert!(v["uid"].is_string() && v["sent_at"].is_i64());
                    for e in &parsed.events {
                        assert_eq!(e.seq, last_seq + 1, "seqs run on across batches");
                        assert!(e.ts > last_ts, "ts strictly increases");
                        last_seq = e.seq;
                        last_ts = e.ts;
                    }
                    assert!(v["sent_at"].as_i64().unwrap() >= last_ts, "sent after its last event");
                    assert!(b.due_ms >= last_due, "a session's batches are due in order");
                    last_due = b.due_ms;
                    if paced {
                        let first = parsed.events[0].ts;
                        assert!(last_ts - first < 3000, "a paced batch spans less than the flush interval");
                    }
                    events += parsed.events.len() as u64;
                }
                assert_eq!(s.sid.split('-').next(), Some("lt"));
            }
            assert_eq!(events, built.events);
            assert!(built.events >= 60 * 450, "the run is at least its requested size");
            if paced {
                // Sessions span about the run's duration, so the pace is about events / duration.
                // Sessions span about the run's duration (plus the start offset
                // and one flush), so the pace is about events / duration.
                let dues: Vec<u64> =
                    built.sessions.iter().filter_map(|s| s.batches.last()).map(|b| b.due_ms).collect();
                let mean = dues.iter().sum::<u64>() / dues.len() as u64;
                assert!((112_000..=126_000).contains(&mean), "sessions end at {mean} ms on average");
                assert!(dues.iter().all(|d| (100_000..=140_000).contains(d)), "{dues:?}");
            }
        }
    }

    #[test]
    fn same_seed_same_traffic() {
        let cfg = plan_config(true);
        let (a, _) = plan::build(&cfg).unwrap();
        let (b, _) = plan::build(&PlanConfig { build_threads: 1, ..cfg }).unwrap();
        for (x, y) in a.sessions.iter().zip(&b.sessions) {
            assert_eq!(x.batches.len(), y.batches.len());
            assert!(x
                .batches
                .iter()
                .zip(&y.batches)
                .all(|(p, q)| p.request == q.request && p.due_ms == q.due_ms));
        }
    }

    #[test]
    fn injections_are_spread_evenly_in_round_robin() {
        let kinds: Vec<_> = (0..2000).filter_map(|i| injection_for(i, 0.05)).collect();
        assert_eq!(kinds.len(), 100);
        let count = |k| kinds.iter().filter(|&&x| x == k).count();
        assert_eq!(
            (count(InjectKind::Rage), count(InjectKind::Dead), count(InjectKind::Error)),
            (34, 33, 33)
        );
        assert!((0..100).all(|i| injection_for(i, 0.0).is_none()));
        assert!((0..100).all(|i| injection_for(i, 1.0).is_some()));
    }

    #[test]
    fn rage_pattern_has_its_shape() {
        for mean_dt in [20.0, 250.0] {
            for (spec, s) in sessions(InjectKind::Rage, 30, mean_dt) {
                let inj = s.injection.expect("injected");
                assert_eq!(inj.sel, format!("button#rage-{}", spec.index));
                let ev = &s.events[(inj.first_seq - 1) as usize..inj.last_seq as usize];
                assert_eq!(ev.len(), 4, "four events, all clicks");
                let clicks: Vec<_> = ev.iter().map(|e| click_of(e).expect("a click")).collect();
                assert!(clicks.iter().all(|c| c.2 == inj.sel));
                assert!(ev[3].ts - ev[0].ts <= 600, "within 600 ms");
                let (x0, y0, _) = clicks[0];
                assert!(clicks.iter().all(|c| (c.0 - x0).abs() <= 6 && (c.1 - y0).abs() <= 6), "same spot");
                let (a, b) = (ev[0].ts, ev[3].ts);
                // Nothing reacts during the run, nor in the dead-click window after the first click.
                for e in &s.events {
                    if let Some(at) = e.kind.reacts_at(e.ts) {
                        assert!(!(a..=a + 3000).contains(&at), "reaction at {} in a rage run at {a}", at - a);
                    }
                    if click_of(e).is_some() && !(inj.first_seq..=inj.last_seq).contains(&e.seq) {
                        assert!(e.ts < a - 1500 || e.ts > b + 1500, "another click next to the run");
                    }
                }
                assert!(s.events.iter().all(|e| !matches!(e.kind, Kind::Error { .. })));
            }
        }
    }

    #[test]
    fn dead_pattern_has_its_shape() {
        for mean_dt in [20.0, 250.0] {
            for (spec, s) in sessions(InjectKind::Dead, 30, mean_dt) {
                let inj = s.injection.expect("injected");
                assert_eq!(inj.first_seq, inj.last_seq, "one click");
                let click = &s.events[(inj.first_seq - 1) as usize];
                assert_eq!(
                    click_of(click).map(|c| c.2.to_owned()),
                    Some(format!("button#dead-{}", spec.index))
                );
                let t = click.ts;
                for e in &s.events[inj.first_seq as usize..] {
                    if e.ts <= t + 15_000 {
                        assert!(matches!(e.kind, Kind::Move { .. }), "only moves for 15 s, got {:?}", e.kind);
                    }
                    if let Some(at) = e.kind.reacts_at(e.ts) {
                        assert!(at > t + 3000, "a request started in the window");
                    }
                }
            }
        }
    }

    #[test]
    fn error_pattern_has_its_shape() {
        for (spec, s) in sessions(InjectKind::Error, 30, 100.0) {
            let inj = s.injection.expect("injected");
            let ev = &s.events[(inj.first_seq - 1) as usize..inj.last_seq as usize];
            assert_eq!(ev.len(), 2);
            assert_eq!(click_of(&ev[0]).map(|c| c.2.to_owned()), Some(format!("button#err-{}", spec.index)));
            assert!(matches!(ev[1].kind, Kind::Error { .. }));
            assert_eq!(ev[1].ts - ev[0].ts, 300);
            let errors = s.events.iter().filter(|e| matches!(e.kind, Kind::Error { .. })).count();
            assert_eq!(errors, 1, "the only error of the session");
        }
    }

    #[test]
    fn normal_clicks_never_rage_and_are_always_answered() {
        let mut checked = 0;
        for kind in InjectKind::ALL {
            for mean_dt in [5.0, 30.0, 250.0, 2000.0] {
                for (_, s) in sessions(kind, 20, mean_dt) {
                    let inj = s.injection.expect("injected");
                    let mut prev: Option<(i64, i64, i64)> = None;
                    for (i, e) in s.events.iter().enumerate() {
                        let Some((x, y, _)) = click_of(e) else { continue };
                        let injected = (inj.first_seq..=inj.last_seq).contains(&e.seq);
                        if !injected {
                            checked += 1;
                            if let Some((pt, px, py)) = prev {
                                let dist = (((x - px).pow(2) + (y - py).pow(2)) as f64).sqrt();
                                assert!(
                                    e.ts - pt > 1500 || dist > 50.0,
                                    "clicks {} ms and {dist} px apart",
                                    e.ts - pt
                                );
                            }
                            // Answered by a mutation within 100 ms: never a dead click.
                            let answered = s.events[i + 1..]
                                .iter()
                                .take_while(|n| n.ts <= e.ts + 100)
                                .any(|n| matches!(n.kind, Kind::Mutation { .. }));
                            assert!(answered, "normal click at seq {} unanswered", e.seq);
                        }
                        prev = Some((e.ts, x, y));
                    }
                }
            }
        }
        assert!(checked > 1000, "only {checked} normal clicks checked");
    }

    #[test]
    fn flush_cuts_by_size_and_time() {
        let events: Vec<Ev> = (0..1000)
            .map(|i| Ev { ts: BASE + i * 37, seq: i as u64 + 1, kind: Kind::Mutation { n: 1 } })
            .collect();
        let cuts = cut_batches(&events, 50, Some(1000));
        assert_eq!(cuts.iter().map(|c| c.range.len()).sum::<usize>(), 1000);
        for c in &cuts {
            let (first, last) = (events[c.range.start].ts, events[c.range.end - 1].ts);
            assert!(c.range.len() <= 50 && last - first < 1000);
            assert!(c.send_ts >= last && c.send_ts <= first + 1000);
        }
        let full = cut_batches(&events, 100, None);
        assert_eq!(full.len(), 10);
        assert!(full.iter().all(|c| c.range.len() == 100 && c.send_ts == events[c.range.end - 1].ts));
    }

    #[test]
    fn histogram_percentiles_within_one_percent() {
        let check = |values: &mut Vec<u64>| {
            let mut h = Histogram::default();
            values.iter().for_each(|&v| h.record(v));
            values.sort_unstable();
            for p in [50.0, 90.0, 99.0, 99.9] {
                let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
                let exact = values[rank - 1] as f64;
                let got = h.percentile(p) as f64;
                assert!((got - exact).abs() <= exact * 0.01 + 0.5, "p{p}: {got} vs {exact}");
            }
            assert_eq!(h.max(), *values.last().unwrap());
            assert_eq!(h.count(), values.len() as u64);
        };
        check(&mut (1..=100_000).collect());
        let mut rng = Rng::new(3);
        // Long-tailed, like latencies: mostly ~2 ms, a tail into seconds.
        check(
            &mut (0..200_000)
                .map(|_| (500.0 * (-rng.unit().max(1e-12).ln()).powf(3.0)) as u64 + 100)
                .collect(),
        );
        check(&mut vec![7; 10]);
        let mut merged = Histogram::default();
        let mut other = Histogram::default();
        (0..1000).for_each(|v| merged.record(v));
        (1000..2000).for_each(|v| other.record(v));
        merged.merge(&other);
        assert!((merged.percentile(50.0) as f64 - 999.0).abs() <= 10.0);
        assert_eq!(Histogram::default().percentile(99.0), 0);
    }

    #[test]
    fn recall_counts_found_unexpected_and_secondary() {
        let inj = |kind: InjectKind, sel: &str| {
            Some(gen::Injection { kind, sel: sel.into(), first_seq: 5, last_seq: 8 })
        };
        let truth: HashMap<String, _> = [
            ("r-1".to_owned(), (inj(InjectKind::Rage, "button#rage-1"), true)),
            ("r-2".to_owned(), (inj(InjectKind::Dead, "button#dead-2"), true)),
            ("r-3".to_owned(), (inj(InjectKind::Error, "button#err-3"), false)),
            ("r-4".to_owned(), (None, true)),
        ]
        .into();
        let line = |kind: &str, sid: &str, sel: &str| IncidentLine {
            kind: kind.into(),
            sid: sid.into(),
            sel: Some(sel.into()),
        };
        let incidents = vec![
            line("rage_click", "r-1", "button#rage-1"),
            line("rage_click", "r-1", "button#rage-1"),
            line("dead_click", "r-1", "button#rage-1"),
            line("dead_click", "r-4", "div.cart > button#checkout.btn"),
            line("dead_click", "r-2", "nav.top > ul > li > a.menu"),
            line("dead_click", "other-run-9", "button#x"),
        ];
        let r = compare(&truth, &incidents);
        assert_eq!(r.by_kind["rage_click"].found, 1, "a duplicate counts once");
        assert_eq!(r.by_kind["rage_click"].recall, 1.0);
        assert_eq!((r.by_kind["dead_click"].expected, r.by_kind["dead_click"].found), (1, 0));
        assert_eq!(r.by_kind["error_click"].expected, 0, "undelivered patterns are not expected");
        assert_eq!(r.undelivered, 1);
        assert_eq!(r.unexpected.get("dead_click"), Some(&2));
        assert_eq!(r.secondary.get("rage_click->dead_click"), Some(&1));
        assert_eq!(r.incidents, 5, "other runs' incidents are ignored");
    }

    #[tokio::test]
    async fn client_reads_sized_and_chunked_answers_on_one_connection() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let answers: [&[u8]; 2] = [
                b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 42\r\n\r\n{\"accepted\":3,\"dropped\":[],\"truncated\":[]}",
                b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 2\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{\"rea\r\n12\r\nson\":\"rate_limit\"}\r\n0\r\n\r\n",
            ];
            let mut seen = HashSet::new();
            for a in answers {
                let mut buf = [0u8; 256];
                let n = s.read(&mut buf).await.unwrap();
                seen.insert(buf[..n].to_vec());
                s.write_all(a).await.unwrap();
            }
            seen.len()
        });
        let mut c = crate::http::Conn::connect(addr).await.unwrap();
        let r = c.send(b"POST /v1/batch HTTP/1.1\r\nContent-Length: 1\r\n\r\na").await.unwrap();
        assert_eq!((r.status, r.retry_after, r.close), (202, None, false));
        assert_eq!(r.body, br#"{"accepted":3,"dropped":[],"truncated":[]}"#);
        let r = c.send(b"POST /v1/batch HTTP/1.1\r\nContent-Length: 1\r\n\r\nb").await.unwrap();
        assert_eq!((r.status, r.retry_after), (429, Some(2)));
        assert_eq!(r.body, br#"{"reason":"rate_limit"}"#);
        assert_eq!(server.await.unwrap(), 2);
    }

    #[test]
    fn urls_parse_into_targets() {
        let t = crate::http::target("http://127.0.0.1:9000/ingest/").unwrap();
        assert_eq!((t.host.as_str(), t.path.as_str()), ("127.0.0.1:9000", "/ingest/v1/batch"));
        assert_eq!(t.addr.port(), 9000);
        assert!(crate::http::target("https://example.com").is_err());
    }
}
