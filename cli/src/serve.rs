//! `ufse serve`: the edge, the embedded log, the processor and the store
//! in one process, with graceful shutdown on SIGTERM or SIGINT.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::oneshot;
use ufse_engine::RuleSet;
use ufse_event_log::{system_clock, EmbeddedLog};
use ufse_incident_store::{IncidentStore, RawEventStore, StoreError};
use ufse_ingest::{Demo, Edge};
use ufse_processor::Processor;

use crate::commands::{now_ms, open_stores, Stores};
use crate::config::Config;

/// `--demo`: where the demo shop listens and where its files are.
pub struct DemoArgs {
    pub listen: String,
    pub dir: std::path::PathBuf,
}

pub fn serve(cfg: Config, demo: Option<DemoArgs>) -> Result<ExitCode> {
    if let Some(d) = &demo {
        Demo::check_files(&d.dir).map_err(|e| anyhow!(e))?;
    }
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
    rt.block_on(async {
        match open_stores(&cfg).await? {
            Stores::Embedded(store, events) => run(cfg, demo, rules, listen, metrics, store, events).await,
            Stores::Postgres(store, events) => run(cfg, demo, rules, listen, metrics, store, events).await,
        }
    })
}

/// Serves on `store` and `events` until a signal or a processor failure.
async fn run<S, E>(
    cfg: Config,
    demo: Option<DemoArgs>,
    rules: Arc<RuleSet>,
    listen: SocketAddr,
    metrics: PrometheusHandle,
    store: S,
    events: E,
) -> Result<ExitCode>
where
    S: IncidentStore + Clone,
    E: RawEventStore + Clone,
{
    let mut signals = ShutdownSignals::watch()?;
    let mut stdout = std::io::stdout();
    if let Some(key) = store.ensure_default_project(now_ms()).await? {
        writeln!(stdout, "default project key: {key}")?;
    }
    let log_dir = cfg.data.dir.join("log");
    let log = EmbeddedLog::open(&log_dir, cfg.log.clone(), system_clock())
        .with_context(|| format!("cannot open the event log in {}", log_dir.display()))?;

    let stop = Arc::new(AtomicBool::new(false));
    let processor = Processor::new(
        cfg.processor.clone(),
        cfg.sessionizer.clone(),
        rules,
        log.consumer("processor")?,
        store.clone(),
        events.clone(),
        cfg.data.dir.join("snapshots"),
        tokio::runtime::Handle::current(),
    )
    .retention({
        let log = log.clone();
        move || {
            log.enforce_retention()?;
            Ok(log.start_offsets())
        }
    });
    let (done_tx, mut done_rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("processor".into())
        .spawn({
            let stop = Arc::clone(&stop);
            move || {
                let _ = done_tx.send(processor.run(stop));
            }
        })
        .context("cannot start the processor thread")?;

    let upkeep = tokio::spawn({
        let metrics = metrics.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                metrics.run_upkeep();
            }
        }
    });

    let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    writeln!(stdout, "listening on {endpoint}")?;
    let demo_task = match demo {
        Some(d) => {
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
            Some(tokio::spawn(ufse_ingest::serve_demo(l, demo)))
        }
        None => None,
    };
    stdout.flush()?;
    let ready = Arc::new(AtomicBool::new(true));
    let edge = Arc::new(Edge::new(
        cfg.ingest.clone(),
        store.clone(),
        log.producer(),
        Arc::clone(&ready),
        Some(metrics),
        Arc::new(now_ms),
    ));
    let mut early: Option<Result<(), ufse_processor::ProcessorError>> = None;
    let shutdown = async {
        tokio::select! {
            () = signals.recv() => tracing::info!("shutting down: draining requests"),
            r = &mut done_rx => {
                tracing::error!("the processor stopped; shutting down");
                early = Some(r.unwrap_or(Ok(())));
            }
        }
    };
    ufse_ingest::serve(listener, edge, shutdown).await?;
    if let Some(t) = demo_task {
        t.abort();
    }
    // Nothing new can come in: let the processor catch up, snapshot, commit.
    stop.store(true, Ordering::Release);
    let result = match early {
        Some(r) => r,
        None => done_rx.await.unwrap_or(Ok(())),
    };
    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    upkeep.abort();
    log.close();
    store.close().await;
    events.close().await;
    result.map_err(|e| anyhow!(e)).context("the processor failed")?;
    tracing::info!("stopped cleanly");
    Ok(ExitCode::SUCCESS)
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
