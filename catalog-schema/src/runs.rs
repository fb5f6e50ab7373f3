//! Run records in etlake's schema: one `etlake.index_run` per indexing command and one
//! `etlake.index_outcome` per object, so every run leaves an honest, queryable account.
use crate::error::DbContext;
use crate::{Catalog, Result};
use uuid::Uuid;

/// One object's outcome, as recorded.
#[derive(Debug, Clone)]
pub struct ObjectOutcome {
    /// The object (file or key URI).
    pub uri: String,
    /// `indexed`, `unchanged`, `exists-different`, `skipped`, `failed`, …
    pub outcome: &'static str,
    /// Product, when known.
    pub product: Option<String>,
    /// Dataset id, when known.
    pub dataset: Option<Uuid>,
    /// Why (for skipped/failed/exists-different).
    pub reason: Option<String>,
}

/// Opens a run record and returns its id.
pub fn start(catalog: &mut Catalog, command: &str, sources: &[String]) -> Result<i64> {
    Ok(catalog
        .client()
        .query_one(
            "INSERT INTO etlake.index_run (command, sources, etlake_version) VALUES ($1, $2, $3) RETURNING id",
            &[&command, &sources, &crate::VERSION],
        )
        .ctx("recording the run")?
        .get(0))
}

/// Appends outcomes to a run (one statement per call).
pub fn record(catalog: &mut Catalog, run: i64, outcomes: &[ObjectOutcome]) -> Result<()> {
    let uris: Vec<&str> = outcomes.iter().map(|o| o.uri.as_str()).collect();
    let labels: Vec<&str> = outcomes.iter().map(|o| o.outcome).collect();
    let products: Vec<Option<&str>> = outcomes.iter().map(|o| o.product.as_deref()).collect();
    let datasets: Vec<Option<Uuid>> = outcomes.iter().map(|o| o.dataset).collect();
    let reasons: Vec<Option<&str>> = outcomes.iter().map(|o| o.reason.as_deref()).collect();
    catalog
        .client()
        .execute(
            "INSERT INTO etlake.index_outcome (run_ref, uri, outcome, product, dataset_ref, reason) \
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::uuid[], $6::text[])",
            &[&run, &uris, &labels, &products, &datasets, &reasons],
        )
        .ctx("recording outcomes")?;
    Ok(())
}

/// Closes a run with its final status and counts.
pub fn finish(
    catalog: &mut Catalog,
    run: i64,
    status: &str,
    counts: &serde_json::Value,
) -> Result<()> {
    catalog
        .client()
        .execute(
            "UPDATE etlake.index_run SET status = $2, counts = $3, finished = now() WHERE id = $1",
            &[&run, &status, counts],
        )
        .ctx("closing the run")?;
    Ok(())
}
