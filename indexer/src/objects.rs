//! One object of an `etlake index` run → its datasets: a raw file extracted with GDAL, or a metadata
//! document (eo3 as it is, STAC converted), each with its STAC item — or the reason it gave none.
use crate::crs::GdalCrs;
use crate::extract::{self, Draft, ProductDef};
use crate::feed::Work;
use crate::recognition::Recogniser;
use crate::s3::{ObjectRef, S3};
use crate::siblings::Absent;
use crate::Result;
use catalog_schema::dataset::{self, NewDataset, ProductCache};
use catalog_schema::runs::ObjectOutcome;
use catalog_schema::{eo3, stac_eo3, stac_item};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

thread_local! {
    static CRS: GdalCrs = GdalCrs::new();
}

/// One object's outcome at one stage (`recognise`, `extract`, `write`).
pub(crate) struct Row {
    pub(crate) outcome: ObjectOutcome,
    pub(crate) stage: &'static str,
}

/// What every batch needs besides the catalog.
pub(crate) struct Context<'a> {
    pub(crate) recogniser: &'a Recogniser,
    pub(crate) routes: &'a crate::routing::Routes,
    pub(crate) definitions: &'a BTreeMap<String, ProductDef>,
    pub(crate) products: &'a ProductCache,
    pub(crate) s3: Option<&'a S3>,
    pub(crate) stage: &'a Path,
    pub(crate) products_filter: &'a [String],
    pub(crate) href_rewrites: &'a [(String, String)],
    pub(crate) rename_product: Option<&'a str>,
    pub(crate) write: dataset::WriteOptions,
    pub(crate) raw_update: dataset::UpdatePolicy,
}

/// The stage marker of objects that are skipped, not failed.
const SKIP: &str = "skip";

/// (location, prepared dataset, optional measurements left out) of one object, or (product if
/// known, reason, stage).
type Extracted = std::result::Result<
    Vec<(String, eo3::PreparedDataset, Vec<Absent>)>,
    (Option<String>, String, &'static str),
>;

fn extract_raw(obj: &ObjectRef, rec: &crate::Recognised, ctx: &Context<'_>) -> Extracted {
    let fail = |m: String, stage| (Some(rec.product.clone()), m, stage);
    let spec = ctx
        .recogniser
        .claiming(rec)
        .ok_or_else(|| fail("no spec".into(), "recognise"))?;
    let defs = ctx.definitions.get(&rec.product).ok_or_else(|| {
        fail(
            format!(
                "product {:?} is not in the index (add it with `etlake product add`)",
                rec.product
            ),
            "extract",
        )
    })?;
    let drafts = extract::extract(obj, rec, spec, defs, ctx.s3, ctx.stage)
        .map_err(|e| fail(e.to_string(), "extract"))?;
    drafts
        .into_iter()
        .map(|d: Draft| {
            CRS.with(|crs| eo3::prepare(&d.eo3, crs))
                .map(|p| (d.location, p, d.absent))
                .map_err(|m| fail(format!("{}: {m}", obj.uri), "build"))
        })
        .collect()
}

/// The item as it should be converted: its product (`--rename-product`, else its own `odc:product`,
/// else the first routing rule that matches, else its collection name), `--href-rewrite`, what older
/// USGS items lack (grid and time from the scene's `_MTL.json`, or the grid from its first data asset's
/// header), and asset keys that name no measurement mapped through their file suffix or `eo:bands`.
/// Items of products not indexed or not selected are skipped before any sidecar is read.
fn prepare_item(
    mut item: Value,
    obj: &ObjectRef,
    ctx: &Context<'_>,
) -> std::result::Result<Value, (Option<String>, String, &'static str)> {
    let explicit = item
        .pointer("/properties/odc:product")
        .is_some_and(Value::is_string);
    let routed = match ctx.rename_product {
        Some(name) => Some(name.to_string()),
        None if explicit => None,
        None => ctx
            .routes
            .route(&item)
            .map_err(|m| (None, m, "convert"))?
            .map(str::to_string),
    };
    if let Some(name) = &routed {
        if let Some(p) = item.get_mut("properties").and_then(Value::as_object_mut) {
            p.insert("odc:product".into(), Value::String(name.clone()));
        }
    }
    let product = stac_eo3::product_name(&item).ok_or_else(|| {
        (
            None,
            "no odc:product and no collection: cannot tell the product".to_string(),
            "convert",
        )
    })?;
    if !ctx.products_filter.is_empty() && !ctx.products_filter.contains(&product) {
        return Err((Some(product), "product not selected".into(), SKIP));
    }
    let Some(defs) = ctx.definitions.get(&product) else {
        let reason = if routed.is_none() && !explicit {
            format!(
                "no STAC routing rule takes it ({}), and product {product} (its collection's name) is not in the index",
                ctx.routes.describe(&item)
            )
        } else {
            // A sibling product the index does not hold (e.g. Landsat ST items beside SR ones).
            format!("product {product} is not in the index")
        };
        return Err((Some(product), reason, SKIP));
    };
    stac_eo3::rewrite_hrefs(&mut item, ctx.href_rewrites);
    crate::item_grid::ensure_grid(&mut item, &obj.uri, ctx.s3)
        .map_err(|m| (Some(product.clone()), m, "convert"))?;
    stac_eo3::resolve_band_keys(&mut item, &|k| defs.canonical(k));
    Ok(item)
}

/// A metadata document: eo3 as it is, STAC converted the way datacube's converter does. The location
/// is the document's own `location`/`self` link, else the object's URI.
fn extract_document(
    obj: &ObjectRef,
    fetched: Option<&Result<Vec<u8>>>,
    ctx: &Context<'_>,
) -> Extracted {
    let uri = object_uri(&obj.uri);
    let fail = |m: String, stage| (None, m, stage);
    let bytes = match (&obj.body, fetched) {
        (Some(b), _) => b.to_vec(),
        (None, Some(Ok(b))) => b.clone(),
        (None, Some(Err(e))) => return Err(fail(e.to_string(), "read")),
        (None, None) => {
            std::fs::read(&obj.uri).map_err(|e| fail(format!("{}: {e}", obj.uri), "read"))?
        }
    };
    let text =
        String::from_utf8(bytes).map_err(|_| fail(format!("{uri}: not UTF-8 text"), "read"))?;
    let parsed = catalog_schema::document::parse_documents(&uri, &text);
    // A `.json` object that is not JSON (a truncated download, an error page saved under the sidecar's
    // name) fails by name: read as YAML it could pass for a scalar and be skipped unseen. YAML stays the
    // fallback for documents that are nearly JSON (`NaN` values) and read as STAC or eo3.
    let usable = parsed.as_ref().is_ok_and(|docs| {
        docs.iter()
            .all(|d| stac_eo3::is_stac_item(&d.value) || d.value.get("$schema").is_some())
    });
    if !usable && uri.to_lowercase().ends_with(".json") {
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&text) {
            return Err(fail(format!("{uri}: not JSON ({e})"), "read"));
        }
    }
    let docs = parsed.map_err(|e| fail(e.to_string(), "read"))?;
    let mut out = Vec::new();
    for d in docs {
        let (eo3_doc, location) = if stac_eo3::is_stac_item(&d.value) {
            let item =
                prepare_item(d.value.clone(), obj, ctx).map_err(|(p, m, stage)| match stage {
                    SKIP => (p, m, stage),
                    _ => (p, format!("{}: {m}", d.object), stage),
                })?;
            let d = catalog_schema::document::SourceDoc {
                object: d.object.clone(),
                value: item,
            };
            let product = stac_eo3::product_name(&d.value).unwrap_or_default();
            let defs = ctx.definitions.get(&product);
            let canonical = |key: &str| defs.and_then(|p| p.canonical(key));
            let converted = CRS
                .with(|crs| stac_eo3::convert(&d.value, &canonical, crs))
                .map_err(|m| {
                    (
                        Some(product.clone()),
                        format!("{}: {m}", d.object),
                        "convert",
                    )
                })?;
            (
                converted,
                stac_eo3::self_href(&d.value).unwrap_or_else(|| uri.clone()),
            )
        } else if d.value.get("$schema").is_some() {
            (d.value.clone(), uri.clone())
        } else {
            // Sidecars such as Landsat _MTL.json sit beside the items: not ours to index.
            return Err(fail("not an eo3 document or STAC item".into(), SKIP));
        };
        let mut prepared = CRS
            .with(|crs| eo3::prepare(&eo3_doc, crs))
            .map_err(|m| (None, format!("{}: {m}", d.object), "build"))?;
        let location = prepared.embedded_location.clone().unwrap_or(location);
        if stac_eo3::is_stac_item(&d.value) {
            // datacube's STAC path (dc-tools `--stac`) stores `lineage: {}`, not `{source_datasets: {}}`:
            // keep the same bytes so a lake indexed by dc-tools compares `unchanged`.
            prepared.stored["lineage"] = serde_json::json!({});
        }
        out.push((location, prepared, Vec::new()));
    }
    Ok(out)
}

/// What one object gave.
pub(crate) enum Yield {
    Dataset(Box<NewDataset>),
    Skipped(String),
    Failed(Row),
    /// Indexed, with a note for the report: (summary key, detail, the summary's example), e.g. an
    /// optional measurement left out and the file that was looked for.
    Note(String, String, String),
}

/// One object's datasets (with their STAC items), or why it gave none.
pub(crate) fn build(work: &Work, read: Option<&Result<Vec<u8>>>, ctx: &Context<'_>) -> Vec<Yield> {
    let obj = work.object();
    let extracted = match work {
        Work::Raw(obj, rec) => extract_raw(obj, rec, ctx),
        Work::Document(obj, _) => extract_document(obj, read, ctx),
    };
    let failed = |product: Option<&str>, reason: String, stage| {
        Yield::Failed(Row {
            outcome: failed_row(&obj.uri, product, reason),
            stage,
        })
    };
    let items = match extracted {
        Ok(items) => items,
        Err((_, reason, SKIP)) => return vec![Yield::Skipped(reason)],
        Err((product, reason, stage)) => return vec![failed(product.as_deref(), reason, stage)],
    };
    let mut out = Vec::with_capacity(items.len() + 1);
    // One note per object, even when a yearly file gives a dataset per day.
    if let Some((_, prepared, absent)) = items.first() {
        for a in absent {
            let key = format!(
                "optional measurement {} of {} left out (its {} is absent)",
                a.measurement,
                prepared.product,
                if a.layer { "layer" } else { "file" }
            );
            out.push(Yield::Note(
                key,
                a.note(&prepared.product),
                a.expected.clone(),
            ));
        }
    }
    for (location, prepared, absent) in items {
        if !ctx.products_filter.is_empty() && !ctx.products_filter.contains(&prepared.product) {
            out.push(Yield::Skipped("product not selected".into()));
            continue;
        }
        let Some(defs) = ctx.definitions.get(&prepared.product) else {
            // A sibling product the index does not hold (e.g. Landsat ST items beside SR ones).
            let reason = format!("product {} is not in the index", prepared.product);
            out.push(Yield::Skipped(reason));
            continue;
        };
        out.push(
            match CRS.with(|crs| stac_item::item(&prepared, &defs.definition, &location, crs)) {
                Ok(item) => Yield::Dataset(Box::new(NewDataset {
                    stac: Some((prepared.product.clone(), prepared.id.to_string(), item)),
                    update: matches!(work, Work::Raw(..)).then_some(ctx.raw_update),
                    prepared,
                    location: Some(location),
                    absent_ok: absent.into_iter().map(|a| a.measurement).collect(),
                })),
                Err(reason) => failed(Some(&prepared.product), reason, "build"),
            },
        );
    }
    out
}

/// The URI an object is reported under: `s3://…` as listed, local paths as `file://` URIs (the same
/// form the dataset locations use).
pub(crate) fn object_uri(uri: &str) -> String {
    if uri.contains("://") {
        uri.to_string()
    } else {
        crate::documents::file_uri(Path::new(uri))
    }
}

pub(crate) fn failed_row(uri: &str, product: Option<&str>, reason: String) -> ObjectOutcome {
    ObjectOutcome {
        uri: object_uri(uri),
        outcome: "failed",
        product: product.map(str::to_string),
        dataset: None,
        reason: Some(reason),
    }
}
