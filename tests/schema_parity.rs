//! Schema parity with datacube 1.9.20: an index built by etlake and one built by the real
//! `datacube system init` + `datacube product add` of the same files are the same database.
mod common;
use common::*;

/// Roles, their attributes and memberships (cluster-wide, so not in pg_dump of one database).
const ROLES_SQL: &str = "SELECT r.rolname::text, r.rolsuper::text, r.rolinherit::text, r.rolcreaterole::text, \
    r.rolcreatedb::text, r.rolcanlogin::text, \
    coalesce((SELECT string_agg(g.rolname || CASE WHEN m.admin_option THEN ' (admin)' ELSE '' END, ',' ORDER BY g.rolname) \
              FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), '') \
    FROM pg_roles r WHERE r.rolname LIKE 'agdc%' ORDER BY 1";
const DB_ACL_SQL: &str = "SELECT datacl::text FROM pg_database WHERE datname = current_database()";
const MDT_SQL: &str = "SELECT id::text, name, definition::text, added_by::text, (updated IS NULL)::text FROM agdc.metadata_type ORDER BY id";
const PRODUCT_SQL: &str = "SELECT id::text, name, metadata::text, metadata_type_ref::text, definition::text, added_by::text, \
    (updated IS NULL)::text FROM agdc.dataset_type ORDER BY id";

fn product_args(files: &[std::path::PathBuf]) -> Vec<String> {
    files.iter().map(|p| p.display().to_string()).collect()
}

#[test]
fn etlake_index_equals_datacube_index() {
    let mut files = product_defs();
    files.push(reference("product_precip.odc-product.yaml"));
    files.push(reference("product_multi.odc-product.yaml"));
    let files = product_args(&files);
    let files: Vec<&str> = files.iter().map(String::as_str).collect();

    // Two independent clusters, so roles are compared too.
    let ours = Cluster::start();
    ok(etlake(&ours.url, &["db", "init"]));
    let mut args = vec!["product", "add"];
    args.extend(&files);
    ok(etlake(&ours.url, &args));

    let theirs = Cluster::start();
    ok(datacube(&theirs.url, &["system", "init"]));
    let mut args = vec!["product", "add"];
    args.extend(&files);
    let out = ok(datacube(&theirs.url, &args));
    assert!(
        !out.contains("ERROR") && !out.contains("Traceback"),
        "datacube product add reported:\n{out}"
    );

    let a = pg_dump(&ours.url, &["--schema-only", "-n", "agdc"]);
    let b = pg_dump(&theirs.url, &["--schema-only", "-n", "agdc"]);
    assert!(
        a.contains("dix_chirps_v2_daily_p05_lat_lon_time"),
        "per-product indexes missing from the dump"
    );
    assert!(
        a == b,
        "pg_dump of schema agdc differs: {}",
        first_difference(&a, &b)
    );

    let (ra, rb) = (rows(&ours.url, MDT_SQL), rows(&theirs.url, MDT_SQL));
    assert_eq!(ra.len(), 3);
    assert_eq!(ra, rb, "agdc.metadata_type rows differ");
    let (ra, rb) = (rows(&ours.url, PRODUCT_SQL), rows(&theirs.url, PRODUCT_SQL));
    assert_eq!(ra.len(), files.len());
    for (x, y) in ra.iter().zip(&rb) {
        assert_eq!(x, y, "agdc.dataset_type rows differ");
    }
    assert_eq!(
        rows(&ours.url, ROLES_SQL),
        rows(&theirs.url, ROLES_SQL),
        "roles differ"
    );
    assert_eq!(
        rows(&ours.url, DB_ACL_SQL),
        rows(&theirs.url, DB_ACL_SQL),
        "database grants differ"
    );
}

#[test]
fn init_alone_matches_the_recorded_datacube_dump() {
    // The reference dump was taken from datacube 1.9.20 `system init` on PostgreSQL 15.18.
    let pg = Cluster::start();
    ok(etlake(&pg.url, &["db", "init"]));
    let ours = pg_dump(&pg.url, &["--schema-only", "-n", "agdc"]);
    let recorded =
        std::fs::read_to_string(reference("pgdump-1.9.20-postgres-driver-agdc.sql")).unwrap();
    let normalise = |s: &str| -> Vec<String> {
        // Only the dump header differs between pg_dump builds (version lines, \restrict tokens).
        // Trailing blank lines are not schema either.
        s.trim_end()
            .lines()
            .filter(|l| {
                !l.starts_with("\\restrict")
                    && !l.starts_with("\\unrestrict")
                    && !l.starts_with("-- Dumped")
            })
            .map(str::to_string)
            .collect()
    };
    let (a, b) = (normalise(&ours), normalise(&recorded));
    assert!(
        a == b,
        "etlake init differs from the datacube 1.9.20 dump: {}",
        first_difference(&a.join("\n"), &b.join("\n"))
    );
    let stored = rows(
        &pg.url,
        "SELECT definition::text FROM agdc.metadata_type WHERE name = 'eo3'",
    );
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reference("eo3-metadata-type.stored.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stored[0]).unwrap(),
        expected
    );
}

#[test]
fn init_on_a_datacube_index_adds_only_etlake_schema_and_reinit_is_idempotent() {
    let pg = Cluster::start();
    ok(datacube(&pg.url, &["system", "init"]));
    let precip = reference("product_precip.odc-product.yaml");
    ok(datacube(
        &pg.url,
        &["product", "add", precip.to_str().unwrap()],
    ));
    let before = pg_dump(&pg.url, &["-n", "agdc"]);
    let out = ok(etlake(&pg.url, &["db", "init"]));
    assert!(out.contains("left unchanged"), "{out}");
    let after = pg_dump(&pg.url, &["-n", "agdc"]);
    assert!(
        before == after,
        "etlake init changed datacube's agdc schema: {}",
        first_difference(&after, &before)
    );
    assert_eq!(
        rows(
            &pg.url,
            "SELECT max(version)::text FROM etlake.schema_version"
        ),
        ["3"]
    );
    // etlake can now manage the datacube-made index.
    let multi = reference("product_multi.odc-product.yaml");
    ok(etlake(
        &pg.url,
        &["product", "add", multi.to_str().unwrap()],
    ));
    // Running init again changes nothing at all.
    let before = pg_dump(&pg.url, &[]);
    ok(etlake(&pg.url, &["db", "init"]));
    assert!(
        before == pg_dump(&pg.url, &[]),
        "a second etlake db init changed the database"
    );
    // And datacube's own re-init (its update path) accepts and keeps the etlake-built state.
    let before = pg_dump(&pg.url, &["--schema-only", "-n", "agdc"]);
    ok(datacube(&pg.url, &["system", "init"]));
    let after = pg_dump(&pg.url, &["--schema-only", "-n", "agdc"]);
    assert!(
        before == after,
        "datacube system init changed the schema: {}",
        first_difference(&after, &before)
    );
}
