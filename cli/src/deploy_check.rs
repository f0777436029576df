//! Checks `deploy/` against the code: every `ufse` command line the
//! compose file runs parses, every `UFSE_` variable it sets is one the
//! configuration reads (and its value is valid), and Prometheus scrapes the
//! edges on the port they listen on. The compose file is not started here
//! (no container engine in CI); this keeps it from drifting.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;

use crate::cli::Cli;
use crate::config::Config;

fn deploy_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn unquote(s: &str) -> &str {
    s.trim().trim_matches('"')
}

/// The compose file's services, each with its lines (indented under it).
fn services(compose: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut in_services = false;
    let mut current = None;
    for line in compose.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            in_services = line.trim_end() == "services:";
            current = None;
            continue;
        }
        if !in_services {
            continue;
        }
        if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':')) {
            if !name.starts_with(' ') {
                current = Some(name.to_owned());
                out.entry(name.to_owned()).or_default();
                continue;
            }
        }
        if let Some(c) = &current {
            out.get_mut(c).unwrap().push(line.trim().to_owned());
        }
    }
    out
}

/// Every `UFSE_NAME: value` in the file.
fn ufse_variables(compose: &str) -> Vec<(String, String)> {
    compose
        .lines()
        .filter_map(|l| l.trim().split_once(": "))
        .filter(|(k, _)| k.starts_with("UFSE_"))
        .map(|(k, v)| (k.to_owned(), unquote(v).to_owned()))
        .collect()
}

/// The `ufse` command lines the services run: `command: [...]` lists, and
/// `ufse ...` commands inside an `entrypoint` shell line.
fn command_lines(compose: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in compose.lines().map(str::trim) {
        if let Some(list) = line.strip_prefix("command: [").and_then(|l| l.strip_suffix(']')) {
            let mut args = vec!["ufse".to_owned()];
            args.extend(list.split(',').map(|a| unquote(a).to_owned()));
            out.push(args);
        }
        if let Some(list) = line.strip_prefix("entrypoint: [").and_then(|l| l.strip_suffix(']')) {
            let script = unquote(list.rsplit(", ").next().unwrap());
            for part in script.split("&&") {
                let words: Vec<String> = part.split_whitespace().map(str::to_owned).collect();
                assert_eq!(words.first().map(String::as_str), Some("ufse"), "entrypoint runs ufse: {line}");
                out.push(words);
            }
        }
    }
    out
}

#[test]
fn every_command_line_in_the_compose_file_parses() {
    let compose = deploy_file("docker-compose.yml");
    let lines = command_lines(&compose);
    let roles: Vec<&str> = lines.iter().map(|l| l[1].as_str()).collect();
    for role in ["ingest", "process", "kafka", "migrate"] {
        assert!(roles.contains(&role), "the compose file runs `ufse {role}`: {roles:?}");
    }
    for args in &lines {
        if let Err(e) = Cli::try_parse_from(args) {
            panic!("`{}` in deploy/docker-compose.yml does not parse: {e}", args.join(" "));
        }
    }
}

#[test]
fn every_ufse_variable_in_the_compose_file_is_read_and_valid() {
    let compose = deploy_file("docker-compose.yml");
    let vars = ufse_variables(&compose);
    assert!(vars.len() >= 6, "{vars:?}");
    for (name, value) in vars {
        if name == "UFSE_LOG" {
            // The log filter, read by main.rs rather than the configuration.
            assert!(include_str!("main.rs").contains("\"UFSE_LOG\""));
            continue;
        }
        let rest = name["UFSE_".len()..].to_ascii_lowercase();
        assert!(crate::config::section_key(&rest).is_some(), "{name}: no such section");
        if let Err(e) = Config::load(None, [(name.clone(), value.clone())]) {
            panic!("{name}={value} in deploy/docker-compose.yml: {e:#}");
        }
    }
}

#[test]
fn prometheus_scrapes_every_edge_on_the_port_it_listens_on() {
    let compose = deploy_file("docker-compose.yml");
    let services = services(&compose);
    let prometheus = deploy_file("prometheus.yml");
    let edges: Vec<(&String, &Vec<String>)> =
        services.iter().filter(|(_, lines)| lines.iter().any(|l| l == "command: [\"ingest\"]")).collect();
    assert!(edges.len() >= 2, "{:?}", services.keys());
    for (name, lines) in edges {
        let listen = lines
            .iter()
            .find_map(|l| l.strip_prefix("UFSE_INGEST_LISTEN: "))
            .unwrap_or_else(|| panic!("{name} sets UFSE_INGEST_LISTEN"));
        let port = listen.rsplit(':').next().unwrap();
        let cfg = Config::load(None, [("UFSE_INGEST_LISTEN".to_owned(), listen.to_owned())]).unwrap();
        assert_eq!(cfg.ingest.listen_addr().unwrap().port().to_string(), port);
        assert!(
            lines.iter().any(|l| l.starts_with("ports:") && l.contains(&format!(":{port}\""))),
            "{name} publishes port {port}"
        );
        assert!(prometheus.contains(&format!("\"{name}:{port}\"")), "prometheus.yml scrapes {name}:{port}");
    }
}

#[test]
fn prometheus_scrapes_every_processor_where_it_serves_metrics() {
    let compose = deploy_file("docker-compose.yml");
    let prometheus = deploy_file("prometheus.yml");
    let processors: Vec<(String, Vec<String>)> = services(&compose)
        .into_iter()
        .filter(|(_, lines)| lines.iter().any(|l| l == "command: [\"process\"]"))
        .collect();
    assert!(processors.len() >= 2, "{processors:?}");
    for (name, lines) in processors {
        let listen = lines
            .iter()
            .find_map(|l| l.strip_prefix("UFSE_PROCESSOR_METRICS_LISTEN: "))
            .unwrap_or_else(|| panic!("{name} sets UFSE_PROCESSOR_METRICS_LISTEN"));
        let cfg =
            Config::load(None, [("UFSE_PROCESSOR_METRICS_LISTEN".to_owned(), listen.to_owned())]).unwrap();
        assert_eq!(cfg.processor.metrics_listen.as_deref(), Some(listen));
        let port = listen.rsplit(':').next().unwrap();
        assert!(prometheus.contains(&format!("\"{name}:{port}\"")), "prometheus.yml scrapes {name}:{port}");
    }
}

#[test]
fn prometheus_scrapes_every_cold_path_worker_where_it_serves_metrics() {
    let compose = deploy_file("docker-compose.yml");
    let prometheus = deploy_file("prometheus.yml");
    let workers: Vec<(String, Vec<String>)> = services(&compose)
        .into_iter()
        .filter(|(_, lines)| lines.iter().any(|l| l == "command: [\"work\"]"))
        .collect();
    assert!(workers.len() >= 2, "{workers:?}");
    for (name, lines) in workers {
        let listen = lines
            .iter()
            .find_map(|l| l.strip_prefix("UFSE_COLD_PATH_LISTEN: "))
            .unwrap_or_else(|| panic!("{name} sets UFSE_COLD_PATH_LISTEN"));
        let cfg = Config::load(None, [("UFSE_COLD_PATH_LISTEN".to_owned(), listen.to_owned())]).unwrap();
        assert_eq!(cfg.cold_path.listen.as_deref(), Some(listen));
        let port = listen.rsplit(':').next().unwrap();
        assert!(prometheus.contains(&format!("\"{name}:{port}\"")), "prometheus.yml scrapes {name}:{port}");
    }
}
