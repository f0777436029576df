//! The serving roles: `ufse serve` runs the edge, the processor and the
//! cold path in one process (over the embedded log, or Kafka when `[kafka]
//! brokers` is set; the processor also writes to ClickHouse when
//! `[clickhouse] url` is set); `ufse ingest` and `ufse process` run one
//! each, sharing Kafka, and `ufse work` the cold path alone. All shut down
//! gracefully on SIGTERM or SIGINT.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::oneshot;
use ufse_clickhouse::{Archive, ClickHouse};
use ufse_engine::RuleSet;
use ufse_event_log::{system_clock, EmbeddedLog, LogConsumer, LogProducer};
use ufse_incident_store::{ColdPathStore, IncidentStore, RawEventStore, StoreError};
use ufse_ingest::{Demo, Edge};
use ufse_kafka::{KafkaConsumer, KafkaProducer, KafkaWatermarks};
use ufse_processor::{Processor, ProcessorError, Snapshots};

use crate::commands::{now_ms, open_stores, Stores};
use crate::config::Config;

/// `--demo`: where the demo shop listens and where its files are.
pub struct DemoArgs {
    pub listen: String,
    pub dir: std::path::PathBuf,
}

/// Which roles one process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `ufse serve`: the edge and the processor.
    All,
    /// `ufse ingest`: the edge alone, producing to Kafka.
    Ingest,
    /// `ufse process`: the processor alone, one member of the Kafka consumer group.
    Process,
    /// `ufse work`: the cold path's workers alone.
    Work,
}

impl Role {
    fn edge(self) -> bool {
        matches!(self, Role::All | Role::Ingest)
    }

    fn processor(self) -> bool {
        matches!(self, Role::All | Role::Process)
    }

    fn cold_path(self) -> bool {
        matches!(self, Role::All | Role::Work)
    }
}

pub fn serve(cfg: Config, role: Role, demo: Option<DemoArgs>) -> Result<ExitCode> {
    if matches!(role, Role::Ingest | Role::Process) && !cfg.kafka.enabled() {
        let name = if role == Role::Ingest { "ingest" } else { "process" };
        bail!(
            "`ufse {name}` runs one role of a deployment that shares a Kafka topic: set [kafka] brokers \
             (UFSE_KAFKA_BROKERS or --kafka), or run every role with `ufse serve`"
        );
    }
    if role == Role::Work && !(cfg.cold_path.enabled && cfg.cold_path.concurrency > 0) {
        bail!("the cold path is off ([cold_path] enabled = false or concurrency = 0): `ufse work` has nothing to do");
    }
    if let Some(d) = &demo {
        Demo::check_files(&d.dir).map_err(|e| anyhow!(e))?;
    }
    // What the hot path queues for the cold path, from the same configuration every role reads.
    let triggers = ufse_ticket_generator::triggers(&cfg.cold_path, &cfg.linear, &cfg.jira, &cfg.ai)
        .map_err(|e| anyhow!(e))?;
    let rules = cfg.engine.rules()?;
    let listen = cfg
        .ingest
        .listen_addr()
        .with_context(|| format!("invalid listen address `{}` (expected HOST:PORT)", cfg.ingest.listen))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let metrics =
        PrometheusBuilder::new().install_recorder().context("cannot install the metrics recorder")?;
    let serving = Serving { cfg, role, demo, rules, listen, metrics };
    rt.block_on(async {
        match open_stores(&serving.cfg).await?.with_triggers(triggers) {
            Stores::Embedded(store, events) => serving.run(store, events).await,
            Stores::Postgres(store, events) => serving.run(store, events).await,
        }
    })
}

/// What one serving process was asked to run.
struct Serving {
    cfg: Config,
    role: Role,
    demo: Option<DemoArgs>,
    rules: Arc<RuleSet>,
    listen: SocketAddr,
    metrics: PrometheusHandle,
}

/// The processor thread, and how it ended.
struct ProcessorThread {
    thread: std::thread::JoinHandle<()>,
    done: oneshot::Receiver<Result<(), ProcessorError>>,
}

impl Serving {
    /// Serves on `store` and `events` until a signal or a processor failure.
    async fn run<S, E>(self, store: S, events: E) -> Result<ExitCode>
    where
        S: IncidentStore + ColdPathStore + Clone,
        E: RawEventStore + Clone,
    {
        let Serving { cfg, role, demo, rules, listen, metrics } = self;
        let mut signals = ShutdownSignals::watch()?;
        let mut stdout = std::io::stdout();
        if let Some(key) = store.ensure_default_project(now_ms()).await? {
            writeln!(stdout, "default project key: {key}")?;
        }
        // The log has one writer: the process that runs the edge or the processor. (`ufse work`
        // reads sessions' records back through the raw-event index, read-only.)
        let log = if cfg.kafka.enabled() || !(role.edge() || role.processor()) {
            None
        } else {
            let dir = cfg.data.dir.join("log");
            let log = EmbeddedLog::open(&dir, cfg.log.clone(), system_clock())
                .with_context(|| format!("cannot open the event log in {}", dir.display()))?;
            Some(log)
        };

        let stop = Arc::new(AtomicBool::new(false));
        let mut processor = match role.processor() {
            true => {
                let archive = match cfg.clickhouse.enabled() {
                    true => Some(ClickHouse::open(&cfg.clickhouse).await?.archive(rules.name())),
                    false => None,
                };
                let p =
                    start_processor(&cfg, log.as_ref(), rules, &store, &events, archive, Arc::clone(&stop))?;
                Some(p)
            }
            false => None,
        };
        let cold_path = match role.cold_path() && cfg.cold_path.enabled && cfg.cold_path.concurrency > 0 {
            true => Some(crate::cold::start(&cfg, store.clone(), events.clone())?),
            false => None,
        };
        let upkeep = tokio::spawn({
            let metrics = metrics.clone();
            async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    metrics.run_upkeep();
                }
            }
        });

        // Ends on a signal, or with the processor's result if it stopped first.
        let mut early: Option<Result<(), ProcessorError>> = None;
        let shutdown = async {
            let died = async {
                match processor.as_mut() {
                    Some(p) => (&mut p.done).await.unwrap_or(Ok(())),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = signals.recv() => tracing::info!("shutting down: draining requests"),
                r = died => {
                    tracing::error!("the processor stopped; shutting down");
                    early = Some(r);
                }
            }
        };
        if role.edge() {
            let producer = match &log {
                Some(log) => log.producer(),
                None => {
                    let p = tokio::task::block_in_place(|| KafkaProducer::open(&cfg.kafka))
                        .with_context(|| format!("cannot produce to Kafka at {}", cfg.kafka.brokers))?;
                    Arc::new(p) as Arc<dyn LogProducer>
                }
            };
            let listener =
                TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
            let endpoint = format!("http://{}", listener.local_addr()?);
            writeln!(stdout, "listening on {endpoint}")?;
            let demo_task = match demo {
                Some(d) => Some(start_demo(d, &store, endpoint, &mut stdout).await?),
                None => None,
            };
            stdout.flush()?;
            let ready = Arc::new(AtomicBool::new(true));
            let edge = Edge::new(
                cfg.ingest.clone(),
                store.clone(),
                producer,
                Arc::clone(&ready),
                Some(metrics),
                Arc::new(now_ms),
            )
            .with_webhooks(crate::cold::Hooks::receiver(&cfg, store.clone()));
            let edge = Arc::new(edge);
            ufse_ingest::serve(listener, edge, shutdown).await?;
            if let Some(t) = demo_task {
                t.abort();
            }
        } else if role == Role::Work {
            let side = match &cfg.cold_path.listen {
                Some(addr) => {
                    let l = TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("cannot listen on {addr} for webhooks and /metrics"))?;
                    writeln!(stdout, "listening on http://{}", l.local_addr()?)?;
                    let hooks = Some(crate::cold::Hooks::receiver(&cfg, store.clone()));
                    Some(tokio::spawn(ufse_ingest::serve_side(l, metrics, hooks)))
                }
                None => None,
            };
            writeln!(stdout, "cold path working")?;
            stdout.flush()?;
            shutdown.await;
            if let Some(t) = side {
                t.abort();
            }
        } else {
            let metrics_task = match &cfg.processor.metrics_listen {
                Some(addr) => {
                    let l = TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("cannot listen on {addr} for /metrics"))?;
                    writeln!(stdout, "metrics on http://{}/metrics", l.local_addr()?)?;
                    Some(tokio::spawn(ufse_ingest::serve_metrics(l, metrics)))
                }
                None => None,
            };
            writeln!(stdout, "processing from {} as a member of group {}", cfg.kafka.topic, cfg.kafka.group)?;
            stdout.flush()?;
            shutdown.await;
            if let Some(t) = metrics_task {
                t.abort();
            }
        }
        // Nothing new can come in: let the processor catch up, snapshot, commit.
        stop.store(true, Ordering::Release);
        let mut result = Ok(());
        if let Some(p) = processor {
            result = match early {
                Some(r) => r,
                None => p.done.await.unwrap_or(Ok(())),
            };
            let _ = tokio::task::spawn_blocking(move || p.thread.join()).await;
        }
        upkeep.abort();
        if let Some(c) = cold_path {
            c.stop(cfg.ingest.drain_timeout()).await;
        }
        if let Some(log) = log {
            log.close();
        }
        store.close().await;
        events.close().await;
        result.map_err(|e| anyhow!(e)).context("the processor failed")?;
        tracing::info!("stopped cleanly");
        Ok(ExitCode::SUCCESS)
    }
}

/// Starts the processor on its own thread: over the embedded `log`, or as a member of the Kafka
/// consumer group with its snapshots in the store, where the other members find them; copying
/// raw events and signals to the `archive`, if any.
fn start_processor<S, E>(
    cfg: &Config,
    log: Option<&EmbeddedLog>,
    rules: Arc<RuleSet>,
    store: &S,
    events: &E,
    archive: Option<Archive>,
    stop: Arc<AtomicBool>,
) -> Result<ProcessorThread>
where
    S: IncidentStore + Clone,
    E: RawEventStore + Clone,
{
    let (consumer, snapshots): (Box<dyn LogConsumer>, _) = match log {
        Some(log) => (log.consumer("processor")?, Snapshots::Dir(cfg.data.dir.join("snapshots"))),
        None => {
            let k = &cfg.kafka;
            let consumer = tokio::task::block_in_place(|| KafkaConsumer::open(k))
                .with_context(|| format!("cannot consume from Kafka at {}", k.brokers))?;
            (Box::new(consumer), Snapshots::Store(format!("kafka/{}/{}", k.topic, k.group)))
        }
    };
    let processor = Processor::new(
        cfg.processor.clone(),
        cfg.sessionizer.clone(),
        rules,
        consumer,
        store.clone(),
        events.clone(),
        snapshots,
        tokio::runtime::Handle::current(),
    );
    let processor = match log {
        Some(log) => {
            let log = log.clone();
            processor.retention(move || {
                log.enforce_retention()?;
                Ok(log.start_offsets())
            })
        }
        // The brokers apply the topic's retention; the raw-event index follows it.
        None => {
            let watermarks = KafkaWatermarks::open(&cfg.kafka)?;
            processor.retention(move || watermarks.start_offsets())
        }
    };
    let processor = match archive {
        Some(a) => processor.archive(a),
        None => processor,
    };
    let (done_tx, done) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("processor".into())
        .spawn(move || {
            let _ = done_tx.send(processor.run(stop));
        })
        .context("cannot start the processor thread")?;
    Ok(ProcessorThread { thread, done })
}

/// Serves the demo shop beside the API, with a fresh key of project `demo`.
async fn start_demo<S: IncidentStore>(
    d: DemoArgs,
    store: &S,
    endpoint: String,
    stdout: &mut std::io::Stdout,
) -> Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let key = match store.create_project("demo", now_ms()).await {
        Err(StoreError::ProjectExists(_)) => store.rotate_key("demo", now_ms()).await?,
        r => r?,
    };
    let demo = Demo { dir: d.dir, key, endpoint };
    let l = TcpListener::bind(&d.listen)
        .await
        .with_context(|| format!("cannot listen on {} for the demo", d.listen))?;
    writeln!(
        stdout,
        "demo shop on http://{} (project demo: ufse incidents list --project demo)",
        l.local_addr()?
    )?;
    Ok(tokio::spawn(ufse_ingest::serve_demo(l, demo)))
}

/// SIGTERM and SIGINT, watched from before the server says it listens:
/// until a handler is registered, a signal takes the default action and
/// kills the process without a drain.
struct ShutdownSignals {
    term: Signal,
    int: Signal,
}

impl ShutdownSignals {
    fn watch() -> Result<Self> {
        let watch = |kind| signal(kind).context("cannot watch SIGTERM and SIGINT");
        Ok(ShutdownSignals { term: watch(SignalKind::terminate())?, int: watch(SignalKind::interrupt())? })
    }

    /// Resolves on the first of them.
    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
