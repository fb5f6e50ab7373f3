//! Crawl checkpoints (`etlake.source_object`): the version (S3 ETag, or a local file's mtime and
//! size) of each source object last indexed and the datasets it gave, so a re-run skips what is unchanged.
use crate::error::DbContext;
use crate::{Catalog, Result};
use std::collections::HashMap;
use uuid::Uuid;

/// What the index remembers of one source object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The version indexed.
    pub etag: String,
    /// Its datasets (id, product), all still in `agdc.dataset`.
    pub datasets: Vec<(Uuid, String)>,
}

/// One object to remember after its datasets were written.
#[derive(Debug, Clone)]
pub struct Version {
    /// The object's URI as listed.
    pub uri: String,
    /// Its version.
    pub etag: String,
    /// Its size in bytes.
    pub size: Option<u64>,
    /// The datasets it gave.
    pub datasets: Vec<Uuid>,
}

/// The checkpoints of objects whose URI starts with one of `prefixes` (all when empty), keeping only
/// those whose datasets all still exist (a dataset purged from Python makes its object read again).
pub fn load(catalog: &mut Catalog, prefixes: &[String]) -> Result<HashMap<String, Seen>> {
    let patterns: Vec<String> = if prefixes.is_empty() {
        vec!["%".into()]
    } else {
        prefixes
            .iter()
            .map(|p| {
                let escaped = p
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                format!("{escaped}%")
            })
            .collect()
    };
    let rows = catalog
        .client()
        .query(
            "SELECT s.uri::text, s.etag::text, array_agg(d.id ORDER BY d.id), \
                    array_agg(p.name::text ORDER BY d.id) \
             FROM etlake.source_object s \
             CROSS JOIN LATERAL unnest(s.dataset_refs) AS r(id) \
             JOIN agdc.dataset d ON d.id = r.id \
             JOIN agdc.dataset_type p ON p.id = d.dataset_type_ref \
             WHERE s.etag IS NOT NULL AND s.uri LIKE ANY($1) \
             GROUP BY s.uri, s.etag, s.dataset_refs \
             HAVING count(*) = cardinality(s.dataset_refs)",
            &[&patterns],
        )
        .ctx("reading crawl checkpoints")?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let ids: Vec<Uuid> = r.get(2);
            let products: Vec<String> = r.get(3);
            (
                r.get(0),
                Seen {
                    etag: r.get(1),
                    datasets: ids.into_iter().zip(products).collect(),
                },
            )
        })
        .collect())
}

/// Records the versions of objects whose datasets a run wrote (newest wins).
pub fn save(catalog: &mut Catalog, run: i64, versions: &[Version]) -> Result<()> {
    // One row per object (a source listed twice in one batch would hit the same row twice).
    let mut last: HashMap<&str, &Version> = HashMap::new();
    for v in versions {
        last.insert(v.uri.as_str(), v);
    }
    let versions: Vec<&Version> = last.into_values().collect();
    if versions.is_empty() {
        return Ok(());
    }
    let uris: Vec<&str> = versions.iter().map(|v| v.uri.as_str()).collect();
    let etags: Vec<&str> = versions.iter().map(|v| v.etag.as_str()).collect();
    let sizes: Vec<Option<i64>> = versions.iter().map(|v| v.size.map(|s| s as i64)).collect();
    let refs: Vec<String> = versions
        .iter()
        .map(|v| {
            v.datasets
                .iter()
                .map(Uuid::to_string)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    let run = (run > 0).then_some(run);
    catalog
        .client()
        .execute(
            "INSERT INTO etlake.source_object AS s (uri, etag, size, dataset_refs, run_ref, seen) \
             SELECT u, e, z, string_to_array(r, ',')::uuid[], $5, now() \
             FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[]) AS v(u, e, z, r) \
             ON CONFLICT (uri) DO UPDATE SET etag = EXCLUDED.etag, size = EXCLUDED.size, \
               dataset_refs = EXCLUDED.dataset_refs, run_ref = EXCLUDED.run_ref, seen = now()",
            &[&uris, &etags, &sizes, &refs, &run],
        )
        .ctx("recording crawl checkpoints")?;
    Ok(())
}
