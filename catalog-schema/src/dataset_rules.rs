//! What a batch write decides about each dataset before writing it, as datacube decides: whether a
//! document matches its product's signature, whether a changed document may replace the stored one
//! (`dataset update`'s safe and unsafe changes), which datasets of lower maturity it archives
//! (`--archive-less-mature`) and whether its lineage sources exist. Split from `dataset`, which writes.
use crate::changes;
use crate::eo3::PreparedDataset;
use crate::error::DbContext;
use crate::Result;
use serde_json::Value;
use std::collections::HashSet;
use uuid::Uuid;

/// datacube's `contains`: every key of `sub` is in `doc` with a containing value; strings compare
/// case-insensitively.
pub(crate) fn contains(doc: &Value, sub: &Value) -> bool {
    match (doc, sub) {
        (Value::String(a), Value::String(b)) => a.to_lowercase() == b.to_lowercase(),
        (Value::Object(a), Value::Object(b)) => b
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|w| contains(w, v))),
        (_, Value::Null) => true,
        _ => changes::values_equal(doc, sub),
    }
}

/// What to do with an existing dataset whose new document differs (datacube's `dataset update` rules).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UpdatePolicy {
    /// Leave it, report `exists-different` (the default, like `dataset add`).
    #[default]
    Never,
    /// Apply the change when it is safe: only additions (`--update-if-exists`).
    Safe,
    /// Apply any change except a change of product (`--update-if-exists --allow-unsafe`).
    Any,
}

/// Lineage handling, as dc-tools' `--skip-lineage` / `--fail-on-missing-lineage` name it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LineagePolicy {
    /// Record every edge; an edge to a dataset not indexed yet waits in `etlake.pending_lineage`.
    #[default]
    Record,
    /// Record no lineage.
    Skip,
    /// Refuse a dataset whose lineage names a dataset that is neither indexed nor in the same batch.
    FailOnMissing,
}

/// Maturity rank: lower is more mature (`final` < `interim` < `nrt`, as datacube compares them).
fn maturity_rank(m: Option<&str>) -> u8 {
    match m {
        Some("final") => 0,
        Some("interim") => 1,
        Some("nrt") => 2,
        _ => 3,
    }
}

/// Decides an existing dataset's fate: `Ok(description)` to update, `Err(reason)` to leave it.
pub(crate) fn update_decision(
    diffs: &[changes::Change],
    policy: UpdatePolicy,
) -> std::result::Result<String, String> {
    let product_change = diffs
        .iter()
        .any(|c| matches!(c.offset.first(), Some(changes::Step::Key(k)) if k == "product"));
    let (safe, unsafe_): (Vec<_>, Vec<_>) = diffs.iter().cloned().partition(|c| c.old.is_none());
    match policy {
        UpdatePolicy::Never => Err(format!(
            "differs from the stored document: {}",
            changes::describe(diffs)
        )),
        _ if product_change => Err(format!(
            "the product of a dataset never changes: {}",
            changes::describe(diffs)
        )),
        UpdatePolicy::Safe if !unsafe_.is_empty() => Err(format!(
            "unsafe changes (use --allow-unsafe to apply them): {}",
            changes::describe(&unsafe_)
        )),
        _ => Ok(changes::describe(if safe.is_empty() {
            &unsafe_
        } else {
            diffs
        })),
    }
}

/// datacube's `--archive-less-mature`, in one query per batch: active datasets of the same product,
/// region code (both absent also matches, for products without regions such as CHIRPS) and time within
/// the leniency. Less mature ones are collected for archiving; an at-least-as-mature one refuses the new
/// dataset (returned with the reason).
/// `batch` is the batch's documents by position, `new` the positions of its new datasets with their
/// product ids.
pub(crate) fn less_mature(
    tx: &mut postgres::Transaction<'_>,
    batch: &[&PreparedDataset],
    new: &[(usize, i16)],
    leniency_ms: u32,
    to_archive: &mut Vec<(usize, Uuid)>,
) -> Result<Vec<(usize, String)>> {
    let prop = |i: usize, k: &str| {
        batch[i].stored["properties"]
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let (mut idx, mut prods, mut regions, mut times) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for &(i, product) in new {
        if let (Some(t), Some(_)) = (prop(i, "datetime"), prop(i, "dea:dataset_maturity")) {
            idx.push(i as i32);
            prods.push(product);
            regions.push(prop(i, "odc:region_code"));
            times.push(t);
        }
    }
    if idx.is_empty() {
        return Ok(vec![]);
    }
    let rows = tx
        .query(
            "SELECT i.idx, d.id, d.metadata #>> '{properties,dea:dataset_maturity}'              FROM unnest($1::int4[], $2::int2[], $3::text[], $4::text[]) AS i(idx, prod, region, t)              JOIN agdc.dataset d ON d.dataset_type_ref = i.prod AND d.archived IS NULL               AND (d.metadata #>> '{properties,odc:region_code}') IS NOT DISTINCT FROM i.region               AND abs(extract(epoch FROM agdc.common_timestamp(d.metadata #>> '{properties,datetime}') - agdc.common_timestamp(i.t)))::float8 * 1000 <= $5::float8",
            &[&idx, &prods, &regions, &times, &(leniency_ms as f64)],
        )
        .ctx("looking for datasets of other maturity")?;
    let mut refused: Vec<(usize, String)> = Vec::new();
    let mut archive: Vec<(usize, Uuid)> = Vec::new();
    for r in rows {
        let i = r.get::<_, i32>(0) as usize;
        let (other, other_maturity): (Uuid, Option<String>) = (r.get(1), r.get(2));
        let ours = prop(i, "dea:dataset_maturity");
        if maturity_rank(other_maturity.as_deref()) <= maturity_rank(ours.as_deref()) {
            refused.push((
                i,
                format!(
                    "dataset {other} ({}) is at least as mature as this one ({})",
                    other_maturity.unwrap_or_default(),
                    ours.unwrap_or_default()
                ),
            ));
        } else {
            archive.push((i, other));
        }
    }
    to_archive.extend(
        archive
            .into_iter()
            .filter(|(i, _)| !refused.iter().any(|(j, _)| j == i)),
    );
    refused.dedup_by_key(|(i, _)| *i);
    Ok(refused)
}

/// New datasets (positions `new` in `batch`) whose lineage names a source neither indexed nor among
/// the batch's new datasets.
pub(crate) fn missing_lineage(
    tx: &mut postgres::Transaction<'_>,
    batch: &[&PreparedDataset],
    new: &[usize],
) -> Result<Vec<(usize, String)>> {
    let sources: Vec<Uuid> = new
        .iter()
        .flat_map(|i| batch[*i].lineage.iter().map(|(_, s)| *s))
        .collect();
    if sources.is_empty() {
        return Ok(vec![]);
    }
    let mut known: HashSet<Uuid> = tx
        .query(
            "SELECT id FROM agdc.dataset WHERE id = ANY($1)",
            &[&sources],
        )
        .ctx("looking up lineage sources")?
        .iter()
        .map(|r| r.get(0))
        .collect();
    known.extend(new.iter().map(|i| batch[*i].id));
    Ok(new
        .iter()
        .filter_map(|i| {
            let missing: Vec<String> = batch[*i]
                .lineage
                .iter()
                .filter(|(_, s)| !known.contains(s))
                .map(|(c, s)| format!("{c} {s}"))
                .collect();
            (!missing.is_empty()).then(|| {
                (
                    *i,
                    format!(
                        "lineage source(s) not indexed: {} (--fail-on-missing-lineage)",
                        missing.join(", ")
                    ),
                )
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signature_containment_follows_datacube() {
        let doc = json!({"product": {"name": "p"}, "properties": {"eo:platform": "TERRA", "x": 1}});
        assert!(contains(
            &doc,
            &json!({"product": {"name": "p"}, "properties": {"eo:platform": "terra"}})
        ));
        assert!(!contains(&doc, &json!({"product": {"name": "q"}})));
        assert!(!contains(&doc, &json!({"properties": {"y": 1}})));
        assert!(contains(&doc, &json!({"properties": {"x": 1.0}})));
    }

    #[test]
    fn update_rules_follow_datacube_dataset_update() {
        let old = json!({"product": {"name": "p"}, "properties": {"a": 1}});
        let added = json!({"product": {"name": "p"}, "properties": {"a": 1, "b": 2}});
        let changed = json!({"product": {"name": "p"}, "properties": {"a": 3}});
        let moved = json!({"product": {"name": "q"}, "properties": {"a": 1}});
        let d = |n: &Value| changes::diff(&old, n);
        assert!(update_decision(&d(&added), UpdatePolicy::Never).is_err());
        assert!(update_decision(&d(&added), UpdatePolicy::Safe).is_ok());
        assert!(update_decision(&d(&changed), UpdatePolicy::Safe)
            .unwrap_err()
            .contains("--allow-unsafe"));
        assert!(update_decision(&d(&changed), UpdatePolicy::Any).is_ok());
        assert!(update_decision(&d(&moved), UpdatePolicy::Any)
            .unwrap_err()
            .contains("never changes"));
    }
}
