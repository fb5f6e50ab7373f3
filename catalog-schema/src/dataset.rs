//! Writing datasets in bulk: one transaction per batch, one statement per table (not one per dataset),
//! the same end state as datacube's `dataset add` — `agdc.dataset`, `agdc.dataset_location`,
//! `agdc.dataset_source` (or etlake's pending lineage when the source is not indexed yet), and the STAC item.
use crate::changes;
use crate::eo3::PreparedDataset;
use crate::error::DbContext;
use crate::{Catalog, Result};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

use crate::dataset_rules::{contains, less_mature, missing_lineage, update_decision};
pub use crate::dataset_rules::{LineagePolicy, UpdatePolicy};

/// A dataset to write.
#[derive(Debug, Clone)]
pub struct NewDataset {
    /// The prepared eo3 document.
    pub prepared: PreparedDataset,
    /// Location URI (the metadata document, or a directory ending in `/`).
    pub location: Option<String>,
    /// STAC item (collection, item id, item JSON) for `etlake.stac_item`.
    pub stac: Option<(String, String, Value)>,
    /// This dataset's update policy when it differs from the batch's (a raw file's re-extracted
    /// document, which changes only when the object did).
    pub update: Option<UpdatePolicy>,
    /// Product measurements this dataset may lack: a recognition spec declared their files optional
    /// and they are absent. datacube's `dataset add` would refuse such a document; `dc.load` of the
    /// measurements it has works (tested), loading an absent one fails with "No such band".
    pub absent_ok: Vec<String>,
}

/// What happened to one dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Inserted now.
    Indexed,
    /// Already indexed with the same document (a new location may have been added).
    Unchanged,
    /// Already indexed with a different document; left as it is.
    ExistsDifferent(String),
    /// Already indexed with a different document, updated under the update policy.
    Updated(String),
    /// Refused; the reason names the rule.
    Failed(String),
}

impl Outcome {
    /// The outcome's name in reports and `etlake.index_outcome`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Indexed => "indexed",
            Outcome::Unchanged => "unchanged",
            Outcome::ExistsDifferent(_) => "exists-different",
            Outcome::Updated(_) => "updated",
            Outcome::Failed(_) => "failed",
        }
    }
}

#[derive(Debug, Clone)]
struct ProductInfo {
    id: i16,
    metadata_type_ref: i16,
    signature: Value,
    measurements: Vec<String>,
    definition: Value,
}

/// Product rows needed to check and write datasets, loaded once per run.
#[derive(Debug, Default)]
pub struct ProductCache {
    by_name: HashMap<String, ProductInfo>,
}

impl ProductCache {
    /// Every product's stored definition, by name (the one query a run makes for products).
    pub fn definitions(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.by_name
            .iter()
            .map(|(n, p)| (n.as_str(), &p.definition))
    }

    /// Loads every product.
    pub fn load(catalog: &mut Catalog) -> Result<ProductCache> {
        let rows = catalog
            .client()
            .query("SELECT name, id, metadata_type_ref, metadata::text, definition::text FROM agdc.dataset_type", &[])
            .ctx("loading products")?;
        let mut by_name = HashMap::new();
        for r in rows {
            let definition: Value =
                serde_json::from_str(r.get::<_, &str>(4)).expect("jsonb text is JSON");
            by_name.insert(
                r.get::<_, String>(0),
                ProductInfo {
                    id: r.get(1),
                    metadata_type_ref: r.get(2),
                    signature: serde_json::from_str(r.get::<_, &str>(3))
                        .expect("jsonb text is JSON"),
                    measurements: crate::product::measurement_names(&definition),
                    definition,
                },
            );
        }
        Ok(ProductCache { by_name })
    }

    /// Checks a document against its product: it exists, the signature matches, no measurement is
    /// missing but those in `absent_ok`.
    fn check(
        &self,
        p: &PreparedDataset,
        absent_ok: &[String],
    ) -> std::result::Result<&ProductInfo, String> {
        let info = self.by_name.get(&p.product).ok_or_else(|| {
            format!(
                "product {:?} is not in the index (add it with `etlake product add`)",
                p.product
            )
        })?;
        if !contains(&p.stored, &info.signature) {
            return Err(format!(
                "does not match product {:?}'s metadata signature {}",
                p.product, info.signature
            ));
        }
        let have = p.stored.get("measurements").and_then(Value::as_object);
        let missing: Vec<&String> = info
            .measurements
            .iter()
            .filter(|m| !have.is_some_and(|h| h.contains_key(m.as_str())) && !absent_ok.contains(m))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "measurements {missing:?} of product {:?} are missing",
                p.product
            ));
        }
        Ok(info)
    }
}

/// How a batch is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// Classify and roll back: report what would happen, write nothing.
    pub dry_run: bool,
    /// Updates of existing datasets.
    pub update: UpdatePolicy,
    /// Archive less mature datasets of the same product, region and time (± this many milliseconds).
    pub archive_less_mature: Option<u32>,
    /// What to do with lineage.
    pub lineage: LineagePolicy,
}

/// Splits a URI at its first `:` into datacube's (uri_scheme, uri_body).
pub fn split_uri(uri: &str) -> Option<(&str, &str)> {
    uri.split_once(':').filter(|(s, _)| !s.is_empty())
}

/// Writes a batch atomically and reports each dataset's outcome, in input order. An existing id with the
/// same document is `Unchanged`; with a different one it is `ExistsDifferent`, or `Updated` when the
/// update policy allows the change (the `updated` column is set by datacube's trigger).
///
/// With `options.dry_run` the same statements classify the batch inside a transaction that is rolled back, so
/// the outcomes are exactly what a real run would report and nothing is written.
pub fn write_batch(
    catalog: &mut Catalog,
    products: &ProductCache,
    batch: &[NewDataset],
    options: WriteOptions,
) -> Result<Written> {
    let mut outcomes: Vec<Option<Outcome>> = vec![None; batch.len()];
    let mut candidates: Vec<(usize, &ProductInfo)> = Vec::new();
    let mut seen: HashSet<Uuid> = HashSet::new();
    for (i, d) in batch.iter().enumerate() {
        match products.check(&d.prepared, &d.absent_ok) {
            Ok(info) if seen.insert(d.prepared.id) => candidates.push((i, info)),
            Ok(_) => {
                outcomes[i] = Some(Outcome::Failed(format!(
                    "dataset {} appears twice in this batch",
                    d.prepared.id
                )))
            }
            Err(reason) => outcomes[i] = Some(Outcome::Failed(reason)),
        }
    }
    let mut tx = catalog
        .client()
        .transaction()
        .ctx("starting a dataset batch")?;
    let ids: Vec<Uuid> = candidates
        .iter()
        .map(|(i, _)| batch[*i].prepared.id)
        .collect();
    let existing: HashMap<Uuid, Value> = tx
        .query(
            "SELECT id, metadata::text FROM agdc.dataset WHERE id = ANY($1)",
            &[&ids],
        )
        .ctx("checking which datasets exist")?
        .iter()
        .map(|r| {
            (
                r.get(0),
                serde_json::from_str(r.get::<_, &str>(1)).expect("jsonb text is JSON"),
            )
        })
        .collect();

    let (mut new_ids, mut prod_refs, mut mdt_refs, mut docs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut upd_ids, mut upd_docs): (Vec<Uuid>, Vec<&Value>) = (Vec::new(), Vec::new());
    let mut new: Vec<(usize, &ProductInfo)> = Vec::new();
    for (i, info) in &candidates {
        let p = &batch[*i].prepared;
        if let Some(stored) = existing.get(&p.id) {
            let diffs = changes::diff(stored, &p.stored);
            outcomes[*i] = Some(if diffs.is_empty() {
                Outcome::Unchanged
            } else {
                match update_decision(&diffs, batch[*i].update.unwrap_or(options.update)) {
                    Ok(description) => {
                        upd_ids.push(p.id);
                        upd_docs.push(&p.stored);
                        Outcome::Updated(description)
                    }
                    Err(reason) => Outcome::ExistsDifferent(reason),
                }
            });
        } else {
            new.push((*i, *info));
        }
    }
    let mut to_archive: Vec<(usize, Uuid)> = Vec::new();
    let prepared: Vec<&PreparedDataset> = batch.iter().map(|b| &b.prepared).collect();
    if let Some(leniency_ms) = options.archive_less_mature {
        let products: Vec<(usize, i16)> = new.iter().map(|(i, p)| (*i, p.id)).collect();
        let refused = less_mature(&mut tx, &prepared, &products, leniency_ms, &mut to_archive)?;
        for (i, reason) in refused {
            outcomes[i] = Some(Outcome::Failed(reason));
        }
        new.retain(|(i, _)| outcomes[*i].is_none());
    }
    if options.lineage == LineagePolicy::FailOnMissing {
        let positions: Vec<usize> = new.iter().map(|(i, _)| *i).collect();
        for (i, reason) in missing_lineage(&mut tx, &prepared, &positions)? {
            outcomes[i] = Some(Outcome::Failed(reason));
        }
        new.retain(|(i, _)| outcomes[*i].is_none());
    }
    for (i, info) in &new {
        let p = &batch[*i].prepared;
        new_ids.push(p.id);
        prod_refs.push(info.id);
        mdt_refs.push(info.metadata_type_ref);
        docs.push(&p.stored);
    }
    // Binary COPY straight into agdc.dataset: none of these ids existed a moment ago. A concurrent
    // writer that added one since makes the COPY fail; the batch then goes through a staging table
    // and one INSERT … ON CONFLICT DO NOTHING. Either way the documents travel once, in binary.
    let rows = || {
        (0..new_ids.len()).map(|k| {
            [
                &new_ids[k] as &(dyn ToSql + Sync),
                &prod_refs[k],
                &mdt_refs[k],
                docs[k],
            ]
        })
    };
    let types = [Type::UUID, Type::INT2, Type::INT2, Type::JSONB];
    // (Nothing new, as in a re-run: no statement at all.)
    let direct = new_ids.is_empty()
        || copy_direct(
            &mut tx,
            "COPY agdc.dataset (id, dataset_type_ref, metadata_type_ref, metadata) FROM STDIN (FORMAT binary)",
            &types,
            rows(),
        )
        .ctx("copying datasets")?;
    let inserted: HashSet<Uuid> = if direct {
        new_ids.iter().copied().collect()
    } else {
        copy_rows(
            &mut tx,
            "CREATE TEMP TABLE IF NOT EXISTS etlake_stage_dataset (id uuid, product int2, mdt int2, doc jsonb) ON COMMIT DELETE ROWS",
            "COPY etlake_stage_dataset (id, product, mdt, doc) FROM STDIN (FORMAT binary)",
            &types,
            rows(),
        )
        .ctx("copying datasets")?;
        tx.query(
            "INSERT INTO agdc.dataset (id, dataset_type_ref, metadata_type_ref, metadata) \
             SELECT id, product, mdt, doc FROM etlake_stage_dataset ON CONFLICT (id) DO NOTHING RETURNING id",
            &[],
        )
        .ctx("inserting datasets")?
        .iter()
        .map(|r| r.get(0))
        .collect()
    };

    tx.execute(
        "UPDATE agdc.dataset SET archived = now() WHERE id = ANY($1) AND archived IS NULL",
        &[&to_archive.iter().map(|(_, id)| *id).collect::<Vec<Uuid>>()],
    )
    .ctx("archiving less mature datasets")?;
    if !to_archive.is_empty() {
        tracing::info!("archived {} less mature datasets", to_archive.len());
    }
    tx.execute(
        "UPDATE agdc.dataset d SET metadata = u.doc FROM unnest($1::uuid[], $2::jsonb[]) AS u(id, doc) WHERE d.id = u.id",
        &[&upd_ids, &upd_docs],
    )
    .ctx("updating changed datasets")?;

    // Locations: for new datasets, and for unchanged ones seen at a new place (datacube adds those too).
    let (mut loc_ids, mut schemes, mut bodies) = (Vec::new(), Vec::new(), Vec::new());
    let (mut edge_from, mut edge_class, mut edge_to) = (Vec::new(), Vec::new(), Vec::new());
    let (mut stac_ids, mut stac_coll, mut stac_item_ids, mut stac_items) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, _) in &candidates {
        let d = &batch[*i];
        let id = d.prepared.id;
        let is_new = inserted.contains(&id);
        if is_new {
            outcomes[*i] = Some(Outcome::Indexed);
        } else if outcomes[*i].is_none() {
            outcomes[*i] = Some(Outcome::Unchanged); // inserted concurrently by another writer
        }
        let updated = matches!(outcomes[*i], Some(Outcome::Updated(_)));
        if !(is_new || updated || outcomes[*i] == Some(Outcome::Unchanged)) {
            continue;
        }
        if let Some((scheme, body)) = d
            .location
            .as_deref()
            .or(d.prepared.embedded_location.as_deref())
            .and_then(split_uri)
        {
            loc_ids.push(id);
            schemes.push(scheme.to_string());
            bodies.push(body.to_string());
        }
        if is_new && options.lineage != LineagePolicy::Skip {
            for (classifier, source) in &d.prepared.lineage {
                edge_from.push(id);
                edge_class.push(classifier.clone());
                edge_to.push(*source);
            }
        }
        if is_new || updated {
            if let Some((coll, item_id, item)) = &d.stac {
                stac_ids.push(id);
                stac_coll.push(coll.clone());
                stac_item_ids.push(item_id.clone());
                stac_items.push(item);
            }
        }
    }
    if options.dry_run {
        tx.rollback().ctx("rolling back a dry run")?;
        return Ok(finish(outcomes, to_archive));
    }
    tx.execute(
        "INSERT INTO agdc.dataset_location (dataset_ref, uri_scheme, uri_body) \
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) ON CONFLICT (uri_scheme, uri_body, dataset_ref) DO NOTHING",
        &[&loc_ids, &schemes, &bodies],
    )
    .ctx("inserting dataset locations")?;
    // Lineage whose source is indexed goes to agdc.dataset_source; the rest waits in etlake.pending_lineage.
    tx.execute(
        "INSERT INTO etlake.pending_lineage (dataset_ref, classifier, source_dataset_ref) \
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[]) ON CONFLICT DO NOTHING",
        &[&edge_from, &edge_class, &edge_to],
    )
    .ctx("recording lineage")?;
    tx.batch_execute(
        "WITH ready AS (DELETE FROM etlake.pending_lineage p USING agdc.dataset d \
           WHERE d.id = p.source_dataset_ref AND EXISTS (SELECT 1 FROM agdc.dataset x WHERE x.id = p.dataset_ref) \
           RETURNING p.dataset_ref, p.classifier, p.source_dataset_ref) \
         INSERT INTO agdc.dataset_source (dataset_ref, classifier, source_dataset_ref) \
         SELECT dataset_ref, classifier, source_dataset_ref FROM ready ON CONFLICT DO NOTHING",
    )
    .ctx("writing lineage edges whose sources are indexed")?;
    // STAC items the same way: straight in when they are all new, else through staging (updates).
    let rows = || {
        (0..stac_ids.len()).map(|k| {
            [
                &stac_ids[k] as &(dyn ToSql + Sync),
                &stac_coll[k],
                &stac_item_ids[k],
                stac_items[k],
            ]
        })
    };
    let types = [Type::UUID, Type::TEXT, Type::TEXT, Type::JSONB];
    let all_new = upd_ids.is_empty();
    let direct = stac_ids.is_empty()
        || (all_new
            && copy_direct(
                &mut tx,
                "COPY etlake.stac_item (dataset_ref, collection, item_id, item) FROM STDIN (FORMAT binary)",
                &types,
                rows(),
            )
            .ctx("copying STAC items")?);
    if !direct {
        copy_rows(
            &mut tx,
            "CREATE TEMP TABLE IF NOT EXISTS etlake_stage_stac (id uuid, collection text, item_id text, item jsonb) ON COMMIT DELETE ROWS",
            "COPY etlake_stage_stac (id, collection, item_id, item) FROM STDIN (FORMAT binary)",
            &types,
            rows(),
        )
        .ctx("copying STAC items")?;
        tx.execute(
            "INSERT INTO etlake.stac_item (dataset_ref, collection, item_id, item) \
             SELECT id, collection, item_id, item FROM etlake_stage_stac \
             ON CONFLICT (dataset_ref) DO UPDATE SET item = EXCLUDED.item, updated = now()",
            &[],
        )
        .ctx("inserting STAC items")?;
    }
    tx.commit().ctx("committing a dataset batch")?;
    Ok(finish(outcomes, to_archive))
}

/// Binary-COPYs `rows` straight into a table, inside a savepoint: `false`, with nothing written, when a
/// row collides with one already there (a unique violation).
fn copy_direct<'a, const N: usize>(
    tx: &mut postgres::Transaction<'_>,
    copy: &str,
    types: &[Type],
    rows: impl Iterator<Item = [&'a (dyn ToSql + Sync); N]>,
) -> std::result::Result<bool, postgres::Error> {
    let mut sp = tx.savepoint("etlake_direct_copy")?;
    let copied = (|| {
        let mut writer = BinaryCopyInWriter::new(sp.copy_in(copy)?, types);
        for row in rows {
            writer.write(&row)?;
        }
        writer.finish()
    })();
    match copied {
        Ok(_) => sp.commit().map(|_| true),
        Err(e) if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => {
            sp.rollback().map(|_| false)
        }
        Err(e) => Err(e),
    }
}

/// Creates the session's staging table if needed and binary-COPYs `rows` into it (emptied at commit).
fn copy_rows<'a, const N: usize>(
    tx: &mut postgres::Transaction<'_>,
    create: &str,
    copy: &str,
    types: &[Type],
    rows: impl Iterator<Item = [&'a (dyn ToSql + Sync); N]>,
) -> std::result::Result<(), postgres::Error> {
    tx.batch_execute(create)?;
    let sink = tx.copy_in(copy)?;
    let mut writer = BinaryCopyInWriter::new(sink, types);
    for row in rows {
        writer.write(&row)?;
    }
    writer.finish()?;
    Ok(())
}

/// What a batch did: each dataset's outcome in input order, and the datasets archived by
/// `--archive-less-mature` (index of the new dataset that replaced it, archived id).
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// Outcome per input dataset.
    pub outcomes: Vec<Outcome>,
    /// (index into the batch, id of the less mature dataset it archived).
    pub archived: Vec<(usize, Uuid)>,
}

fn finish(outcomes: Vec<Option<Outcome>>, archived: Vec<(usize, Uuid)>) -> Written {
    Written {
        outcomes: finish_outcomes(outcomes),
        archived,
    }
}

fn finish_outcomes(outcomes: Vec<Option<Outcome>>) -> Vec<Outcome> {
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or(Outcome::Failed("not processed".into())))
        .collect()
}

/// Archives (or, with `restore`, un-archives) datasets by id, in one statement; `updated` is set by
/// datacube's trigger. Returns the ids changed and the ids that do not exist.
pub fn set_archived(
    catalog: &mut Catalog,
    ids: &[Uuid],
    restore: bool,
) -> Result<(Vec<Uuid>, Vec<Uuid>)> {
    let sql = if restore {
        "UPDATE agdc.dataset SET archived = NULL WHERE id = ANY($1) AND archived IS NOT NULL RETURNING id"
    } else {
        "UPDATE agdc.dataset SET archived = now() WHERE id = ANY($1) AND archived IS NULL RETURNING id"
    };
    let mut tx = catalog.client().transaction().ctx("starting transaction")?;
    let changed: Vec<Uuid> = tx
        .query(sql, &[&ids])
        .ctx("archiving datasets")?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let known: HashSet<Uuid> = tx
        .query("SELECT id FROM agdc.dataset WHERE id = ANY($1)", &[&ids])
        .ctx("checking dataset ids")?
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.commit().ctx("committing")?;
    Ok((
        changed,
        ids.iter().filter(|i| !known.contains(i)).copied().collect(),
    ))
}

/// Counts of outcomes, for summaries.
pub fn summarise(outcomes: &[Outcome]) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for o in outcomes {
        *m.entry(o.label()).or_insert(0) += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_split_at_the_first_colon() {
        assert_eq!(
            split_uri("file:///data/x.yaml"),
            Some(("file", "///data/x.yaml"))
        );
        assert_eq!(split_uri("s3://b/k:v"), Some(("s3", "//b/k:v")));
        assert_eq!(split_uri("no-scheme"), None);
    }
}
