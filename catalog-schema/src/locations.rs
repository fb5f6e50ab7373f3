//! Objects that went away (`etlake index --sqs` on `ObjectRemoved`): the locations at that URI are
//! removed, as datacube's `remove_location` does, and a dataset left with no active location is
//! archived; one that still has another location stays active. The object's crawl checkpoint goes too,
//! so the object is read again if it comes back.
use crate::dataset::split_uri;
use crate::error::DbContext;
use crate::{Catalog, Error, Result};
use uuid::Uuid;

/// One dataset that was located at the removed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlocated {
    /// The dataset.
    pub id: Uuid,
    /// Its product.
    pub product: String,
    /// Whether this archived it (no other active location); false when it has another location or
    /// was archived already.
    pub archived: bool,
}

/// Removes the locations at `uri` and archives the datasets left without one, in one transaction.
pub fn remove_object(catalog: &mut Catalog, uri: &str) -> Result<Vec<Unlocated>> {
    let (scheme, body) = split_uri(uri).ok_or_else(|| Error::Invalid {
        object: uri.to_string(),
        message: "not a URI (scheme:body)".into(),
    })?;
    let mut tx = catalog.client().transaction().ctx("starting transaction")?;
    let rows = tx
        .query(
            "WITH gone AS (DELETE FROM agdc.dataset_location \
                           WHERE uri_scheme = $1 AND uri_body = $2 RETURNING dataset_ref), \
                  orphaned AS (UPDATE agdc.dataset d SET archived = now() \
                           WHERE d.id IN (SELECT dataset_ref FROM gone) AND d.archived IS NULL \
                             AND NOT EXISTS (SELECT 1 FROM agdc.dataset_location l \
                                             WHERE l.dataset_ref = d.id AND l.archived IS NULL \
                                               AND NOT (l.uri_scheme = $1 AND l.uri_body = $2)) \
                           RETURNING d.id) \
             SELECT g.dataset_ref, p.name::text, g.dataset_ref IN (SELECT id FROM orphaned) \
             FROM gone g JOIN agdc.dataset d ON d.id = g.dataset_ref \
             JOIN agdc.dataset_type p ON p.id = d.dataset_type_ref ORDER BY 1",
            &[&scheme, &body],
        )
        .ctx(format!("removing the locations at {uri}"))?;
    tx.execute("DELETE FROM etlake.source_object WHERE uri = $1", &[&uri])
        .ctx(format!("removing the crawl checkpoint of {uri}"))?;
    tx.commit().ctx("committing")?;
    Ok(rows
        .iter()
        .map(|r| Unlocated {
            id: r.get(0),
            product: r.get(1),
            archived: r.get(2),
        })
        .collect())
}
