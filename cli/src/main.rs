//! `ufse`: every role of UFSE behind one command line.
//!
//! The binary is thin: it parses flags, loads configuration and calls into
//! the crates that own each concern. Exit codes: 0 success, 1 failure,
//! 2 usage error. A closed stdout pipe (`ufse issues list | head`) is not
//! an error.

mod cli;
mod cold;
mod cold_commands;
mod commands;
mod config;
#[cfg(test)]
mod deploy_check;
mod output;
mod replay;
mod serve;
mod sessions;

use std::process::ExitCode;

use clap::Parser;

// The hot path allocates many small, short-lived objects per event (parsed
// JSON, strings); glibc's allocator spent a quarter of `serve`'s CPU on
// them under load, mimalloc far less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(args) {
        Ok(code) => code,
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: cli::Cli) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("UFSE_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let mut cfg = config::Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(dir) = &args.data_dir {
        cfg.data.dir.clone_from(dir);
    }
    commands::dispatch(args, cfg)
}
