//! The embedded default: with no database configured, etlake creates a private cluster under
//! ETLAKE_HOME on first use, reuses it, and `db stop`/`db status` manage it. Runs as root too
//! (then the server runs as the `postgres` account).
mod common;
use common::*;

#[test]
fn embedded_cluster_lifecycle() {
    let home = tempdir();
    let etl_home = home.path().join("etlake-home");
    let vars = [("ETLAKE_HOME", etl_home.to_str().unwrap())];
    let run = |args: &[&str]| etlake_env(home.path(), &vars, args);

    let status = ok(run(&["db", "status"]));
    assert!(status.contains("not created"), "{status}");

    ok(run(&["db", "init"]));
    let status = ok(run(&["db", "status"]));
    assert!(status.contains("running (pid"), "{status}");
    let pid = |s: &str| {
        s.split("pid ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .unwrap_or_default()
            .to_string()
    };
    let first_pid = pid(&status);
    assert!(!first_pid.is_empty());
    if catalog_schema::embedded::is_root() {
        let owner = std::process::Command::new("ps")
            .args(["-o", "user=", "-p", &first_pid])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&owner.stdout).trim(),
            "postgres",
            "as root the server must run as postgres"
        );
    }

    // A second command reuses the running server and the initialised index.
    let check = ok(run(&["db", "check"]));
    assert!(
        check.contains("Config from:   embedded cluster") && check.contains("present and current"),
        "{check}"
    );
    assert_eq!(pid(&ok(run(&["db", "status"]))), first_pid);

    // Python reaches it with the URL status prints.
    let status = ok(run(&["db", "status"]));
    let py_url = status
        .lines()
        .find_map(|l| l.trim().strip_prefix("Python:  ODC_DEFAULT_DB_URL="))
        .unwrap()
        .trim_matches('\'')
        .to_string();
    let url = catalog_schema::DbUrl::parse(&py_url).unwrap();
    assert!(ok(datacube(&url, &["system", "check"])).contains("YES"));

    let stop = ok(run(&["db", "stop"]));
    assert!(stop.contains("Stopped"), "{stop}");
    assert!(ok(run(&["db", "status"])).contains("stopped"));
    assert!(ok(run(&["db", "stop"])).contains("was not running"));

    // Any command starts it again, with the data kept.
    let list = ok(run(&["metadata", "list"]));
    assert!(list.contains("eo3"), "{list}");
    ok(run(&["db", "stop"]));
}

#[test]
fn a_configured_database_wins_over_the_embedded_cluster() {
    let home = tempdir();
    let etl_home = home.path().join("never-created");
    // A datacube config file in the working directory pointing at an unreachable server.
    std::fs::write(
        home.path().join("datacube.conf"),
        "[default]\ndb_hostname: 127.0.0.1\ndb_port: 1\n",
    )
    .unwrap();
    let out = etlake_env(
        home.path(),
        &[("ETLAKE_HOME", etl_home.to_str().unwrap())],
        &["db", "check"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("datacube.conf [default]")
            && t.contains("cannot connect to postgresql://127.0.0.1:1/datacube"),
        "{t}"
    );
    assert!(
        !etl_home.exists(),
        "the embedded cluster must not be created when a database is configured"
    );
}
