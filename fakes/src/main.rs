//! `ufse-fakes`: one of the local SaaS fakes as a process, for benchmarks
//! and trying the cold path by hand. Prints `listening on URL`, the URL to
//! put in the matching UFSE setting, then serves until killed; `GET /_stats`
//! is not served: the fakes answer only their provider's paths.
//!
//! ```text
//! ufse-fakes linear --listen 127.0.0.1:0 --key lin_api_fake --team TEAM-UUID [--schema FILE]
//! ufse-fakes jira --listen 127.0.0.1:0 --email a@b.c --token T --project SHOP
//! ufse-fakes openai|anthropic --listen 127.0.0.1:0 --key K
//! ```

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (which, rest) =
        args.split_first().ok_or("usage: ufse-fakes linear|jira|openai|anthropic --listen ADDR ...")?;
    let mut flags = HashMap::new();
    for pair in rest.chunks(2) {
        let [k, v] = pair else { return Err(format!("{} needs a value", pair[0])) };
        flags.insert(k.trim_start_matches("--").to_owned(), v.clone());
    }
    let get = |k: &str| flags.get(k).cloned().ok_or_else(|| format!("--{k} is required"));
    let listen = flags.get("listen").cloned().unwrap_or_else(|| "127.0.0.1:0".into());
    // Each fake serves from its own thread until this process is killed.
    let url = match which.as_str() {
        "linear" => {
            let schema = match flags.get("schema") {
                Some(s) => s.into(),
                None => ufse_fakes::linear_schema_path()
                    .ok_or("--schema is required (Linear's schema is not found)")?,
            };
            let fake = ufse_fakes::Linear::start(&get("key")?, &get("team")?, schema, &listen)?;
            let url = fake.url();
            std::mem::forget(fake);
            url
        }
        "jira" => {
            let fake = ufse_fakes::Jira::start(&get("email")?, &get("token")?, &get("project")?, &listen)?;
            let url = fake.url();
            std::mem::forget(fake);
            url
        }
        "openai" | "anthropic" => {
            let fake = match which.as_str() {
                "openai" => ufse_fakes::Model::openai(&get("key")?, &listen)?,
                _ => ufse_fakes::Model::anthropic(&get("key")?, &listen)?,
            };
            let url = fake.url();
            std::mem::forget(fake);
            url
        }
        other => return Err(format!("no fake named `{other}`: linear, jira, openai or anthropic")),
    };
    println!("listening on {url}");
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
