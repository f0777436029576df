//! `ufse migrate`, `ufse serve` and the store commands with the store on a
//! real PostgreSQL (`[postgres] url`), the log still embedded. The server
//! is `UFSE_TEST_POSTGRES_URL`, which `scripts/test.sh` sets; run by hand
//! without it, the test says SKIPPED and checks nothing.

mod util;

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use util::*;

#[test]
fn serve_stores_in_postgres_and_every_command_reads_it_back() {
    let Ok(url) = std::env::var("UFSE_TEST_POSTGRES_URL") else {
        return skip("UFSE_TEST_POSTGRES_URL");
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let schema = format!("ufse_cli_test_{}_{nanos}", std::process::id());
    let env = [("UFSE_POSTGRES_URL", url.as_str()), ("UFSE_POSTGRES_SCHEMA", schema.as_str())];
    let dir = tempfile::tempdir().unwrap();

    let out =
        Command::new(ufse_bin()).args(["migrate", "--data-dir"]).arg(dir.path()).envs(env).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("migrated the PostgreSQL store, schema {schema}")
    );

    let server = Server::start(dir.path(), &env);
    let r = server.post(&gzip(&shop_batch("pg")), &[("Content-Encoding", "gzip")]);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let incidents = wait_for("incidents in PostgreSQL", Duration::from_secs(30), || {
        let v = json_values(dir.path(), &env, &["incidents", "list"]);
        (v.len() == 3).then_some(v)
    });
    let mut kinds: Vec<&str> = incidents.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(kinds, ["dead_click", "error_click", "rage_click"]);
    let issues = json_values(dir.path(), &env, &["issues", "list"]);
    assert_eq!(issues.len(), 3);
    assert!(issues.iter().all(|i| i["sessions"] == 1 && i["url_template"] == "shop.example.com/cart/:id"));
    let projects = json_values(dir.path(), &env, &["projects", "list"]);
    assert_eq!(projects[0]["name"], "default");
    // The summary from PostgreSQL, the events from the embedded log.
    let show = json_values(dir.path(), &env, &["sessions", "show", "pg"]);
    assert_eq!(show.iter().filter(|l| l["type"] == "summary").count(), 1);
    assert_eq!(show.iter().filter(|l| l["type"] == "event").count(), 6);
    assert_eq!(server.terminate(), Some(0));
    assert!(!dir.path().join("ufse.db").exists(), "nothing went to the embedded store");

    // A restart (given the URL by flag this time) finds the project and
    // its key in PostgreSQL: no new default project.
    let again =
        Server::start_with(dir.path(), &[("UFSE_POSTGRES_SCHEMA", schema.as_str())], &["--postgres", &url]);
    assert!(again.key.is_none(), "the default project exists already");
    assert_eq!(again.terminate(), Some(0));

    let dropped = Command::new("psql")
        .args([url.as_str(), "-qc", &format!("DROP SCHEMA \"{schema}\" CASCADE")])
        .env("PGOPTIONS", "--client-min-messages=warning")
        .status()
        .is_ok_and(|s| s.success());
    if !dropped {
        let _ = writeln!(std::io::stderr(), "note: schema {schema} left in place (no psql to drop it)");
    }
}
