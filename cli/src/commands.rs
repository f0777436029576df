//! The non-serving commands: projects, lists, sessions and detect.

use std::fs::File;
use std::io::{self, BufReader};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use ufse_clickhouse::ClickHouse;
use ufse_incident_store::{
    ColdPathStore, IncidentStore, ListFilter, PgEventStore, PgStore, RawEventStore, SqliteEventStore,
    SqliteStore, Triggers,
};
use ufse_kafka::TopicInit;

use crate::cli::{
    Cli, Command, DetectArgs, EvaluateArgs, IssuesCommand, KafkaCommand, KeysCommand, ListArgs, ListCommand,
    ProjectsCommand, RoleArgs, RulesArgs, SessionsCommand, WorkArgs,
};
use crate::config::Config;
use crate::output::{fmt_ms, Out};
use crate::serve::Role;
use crate::sessions::EventSource;

/// Wall-clock ms; only for stamping and for relative `--since`.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

pub fn dispatch(args: Cli, mut cfg: Config) -> Result<ExitCode> {
    let mut out = Out::new(args.json);
    let code = match args.command {
        Command::Serve(s) => {
            apply_role_args(&mut cfg, s.role);
            let demo = s.demo.then_some(crate::serve::DemoArgs { listen: s.demo_listen, dir: s.demo_dir });
            crate::serve::serve(cfg, Role::All, demo)?
        }
        Command::Ingest(a) => {
            apply_role_args(&mut cfg, a);
            crate::serve::serve(cfg, Role::Ingest, None)?
        }
        Command::Process(mut a) => {
            if let Some(l) = a.listen.take() {
                cfg.processor.metrics_listen = Some(l);
            }
            apply_role_args(&mut cfg, a);
            crate::serve::serve(cfg, Role::Process, None)?
        }
        Command::Work(a) => {
            apply_work_args(&mut cfg, a);
            crate::serve::serve(cfg, Role::Work, None)?
        }
        Command::Kafka(KafkaCommand::Init { kafka }) => {
            if kafka.is_some() {
                cfg.kafka.brokers = kafka.unwrap_or_default();
            }
            runtime()?.block_on(kafka_init(&cfg, &mut out))?
        }
        Command::Detect(d) => detect(&mut cfg, d, &mut out)?,
        Command::Evaluate(e) => evaluate(&mut cfg, e, &mut out)?,
        cmd => runtime()?.block_on(store_command(cmd, &cfg, &mut out))?,
    };
    out.flush()?;
    Ok(code)
}

/// The flags the serving roles share override their config keys.
fn apply_role_args(cfg: &mut Config, a: RoleArgs) {
    if let Some(l) = a.listen {
        cfg.ingest.listen = l;
    }
    if let Some(k) = a.kafka {
        cfg.kafka.brokers = k;
    }
    if a.postgres.is_some() {
        cfg.postgres.url = a.postgres;
    }
    if let Some(c) = a.clickhouse {
        cfg.clickhouse.url = c;
    }
    apply_rules_args(cfg, a.rules);
}

/// `ufse work`'s flags override their config keys.
fn apply_work_args(cfg: &mut Config, a: WorkArgs) {
    if a.listen.is_some() {
        cfg.cold_path.listen = a.listen;
    }
    if a.postgres.is_some() {
        cfg.postgres.url = a.postgres;
    }
    if let Some(c) = a.clickhouse {
        cfg.clickhouse.url = c;
    }
}

/// `ufse kafka init`.
async fn kafka_init(cfg: &Config, out: &mut Out) -> Result<ExitCode> {
    let k = &cfg.kafka;
    if !k.enabled() {
        bail!("no Kafka brokers: set [kafka] brokers, UFSE_KAFKA_BROKERS or --kafka");
    }
    match ufse_kafka::init_topic(k)
        .await
        .with_context(|| format!("cannot create topic {} on {}", k.topic, k.brokers))?
    {
        TopicInit::Created { partitions } => {
            out.line(format!("created topic {} with {partitions} partitions", k.topic))?
        }
        TopicInit::Existed { partitions } if partitions == k.partitions => {
            out.line(format!("topic {} exists with {partitions} partitions", k.topic))?;
        }
        TopicInit::Existed { partitions } => out.line(format!(
            "topic {} exists with {partitions} partitions, not the {} configured; left as it is",
            k.topic, k.partitions
        ))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn apply_rules_args(cfg: &mut Config, r: RulesArgs) {
    if r.rules.is_some() {
        cfg.engine.rules_file = r.rules;
    }
    if r.profile.is_some() {
        cfg.engine.profile = r.profile;
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The configured stores: PostgreSQL when `[postgres] url` is set, else
/// the SQLite files in the data directory. Opening migrates them.
pub enum Stores {
    /// `ufse.db` and `events.db` in the data directory.
    Embedded(SqliteStore, SqliteEventStore),
    /// Both in one PostgreSQL schema.
    Postgres(PgStore, PgEventStore),
}

impl Stores {
    /// The stores, their writes queueing cold-path work as `t` says.
    pub fn with_triggers(self, t: Triggers) -> Stores {
        match self {
            Stores::Embedded(s, e) => Stores::Embedded(s.with_triggers(t), e),
            Stores::Postgres(s, e) => Stores::Postgres(s.with_triggers(t), e),
        }
    }
}

pub async fn open_stores(cfg: &Config) -> Result<Stores> {
    if let Some(url) = &cfg.postgres.url {
        let schema = &cfg.postgres.schema;
        let what = || format!("cannot open the PostgreSQL store (schema {schema}; [postgres] url)");
        let store = PgStore::connect(url, schema).await.with_context(what)?;
        let events = PgEventStore::connect(url, schema).await.with_context(what)?;
        return Ok(Stores::Postgres(store, events));
    }
    std::fs::create_dir_all(&cfg.data.dir)
        .with_context(|| format!("cannot create data directory {}", cfg.data.dir.display()))?;
    let path = cfg.data.dir.join("ufse.db");
    let store = SqliteStore::open(&path).await.with_context(|| format!("cannot open {}", path.display()))?;
    let path = cfg.data.dir.join("events.db");
    let events =
        SqliteEventStore::open(&path).await.with_context(|| format!("cannot open {}", path.display()))?;
    Ok(Stores::Embedded(store, events))
}

async fn store_command(cmd: Command, cfg: &Config, out: &mut Out) -> Result<ExitCode> {
    let stores = open_stores(cfg).await?;
    if let Command::Migrate = cmd {
        out.line(match &stores {
            Stores::Embedded(..) => format!("migrated the SQLite store in {}", cfg.data.dir.display()),
            Stores::Postgres(..) => format!("migrated the PostgreSQL store, schema {}", cfg.postgres.schema),
        })?;
        if cfg.clickhouse.enabled() {
            ClickHouse::open(&cfg.clickhouse).await?;
            out.line(format!("migrated the ClickHouse tables, database {}", cfg.clickhouse.database))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let code = match &stores {
        Stores::Embedded(store, events) => run_store_command(cmd, cfg, out, store, events).await,
        Stores::Postgres(store, events) => run_store_command(cmd, cfg, out, store, events).await,
    };
    match stores {
        Stores::Embedded(store, events) => (store.close().await, events.close().await),
        Stores::Postgres(store, events) => (store.close().await, events.close().await),
    };
    code
}

async fn run_store_command(
    cmd: Command,
    cfg: &Config,
    out: &mut Out,
    store: &(impl IncidentStore + ColdPathStore),
    events: &(impl RawEventStore + Clone),
) -> Result<ExitCode> {
    match cmd {
        Command::Projects(ProjectsCommand::Create { name }) => {
            let key = store.create_project(&name, now_ms()).await?;
            if out.json {
                out.json_line(&serde_json::json!({"project": name, "key": key}))?;
            } else {
                out.line(format!("created project {name}; its write key:"))?;
                out.line(&key)?;
            }
        }
        Command::Projects(ProjectsCommand::List) => {
            for p in store.list_projects().await? {
                if out.json {
                    out.json_line(&p)?;
                    continue;
                }
                let live = p.keys.iter().filter(|k| k.revoked_ms.is_none()).count();
                out.line(format!(
                    "{}  created {}  sessions {}  keys: {} live, {} revoked  origins: {}",
                    p.name,
                    fmt_ms(p.created_ms),
                    p.sessions,
                    live,
                    p.keys.len() - live,
                    p.allowed_origins.join(",")
                ))?;
                for k in &p.keys {
                    let state = k.revoked_ms.map_or("live".to_owned(), |t| format!("revoked {}", fmt_ms(t)));
                    out.line(format!("  {}…  {}", k.prefix, state))?;
                }
            }
        }
        Command::Projects(ProjectsCommand::Origins { name, origins }) => {
            for o in &origins {
                if o != "*" && !(o.starts_with("http://") || o.starts_with("https://")) || o.contains(',') {
                    bail!("invalid origin `{o}`: use `*` or scheme://host[:port], such as https://shop.example.com");
                }
            }
            store.set_allowed_origins(&name, &origins).await?;
            out.line(format!("{name} accepts batches from: {}", origins.join(" ")))?;
        }
        Command::Projects(ProjectsCommand::Keys(KeysCommand::Revoke { key })) => {
            store.revoke_key(&key, now_ms()).await?;
            out.line(format!("revoked {}…", &key[..key.len().min(9)]))?;
        }
        Command::Incidents(ListCommand::List(a)) => {
            for i in store.incidents(&filter(a)?).await? {
                if out.json {
                    out.json_line(&i)?;
                } else {
                    out.line(format!(
                        "{}  {:<12} {}  sid={} count={} sel={} url={}",
                        fmt_ms(i.ts),
                        i.kind,
                        &i.id[..12],
                        i.sid,
                        i.count,
                        i.sel.as_deref().unwrap_or("-"),
                        i.url.as_deref().unwrap_or("-"),
                    ))?;
                }
            }
        }
        Command::Issues(IssuesCommand::List(a)) => {
            for i in store.issues(&filter(a)?).await? {
                if out.json {
                    out.json_line(&i)?;
                } else {
                    out.line(format!(
                        "{}  {:<8} {:<12} {:<6} incidents={} sessions={} users={}  {}  {}  last {}",
                        &i.fingerprint[..12],
                        i.severity,
                        i.kind,
                        i.status,
                        i.incidents,
                        i.sessions,
                        i.users,
                        i.url_template,
                        i.sel.as_deref().unwrap_or("-"),
                        fmt_ms(i.last_seen),
                    ))?;
                }
            }
        }
        Command::Sessions(SessionsCommand::Show { sid, project }) => {
            let parts = store.session(&project, &sid).await?;
            let logged = match EventSource::new(cfg, events.clone()).batches(&project, &sid).await? {
                Some(batches) => ufse_processor::batch_events(&batches),
                None => Vec::new(),
            };
            if parts.is_empty() && logged.is_empty() {
                bail!("no session {sid} in project {project}");
            }
            if out.json {
                for p in &parts {
                    out.json_line(&serde_json::json!({"type": "summary", "summary": p}))?;
                }
                for e in &logged {
                    out.json_line(&serde_json::json!({"type": "event", "event": e}))?;
                }
            } else {
                for p in &parts {
                    out.line(format!(
                        "session {} part {}  {} .. {}  ({} ms)  pages={}  uid={}  {}",
                        p.sid,
                        p.part,
                        fmt_ms(p.start_ts),
                        fmt_ms(p.end_ts),
                        p.duration_ms(),
                        p.pages,
                        p.uid.as_deref().unwrap_or("-"),
                        if p.ended { "ended" } else { "live" },
                    ))?;
                    let signals: Vec<String> = p.signals.iter().map(|(k, n)| format!("{k}={n}")).collect();
                    out.line(format!(
                        "  signals: {}",
                        if signals.is_empty() { "none".into() } else { signals.join(" ") }
                    ))?;
                }
                let start = logged.first().and_then(|e| e["ts"].as_i64()).unwrap_or(0);
                for e in &logged {
                    out.line(crate::replay::timeline_line(e, start))?;
                }
            }
        }
        Command::Replay(args) => {
            let Some(batches) =
                EventSource::new(cfg, events.clone()).batches(&args.project, &args.sid).await?
            else {
                bail!(
                    "replay reads events from ClickHouse or the embedded log; with [kafka] brokers set, \
                     set [clickhouse] url too"
                );
            };
            let events = ufse_processor::batch_events(&batches);
            if events.is_empty() {
                bail!("no session {} in project {}", args.sid, args.project);
            }
            let rules = cfg.engine.rules()?;
            let other = args.profile.as_deref().map(ufse_engine::RuleSet::profile).transpose()?.map(Arc::new);
            let run = |rules: &Arc<ufse_engine::RuleSet>| {
                ufse_sessionizer::detect_batches(batches.clone(), Arc::clone(rules), cfg.sessionizer.clone())
            };
            let base = crate::replay::Run { signals: run(&rules), rules: Arc::clone(&rules) };
            let other = other.map(|r| crate::replay::Run { signals: run(&r), rules: r });
            crate::replay::print(out, &args, &events, &base, other.as_ref())?;
        }
        cmd @ (Command::Issues(_) | Command::Tickets(_) | Command::Jobs(_)) => {
            return crate::cold_commands::run(cmd, cfg, out, store, &EventSource::new(cfg, events.clone()))
                .await;
        }
        Command::Serve(_)
        | Command::Ingest(_)
        | Command::Process(_)
        | Command::Work(_)
        | Command::Kafka(_)
        | Command::Detect(_)
        | Command::Evaluate(_)
        | Command::Migrate => {
            unreachable!("handled by dispatch and store_command")
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn filter(a: ListArgs) -> Result<ListFilter> {
    let since_ms = a.since.as_deref().map(|s| parse_since(s, now_ms())).transpose()?;
    Ok(ListFilter { project: a.project, kind: a.kind, since_ms, limit: a.limit })
}

/// `--since`: ms since the epoch, or a duration ago (`90s`, `15m`, `24h`, `7d`).
fn parse_since(s: &str, now: i64) -> Result<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = num
        .parse()
        .with_context(|| format!("invalid --since `{s}`: use ms since the epoch or 15m, 24h, 7d"))?;
    let ms = match unit {
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => bail!("invalid --since `{s}`: the unit must be s, m, h or d"),
    };
    Ok(now - n * ms)
}

fn detect(cfg: &mut Config, args: DetectArgs, out: &mut Out) -> Result<ExitCode> {
    apply_rules_args(cfg, args.rules);
    let rules = cfg.engine.rules()?;
    let report = match args.input.as_deref() {
        None => ufse_sessionizer::detect(io::stdin().lock(), rules, cfg.sessionizer.clone())?,
        Some(p) if p.as_os_str() == "-" => {
            ufse_sessionizer::detect(io::stdin().lock(), rules, cfg.sessionizer.clone())?
        }
        Some(p) => {
            let f = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            ufse_sessionizer::detect(BufReader::new(f), rules, cfg.sessionizer.clone())?
        }
    };
    for problem in &report.problems {
        eprintln!("{problem}");
    }
    for s in &report.signals {
        out.json_line(s)?;
    }
    Ok(if report.invalid_lines > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn evaluate(cfg: &mut Config, args: EvaluateArgs, out: &mut Out) -> Result<ExitCode> {
    apply_rules_args(cfg, args.rules);
    let rules = cfg.engine.rules()?;
    let read = |name: &str| {
        let path = args.corpus.join(name);
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let mut labels = Vec::new();
    for (i, line) in read("labels.jsonl")?.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let label: ufse_sessionizer::Label = serde_json::from_str(line)
            .with_context(|| format!("{}: line {}", args.corpus.join("labels.jsonl").display(), i + 1))?;
        if args.split == "all" || label.split == args.split {
            labels.push(label);
        }
    }
    let splits: &[&str] =
        if args.split == "all" { &["train", "holdout", "browser"] } else { &[args.split.as_str()] };
    let mut batches = String::new();
    for split in splits {
        batches.push_str(&read(&format!("{split}.jsonl"))?);
    }
    let name = rules.name();
    let e = ufse_sessionizer::evaluate(batches.as_bytes(), &labels, rules, cfg.sessionizer.clone())?;
    if !e.problems.is_empty() {
        bail!("the corpus has invalid input: {}", e.problems.join("; "));
    }
    if out.json {
        for k in &e.kinds {
            out.json_line(&serde_json::json!({"type": "kind", "profile": name, "score": k}))?;
        }
        if args.misses {
            for m in &e.misses {
                out.json_line(&serde_json::json!({"type": "miss", "miss": m}))?;
            }
        }
        out.json_line(&serde_json::json!({"type": "summary", "profile": name, "split": args.split,
            "sessions": e.sessions, "lookalikes": e.lookalikes,
            "lookalikes_with_signals": e.lookalikes_with_signals}))?;
        return Ok(ExitCode::SUCCESS);
    }
    out.line(format!("{} sessions ({} split), profile {name}", e.sessions, args.split))?;
    out.line(format!(
        "{:<18} {:>9} {:>7} {:>5} {:>5} {:>5}",
        "kind", "precision", "recall", "tp", "fp", "fn"
    ))?;
    for k in &e.kinds {
        let (p, r) = if k.in_profile {
            (format!("{:.3}", k.precision), format!("{:.3}", k.recall))
        } else {
            ("n/a".into(), "n/a".into())
        };
        out.line(format!(
            "{:<18} {p:>9} {r:>7} {:>5} {:>5} {:>5}",
            k.kind, k.true_positives, k.false_positives, k.false_negatives
        ))?;
    }
    out.line(format!("look-alikes: {} sessions, {} with a signal", e.lookalikes, e.lookalikes_with_signals))?;
    if args.misses {
        for m in &e.misses {
            out.line(format!("{} {} ({}): {}", m.error, m.kind, m.scenario, m.sid))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_epoch_ms_or_a_duration_ago() {
        assert_eq!(parse_since("1700000000000", 0).unwrap(), 1_700_000_000_000);
        assert_eq!(parse_since("15m", 1_000_000).unwrap(), 100_000);
        assert_eq!(parse_since("2d", 200_000_000).unwrap(), 200_000_000 - 172_800_000);
        assert!(parse_since("3w", 0).is_err());
        assert!(parse_since("soon", 0).is_err());
    }
}
