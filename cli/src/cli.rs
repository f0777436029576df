//! The command line, each flag defined once (help is generated from it).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// UFSE turns what users do in a web app into tickets engineers can act on.
#[derive(Debug, Parser)]
#[command(name = "ufse", version, about)]
pub struct Cli {
    /// Configuration file (TOML); every key can also be set as UFSE_<SECTION>_<KEY>.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory for embedded storage [default: ./ufse-data].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print lists as JSON Lines, one object per line.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every role in one process: on embedded storage, or on the
    /// engines `[kafka]`, `[postgres]` and `[clickhouse]` name.
    Serve(ServeArgs),
    /// Run only the HTTP edge, producing to Kafka (`[kafka] brokers`).
    Ingest(RoleArgs),
    /// Run only the processor, as a member of `[kafka] group`: consume,
    /// detect, store (PostgreSQL with `[postgres] url`; raw events and
    /// signals in ClickHouse with `[clickhouse] url`).
    Process(RoleArgs),
    /// Run only the cold path's workers: explanations, tickets, their sync
    /// and the trackers' webhooks (any number of them on PostgreSQL).
    Work(WorkArgs),
    /// Manage the Kafka topic.
    #[command(subcommand)]
    Kafka(KafkaCommand),
    /// Manage projects and their write keys.
    #[command(subcommand)]
    Projects(ProjectsCommand),
    /// Stored incidents.
    #[command(subcommand)]
    Incidents(ListCommand),
    /// Issues: incidents grouped across sessions, and their lifecycle.
    #[command(subcommand)]
    Issues(IssuesCommand),
    /// Tickets filed for issues, and those waiting to be.
    #[command(subcommand)]
    Tickets(TicketsCommand),
    /// The cold path's job queue.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Create or update the store's tables: the PostgreSQL schema when
    /// `[postgres] url` is set, the SQLite files otherwise, and ClickHouse's
    /// when `[clickhouse] url` is set (every command also does this when it
    /// opens them).
    Migrate,
    /// Run the rules over newline-delimited batches, offline.
    Detect(DetectArgs),
    /// Replay a stored session: its timeline, with the signals inline.
    Replay(ReplayArgs),
    /// Score a profile against a labelled corpus: precision and recall per signal kind.
    Evaluate(EvaluateArgs),
}

/// `evaluate`
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub rules: RulesArgs,
    /// The corpus: labels.jsonl plus one batches file per split.
    #[arg(long, value_name = "DIR", default_value = "corpus")]
    pub corpus: PathBuf,
    /// Which sessions: train (may be looked at while tuning), holdout, browser
    /// (recorded in a real browser against the demo shop), or all.
    #[arg(long, default_value = "holdout", value_parser = ["train", "holdout", "browser", "all"])]
    pub split: String,
    /// Also list every session where the rules and the label disagree.
    #[arg(long)]
    pub misses: bool,
}

/// `replay`
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Session id.
    pub sid: String,
    /// Project name.
    #[arg(long, default_value = "default")]
    pub project: String,
    /// For each signal, the rule and parameters that fired and the evidence events.
    #[arg(long)]
    pub explain: bool,
    /// Also run the session under this profile (its defaults) and show what differs.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Print the timeline at the pace it happened.
    #[arg(long)]
    pub follow: bool,
    /// With --follow: how many times faster than it happened.
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    pub speed: f64,
    /// Start this far into the session: ms, or 1500ms, 30s, 2m, 1h.
    #[arg(long, value_name = "OFFSET")]
    pub from: Option<String>,
    /// Stop this far into the session (same forms as --from).
    #[arg(long, value_name = "OFFSET")]
    pub to: Option<String>,
}

/// `serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub role: RoleArgs,
    /// Also serve the demo shop (project `demo`, a new key each start).
    #[arg(long)]
    pub demo: bool,
    /// Where the demo shop listens; port 0 picks a free one.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8081", requires = "demo")]
    pub demo_listen: String,
    /// The SDK's directory, with `demo/` and the built `dist/`.
    #[arg(long, value_name = "DIR", default_value = "sdk-wasm", requires = "demo")]
    pub demo_dir: std::path::PathBuf,
}

/// The flags of the serving roles (`serve`, `ingest`, `process`).
#[derive(Debug, Args)]
pub struct RoleArgs {
    /// Address to listen on [default: 127.0.0.1:8080]; port 0 picks a free one. For `process`,
    /// where it serves `/metrics` (`[processor] metrics_listen`; unset, nowhere).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    #[command(flatten)]
    pub rules: RulesArgs,
    /// The event log on Kafka at these bootstrap servers (`[kafka] brokers`).
    #[arg(long, value_name = "HOST:PORT,...")]
    pub kafka: Option<String>,
    /// The store on PostgreSQL at this URL (`[postgres] url`), in `[postgres] schema`.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// Raw events and signals also in ClickHouse at this HTTP URL (`[clickhouse] url`), in
    /// `[clickhouse] database` (not `ingest`).
    #[arg(long, value_name = "URL")]
    pub clickhouse: Option<String>,
}

/// `kafka ...`
#[derive(Debug, Subcommand)]
pub enum KafkaCommand {
    /// Create the topic with `[kafka] partitions`, `replication_factor` and
    /// `retention_ms`, unless it exists (brokers may not create topics).
    Init {
        /// Kafka bootstrap servers (`[kafka] brokers`).
        #[arg(long, value_name = "HOST:PORT,...")]
        kafka: Option<String>,
    },
}

/// Rule selection, shared by `serve` and `detect`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Rules file overriding the profile's parameters.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Rule profile [default: ufse].
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// `projects ...`
#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// Create a project; prints its write key alone on the last line.
    Create {
        /// Project name: 1 to 64 of A-Z a-z 0-9 _ -.
        name: String,
    },
    /// List projects and their keys.
    List,
    /// Set the origins whose pages may send to a project (`*`, the default, is any).
    Origins {
        /// Project name.
        name: String,
        /// Origins such as https://shop.example.com, or `*`.
        #[arg(required = true)]
        origins: Vec<String>,
    },
    /// Manage keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// `projects keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Revoke a write key; requests with it get 401.
    Revoke {
        /// The key.
        key: String,
    },
}

/// `incidents list`
#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// List, newest first.
    List(ListArgs),
}

/// `issues ...`
#[derive(Debug, Subcommand)]
pub enum IssuesCommand {
    /// List, most recently seen first.
    List(ListArgs),
    /// Everything about one issue: counts, pages, samples, explanation, tickets, audit trail.
    Show {
        /// Its fingerprint, or a unique start of it (as `issues list` shows).
        fingerprint: String,
    },
    /// Mark it fixed: a new incident after this regresses it.
    Resolve(MoveArgs),
    /// Stop acting on it (its counts still move; no tickets, no regressions).
    Ignore(MoveArgs),
    /// Open it again: its ticket is reopened (or a follow-up filed) if it has one.
    Reopen(MoveArgs),
}

/// A person's lifecycle move.
#[derive(Debug, Args)]
pub struct MoveArgs {
    /// Its fingerprint, or a unique start of it.
    pub fingerprint: String,
    /// Why, for the audit trail.
    #[arg(long, default_value = "")]
    pub reason: String,
}

/// `tickets ...`
#[derive(Debug, Subcommand)]
pub enum TicketsCommand {
    /// Tickets filed, newest first.
    List {
        /// Only those in this tracker.
        #[arg(long, value_parser = ["linear", "jira"])]
        provider: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Tickets waiting: held by the readiness check (with its reasons), or for approval.
    Pending,
    /// File an issue's pending ticket (with the approval gate on).
    Approve {
        /// Its fingerprint, or a unique start of it.
        fingerprint: String,
    },
    /// Do not file an issue's pending or held ticket.
    Reject {
        /// Its fingerprint, or a unique start of it.
        fingerprint: String,
        /// Why, for the record.
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// `jobs ...`
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Jobs, oldest first.
    List {
        /// Only those queued, claimed (by a worker) or dead (given up).
        #[arg(long, value_parser = ["queued", "claimed", "dead"])]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Queue a dead (or queued) job again, due now, its attempts forgiven.
    Retry {
        /// Its id.
        id: i64,
    },
    /// Delete a job.
    Drop {
        /// Its id.
        id: i64,
    },
}

/// `work`
#[derive(Debug, Args)]
pub struct WorkArgs {
    /// Where to serve the trackers' webhooks, /metrics and /healthz (`[cold_path] listen`;
    /// unset, nowhere); port 0 picks a free one.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The store on PostgreSQL at this URL (`[postgres] url`), in `[postgres] schema`.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// Sessions' events read back from ClickHouse at this HTTP URL (`[clickhouse] url`).
    #[arg(long, value_name = "URL")]
    pub clickhouse: Option<String>,
}

/// Filters of the list commands.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Project name.
    #[arg(long, default_value = "default")]
    pub project: String,
    /// Only this kind (rage_click, dead_click, slow_click, error_click, failed_request, form_loop,
    /// thrashed_cursor, u_turn, excessive_scroll, unresponsive).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only since this time: ms since the epoch, or a duration ago such as 15m, 24h, 7d.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

/// `sessions ...`
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// A session's summary and timeline.
    Show {
        /// Session id.
        sid: String,
        /// Project name.
        #[arg(long, default_value = "default")]
        project: String,
    },
}

/// `detect`
#[derive(Debug, Args)]
pub struct DetectArgs {
    #[command(flatten)]
    pub rules: RulesArgs,
    /// Input file of newline-delimited batches; `-` or nothing for stdin.
    pub input: Option<PathBuf>,
}
