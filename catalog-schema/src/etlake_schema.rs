//! etlake's own schema (`etlake`): STAC items, index runs and their per-object outcomes, crawl
//! checkpoints and pending lineage. Python never touches it; `datacube system init` ignores it.
use crate::error::DbContext;
use crate::Result;

/// The schema version this build writes and expects. 2: STAC items in the loadable shape
/// (`collection`, `bands`, GDAL-openable hrefs; see `stac_upgrade`), same tables as 1. 3: the item's
/// time and box as generated columns of `etlake.stac_item` and the index of the API's default order
/// (added by the DDL itself; no item is rewritten).
pub const SCHEMA_VERSION: i32 = 3;

const DDL: &str = include_str!("sql/etlake_schema.sql");

/// Creates or completes the `etlake` schema inside an open transaction (as `agdc_admin`).
/// Returns true when the schema was new (its version row written now). An existing schema of an older
/// version keeps its version until `stac_upgrade::upgrade` has rewritten what changed.
pub fn ensure(tx: &mut postgres::Transaction<'_>) -> Result<bool> {
    tx.batch_execute("SET LOCAL ROLE agdc_admin")
        .ctx("switching to role agdc_admin (the connecting user must be a superuser or member of agdc_admin)")?;
    tx.batch_execute(DDL).ctx("creating schema etlake")?;
    let added = tx
        .execute(
            "INSERT INTO etlake.schema_version (version, etlake_version) SELECT $1, $2 \
             WHERE NOT EXISTS (SELECT 1 FROM etlake.schema_version)",
            &[&SCHEMA_VERSION, &crate::VERSION],
        )
        .ctx("recording etlake schema version")?;
    tx.batch_execute("RESET ROLE").ctx("resetting role")?;
    Ok(added == 1)
}

/// The highest etlake schema version recorded, if the schema exists.
pub fn version(client: &mut postgres::Client) -> Result<Option<i32>> {
    let exists = client
        .query_opt("SELECT to_regclass('etlake.schema_version')::text", &[])
        .ctx("looking for etlake.schema_version")?
        .and_then(|r| r.get::<_, Option<String>>(0))
        .is_some();
    if !exists {
        return Ok(None);
    }
    Ok(client
        .query_one("SELECT max(version) FROM etlake.schema_version", &[])
        .ctx("reading etlake schema version")?
        .get(0))
}
