//! The upgrade of an older etlake schema. From 1: STAC items stored before items were loadable
//! (no `collection`, no `bands`, whole-file hrefs for gzip/NetCDF/HDF layers) are rebuilt from their
//! dataset's stored eo3 document, product definition and location — exactly what indexing writes now.
//! From 2: nothing to rewrite (version 3's columns and index come with the DDL `etlake db init` has
//! just run). One transaction that also records the current version. `etlake db init` runs it.
use crate::eo3::CrsTransform;
use crate::error::DbContext;
use crate::{etlake_schema, stac_item, Catalog, Result};
use serde_json::Value;
use uuid::Uuid;

/// Rows rebuilt per statement.
const BATCH: i32 = 1000;

/// What an upgrade did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UpgradeReport {
    /// The version found (None: no etlake schema).
    pub from: Option<i32>,
    /// Items rewritten.
    pub rewritten: u64,
    /// Items left as they were, with the reason (dataset id: reason).
    pub kept: Vec<String>,
}

/// Upgrades the etlake schema to [`etlake_schema::SCHEMA_VERSION`] if it is older; a current (or
/// missing) schema is left alone.
pub fn upgrade(catalog: &mut Catalog, crs_tools: &dyn CrsTransform) -> Result<UpgradeReport> {
    let from = etlake_schema::version(catalog.client())?;
    let mut report = UpgradeReport {
        from,
        ..Default::default()
    };
    let Some(v) = from else { return Ok(report) };
    if v >= etlake_schema::SCHEMA_VERSION {
        return Ok(report);
    }
    let mut tx = catalog
        .client()
        .transaction()
        .ctx("starting the etlake schema upgrade")?;
    tx.batch_execute("SET LOCAL ROLE agdc_admin")
        .ctx("switching to role agdc_admin (the connecting user must be a superuser or member of agdc_admin)")?;
    if v < 2 {
        rewrite_items(&mut tx, &mut report, crs_tools)?;
    }
    tx.execute(
        "INSERT INTO etlake.schema_version (version, etlake_version) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&etlake_schema::SCHEMA_VERSION, &crate::VERSION],
    )
    .ctx("recording etlake schema version")?;
    tx.batch_execute("RESET ROLE").ctx("resetting role")?;
    tx.commit().ctx("committing the etlake schema upgrade")?;
    Ok(report)
}

/// Rebuilds every stored item from its dataset (the upgrade from version 1).
fn rewrite_items(
    tx: &mut postgres::Transaction<'_>,
    report: &mut UpgradeReport,
    crs_tools: &dyn CrsTransform,
) -> Result<()> {
    // datacube reads a dataset from its newest active location; so does the item.
    let select = tx
        .prepare(
            "SELECT s.dataset_ref, p.name::text, d.metadata, p.definition, \
               (SELECT l.uri_scheme || ':' || l.uri_body FROM agdc.dataset_location l \
                 WHERE l.dataset_ref = d.id AND l.archived IS NULL ORDER BY l.added DESC, l.id DESC LIMIT 1) \
             FROM etlake.stac_item s JOIN agdc.dataset d ON d.id = s.dataset_ref \
             JOIN agdc.dataset_type p ON p.id = d.dataset_type_ref ORDER BY s.dataset_ref",
        )
        .ctx("preparing the STAC item upgrade")?;
    let portal = tx.bind(&select, &[]).ctx("reading the stored STAC items")?;
    loop {
        let rows = tx
            .query_portal(&portal, BATCH)
            .ctx("reading the stored STAC items")?;
        if rows.is_empty() {
            break;
        }
        let (mut ids, mut items) = (Vec::<Uuid>::new(), Vec::<Value>::new());
        for r in &rows {
            let id: Uuid = r.get(0);
            let product: String = r.get(1);
            let doc: Value = r.get(2);
            let definition: Value = r.get(3);
            let Some(location) = r.get::<_, Option<String>>(4) else {
                report.kept.push(format!("{id}: no active location"));
                continue;
            };
            match stac_item::item_from_stored(id, &product, &doc, &definition, &location, crs_tools)
            {
                Ok(item) => {
                    ids.push(id);
                    items.push(item);
                }
                Err(e) => report.kept.push(format!("{id}: {e}")),
            }
        }
        let n = tx
            .execute(
                "UPDATE etlake.stac_item s SET item = u.item, updated = now() \
                 FROM unnest($1::uuid[], $2::jsonb[]) AS u(id, item) WHERE s.dataset_ref = u.id",
                &[&ids, &items],
            )
            .ctx("rewriting STAC items")?;
        report.rewritten += n;
        tracing::info!(rewritten = report.rewritten, "upgrading STAC items");
    }
    Ok(())
}
