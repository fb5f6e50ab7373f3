//! **Landsat Collection 2 Level-2** (`ls8_c2l2_sr`, `ls9_c2l2_sr`, `ls8_c2l2_st`, `ls9_c2l2_st`),
//! found through USGS's STAC API and copied from the requester-pays bucket `s3://usgs-landsat`.
//!
//! Discovery is a STAC API item search (<https://github.com/radiantearth/stac-api-spec>, "Item
//! Search") on `{api}/search` (default `https://landsatlook.usgs.gov/stac-server`, or `--base-url`,
//! or `$ETLAKE_LANDSAT_STAC_URL`), sent as `POST` with a JSON body: `collections` (`landsat-c2l2-sr`
//! or `landsat-c2l2-st`), `datetime` (`A T00:00:00Z/B T23:59:59Z`), `bbox` (the world when none),
//! `limit`, and the query extension's `{"platform": {"in": ["LANDSAT_8"]}}` — the items' `platform`
//! property, which USGS writes `LANDSAT_8` / `LANDSAT_9` (older items `eo:platform`). Items are
//! checked against it again here, so a server that ignores `query` syncs no other satellite. Pages
//! follow the `next` link: a `POST` link carries its `body` (merged into the previous one when
//! `merge` is true), a `GET` link carries its token in the URL.
//!
//! Each item is one product of one scene (id `<product id>_SR` or `_ST`). Its assets' `href`s are
//! `https://landsatlook.usgs.gov/data/collection02/…`, which maps 1:1 onto `s3://usgs-landsat/…`,
//! and current items also give that bucket URL as `alternate.s3.href`
//! (`storage:requester_pays: true`). The files copied are the item's rasters (`*.TIF`: bands and QA),
//! its metadata sidecars (`_MTL.json`, `_MTL.txt`, `_MTL.xml`, `_ANG.txt`, when listed) and the
//! item's own sidecar in the scene folder, `<product id>_SR_stac.json` / `_ST_stac.json`, which is
//! what `etlake index` recognises (product-defs/recognition/ls*_c2l2_*.yaml). Thumbnails are not
//! copied. Files land in the bucket's canonical layout,
//! `collection02/level-2/standard/oli-tirs/{YYYY}/{PPP}/{RRR}/{product id}/{file}` (YYYY the
//! acquisition year), built from the product id.
//!
//! USGS publishes no checksum in its items, so every file gets a (requester-pays) HEAD for its size,
//! ETag and Last-Modified: they decide whether the lake's copy is current, and a download is
//! verified by its size and by the ETag of the version read.
use crate::http::Http;
use crate::requester_pays::RequesterPays;
use crate::{Remote, SyncOptions};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

/// USGS's STAC API.
pub const DEFAULT_STAC: &str = "https://landsatlook.usgs.gov/stac-server";
/// Where USGS's asset hrefs start; the same keys are in `s3://usgs-landsat/`.
pub const USGS_DATA: &str = "https://landsatlook.usgs.gov/data/";
/// The requester-pays bucket.
pub const BUCKET: &str = "usgs-landsat";
/// Pages at most (a server whose `next` never ends).
const MAX_PAGES: usize = 10_000;

/// One synced product: the ODC name, the STAC collection, the platform and the item suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    /// ODC product (`ls8_c2l2_sr`).
    pub name: &'static str,
    /// STAC collection (`landsat-c2l2-sr`).
    pub collection: &'static str,
    /// The `platform` value (`LANDSAT_8`).
    pub platform: &'static str,
    /// `SR` or `ST`: the item id's suffix and its sidecar's.
    pub kind: &'static str,
}

/// The products `etlake sync landsat` knows.
pub const PRODUCTS: [Product; 4] = [
    Product {
        name: "ls8_c2l2_sr",
        collection: "landsat-c2l2-sr",
        platform: "LANDSAT_8",
        kind: "SR",
    },
    Product {
        name: "ls9_c2l2_sr",
        collection: "landsat-c2l2-sr",
        platform: "LANDSAT_9",
        kind: "SR",
    },
    Product {
        name: "ls8_c2l2_st",
        collection: "landsat-c2l2-st",
        platform: "LANDSAT_8",
        kind: "ST",
    },
    Product {
        name: "ls9_c2l2_st",
        collection: "landsat-c2l2-st",
        platform: "LANDSAT_9",
        kind: "ST",
    },
];

/// `LANDSAT_8`, `landsat-8`, `Landsat 8` → `LANDSAT_8`.
fn normalise_platform(p: &str) -> String {
    p.trim().to_ascii_uppercase().replace(['-', ' '], "_")
}

/// A Collection 2 product id's parts: (sensor folder, acquisition year, path, row), e.g.
/// `LC08_L2SP_034032_20200615_20200824_02_T1` → (`oli-tirs`, `2020`, `034`, `032`).
pub fn id_parts(id: &str) -> Option<(&'static str, &str, &str, &str)> {
    let b = id.as_bytes();
    if b.len() != 40 || !id.starts_with('L') || &id[4..5] != "_" || &id[9..10] != "_" {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| id[r].bytes().all(|c| c.is_ascii_digit());
    if !(digits(10..16) && digits(17..25) && digits(26..34) && &id[34..38] == "_02_") {
        return None;
    }
    let sensor = match (&id[1..2], &id[2..4]) {
        ("C" | "O" | "T", "08" | "09") => "oli-tirs",
        ("E", "07") => "etm",
        ("T", "04" | "05") => "tm",
        _ => return None,
    };
    Some((sensor, &id[17..21], &id[10..13], &id[13..16]))
}

/// The bucket URL of an asset: its `alternate.s3.href`, else its landsatlook href mapped onto the
/// bucket.
fn s3_href(asset: &Value) -> Option<String> {
    if let Some(h) = asset["alternate"]["s3"]["href"].as_str() {
        if h.starts_with("s3://") {
            return Some(h.to_string());
        }
    }
    let h = asset["href"].as_str()?;
    if let Some(rest) = h.strip_prefix(USGS_DATA) {
        return Some(format!("s3://{BUCKET}/{rest}"));
    }
    h.starts_with("s3://").then(|| h.to_string())
}

/// The files of one item to copy: (bucket URL, path in the lake). `None` when the item is not a
/// Collection 2 scene product.
pub fn files_of(item: &Value, kind: &str) -> Option<Vec<(String, String)>> {
    let id = item["id"].as_str()?;
    let product_id = id.strip_suffix(&format!("_{kind}")).unwrap_or(id);
    let (sensor, year, path, row) = id_parts(product_id)?;
    let folder = format!("collection02/level-2/standard/{sensor}/{year}/{path}/{row}/{product_id}");
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut s3_dir = None;
    for asset in item["assets"].as_object()?.values() {
        let Some(url) = s3_href(asset) else { continue };
        let Some((dir, name)) = url.rsplit_once('/') else {
            continue;
        };
        let Some(suffix) = name.strip_prefix(&format!("{product_id}_")) else {
            continue;
        };
        let wanted = suffix.ends_with(".TIF")
            || suffix.ends_with(".tif")
            || matches!(suffix, "MTL.json" | "MTL.txt" | "MTL.xml" | "ANG.txt");
        if !wanted || !seen.insert(name.to_string()) {
            continue;
        }
        s3_dir.get_or_insert_with(|| dir.to_string());
        out.push((url.clone(), format!("{folder}/{name}")));
    }
    let dir = s3_dir?;
    let sidecar = format!("{product_id}_{kind}_stac.json");
    if seen.insert(sidecar.clone()) {
        out.push((format!("{dir}/{sidecar}"), format!("{folder}/{sidecar}")));
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Some(out)
}

/// The first page's body of a search.
pub fn search_body(
    collection: &str,
    platforms: &[&str],
    opts: &SyncOptions,
    limit: usize,
) -> Value {
    let (a, b) = opts.time;
    json!({
        "collections": [collection],
        "datetime": format!("{}T00:00:00Z/{}T23:59:59Z", a.format("%Y-%m-%d"), b.format("%Y-%m-%d")),
        "bbox": opts.bbox.unwrap_or([-180.0, -90.0, 180.0, 90.0]),
        "limit": limit,
        "query": {"platform": {"in": platforms}},
    })
}

/// The next request of a page's `next` link: (method, URL, body for a POST).
pub fn next_request(page: &Value, body: &Value) -> Option<(String, String, Option<Value>)> {
    let link = page["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == "next")?;
    let href = link["href"].as_str()?.to_string();
    let method = link["method"]
        .as_str()
        .unwrap_or("GET")
        .to_ascii_uppercase();
    if method != "POST" {
        return Some(("GET".into(), href, None));
    }
    let next = match (&link["body"], link["merge"].as_bool().unwrap_or(false)) {
        (Value::Object(b), true) => {
            let mut merged = body.clone();
            for (k, v) in b {
                merged[k] = v.clone();
            }
            merged
        }
        (Value::Object(_), false) => link["body"].clone(),
        _ => body.clone(),
    };
    Some(("POST".into(), href, Some(next)))
}

async fn page(http: &Http, method: &str, url: &str, body: Option<&Value>) -> Result<Value, String> {
    let _p = http.permit(url).await;
    let resp = match body {
        Some(b) => http.send_json(method, url, b).await?,
        None => {
            let accept = [(
                "accept",
                "application/geo+json, application/json".to_string(),
            )];
            http.send(method, url, &accept).await?
        }
    };
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("item search: {e}"))?
        .to_bytes();
    if !status.is_success() {
        let text = String::from_utf8_lossy(&bytes);
        let text: String = text.chars().take(300).collect();
        return Err(format!("item search: HTTP {status}: {text}"));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("item search: not a JSON answer: {e}"))
}

/// Searches the STAC API for the requested products and HEADs their files in the bucket.
pub async fn discover(
    http: &Arc<Http>,
    source: &Arc<RequesterPays>,
    opts: &SyncOptions,
    api: &str,
    failures: &mut Vec<(String, String)>,
) -> crate::Result<Vec<Remote>> {
    if opts.products.is_empty() {
        return Err(crate::Error::Usage(
            "landsat: name the products, e.g. --product ls8_c2l2_sr (ls8_c2l2_sr, ls9_c2l2_sr, ls8_c2l2_st, ls9_c2l2_st)".into(),
        ));
    }
    let mut wanted: Vec<Product> = Vec::new();
    for p in &opts.products {
        let found = PRODUCTS.iter().find(|x| x.name == p).ok_or_else(|| {
            crate::Error::Usage(format!(
                "--product {p}: Landsat syncs ls8_c2l2_sr, ls9_c2l2_sr, ls8_c2l2_st or ls9_c2l2_st"
            ))
        })?;
        if !wanted.contains(found) {
            wanted.push(*found);
        }
    }
    let search = format!("{api}/search");
    let limit = opts.page_size.clamp(1, 500);
    let mut candidates: Vec<Remote> = Vec::new();
    let mut placed = BTreeSet::new();
    for collection in ["landsat-c2l2-sr", "landsat-c2l2-st"] {
        let of_collection: Vec<Product> = wanted
            .iter()
            .copied()
            .filter(|p| p.collection == collection)
            .collect();
        if of_collection.is_empty() {
            continue;
        }
        let platforms: Vec<&str> = of_collection.iter().map(|p| p.platform).collect();
        let mut body = search_body(collection, &platforms, opts, limit);
        let (mut method, mut url, mut send) =
            ("POST".to_string(), search.clone(), Some(body.clone()));
        let mut items_seen = BTreeSet::new();
        for n in 0.. {
            if n == MAX_PAGES {
                failures.push((url.clone(), format!("more than {MAX_PAGES} pages: stopped")));
                break;
            }
            let v = match page(http, &method, &url, send.as_ref()).await {
                Ok(v) => v,
                Err(e) => {
                    failures.push((crate::http::public(&url).to_string(), e));
                    break;
                }
            };
            let features = v["features"].as_array().cloned().unwrap_or_default();
            for item in &features {
                let Some(id) = item["id"].as_str() else {
                    continue;
                };
                if !items_seen.insert(id.to_string()) {
                    continue;
                }
                let props = &item["properties"];
                let platform = props["platform"]
                    .as_str()
                    .or(props["eo:platform"].as_str())
                    .map(normalise_platform)
                    .unwrap_or_default();
                let Some(product) = of_collection.iter().find(|p| p.platform == platform) else {
                    tracing::debug!("{id}: platform {platform:?} not asked for");
                    continue;
                };
                let Some(files) = files_of(item, product.kind) else {
                    failures.push((
                        format!("{url} item {id}"),
                        "not a Collection 2 Level-2 scene product (no product id or no bucket hrefs)"
                            .into(),
                    ));
                    continue;
                };
                for (s3, rel) in files {
                    // SR and ST items of a scene share their QA bands and MTL: one copy.
                    if !placed.insert(rel.clone()) {
                        continue;
                    }
                    candidates.push(Remote {
                        url: s3.clone(),
                        rel,
                        product: product.name.into(),
                        maturity: None,
                        size: None,
                        etag: None,
                        last_modified: None,
                        checksum: None,
                        direct: Some(s3),
                    });
                }
            }
            if features.is_empty() {
                break;
            }
            match next_request(&v, &body) {
                Some((m, u, b)) => {
                    if let Some(b) = &b {
                        body = b.clone();
                    }
                    (method, url, send) = (m, u, b);
                }
                None => break,
            }
        }
        if items_seen.is_empty() {
            tracing::info!("STAC: no item of {collection} in the range");
        }
    }
    // HEAD every file in the bucket (requester pays), bounded by the per-host limit.
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mut r) in candidates.into_iter().enumerate() {
        let (http, source) = (http.clone(), source.clone());
        tasks.spawn(async move {
            let _p = http.permit(&r.url).await;
            let head = match source.head(&r.url).await {
                Ok(h) => {
                    r.size = h.size;
                    r.etag = h.etag;
                    r.last_modified = h.last_modified;
                    Ok(r)
                }
                Err(e) => Err((r.url.clone(), e)),
            };
            (i, head)
        });
    }
    let mut heads = Vec::new();
    while let Some(j) = tasks.join_next().await {
        heads.push(j.map_err(|e| crate::Error::Setup {
            object: "discovery".into(),
            message: e.to_string(),
        })?);
    }
    heads.sort_by_key(|(i, _)| *i);
    let mut out = Vec::new();
    for (_, h) in heads {
        match h {
            Ok(r) => out.push(r),
            Err(f) => failures.push(f),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_ids_give_the_bucket_layout() {
        assert_eq!(
            id_parts("LC08_L2SP_034032_20200615_20200824_02_T1"),
            Some(("oli-tirs", "2020", "034", "032"))
        );
        assert_eq!(
            id_parts("LC09_L2SP_092068_20230522_20230524_02_T2"),
            Some(("oli-tirs", "2023", "092", "068"))
        );
        assert_eq!(
            id_parts("LC08_L2SP_034032_20200615_20200824_02_T1_SR"),
            None
        );
        assert_eq!(id_parts("S2A_29TNG_20170128_0_L2A"), None);
    }

    #[test]
    fn item_files_and_sidecar() {
        let id = "LC08_L2SP_034032_20200615_20200824_02_T1";
        let dir = format!("collection02/level-2/standard/oli-tirs/2020/034/032/{id}");
        let item = json!({
            "id": format!("{id}_SR"),
            "assets": {
                "red": {"href": format!("{USGS_DATA}{dir}/{id}_SR_B4.TIF"),
                    "alternate": {"s3": {"href": format!("s3://usgs-landsat/{dir}/{id}_SR_B4.TIF")}}},
                "MTL.json": {"href": format!("{USGS_DATA}{dir}/{id}_MTL.json")},
                "ANG.txt": {"href": format!("{USGS_DATA}{dir}/{id}_ANG.txt")},
                "thumbnail": {"href": format!("{USGS_DATA}{dir}/{id}_thumb_small.jpeg")},
            }
        });
        let files = files_of(&item, "SR").unwrap();
        let rels: Vec<&str> = files.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(
            rels,
            [
                format!("{dir}/{id}_ANG.txt"),
                format!("{dir}/{id}_MTL.json"),
                format!("{dir}/{id}_SR_B4.TIF"),
                format!("{dir}/{id}_SR_stac.json"),
            ]
        );
        assert!(files
            .iter()
            .all(|(u, r)| u == &format!("s3://usgs-landsat/{r}")));
    }

    #[test]
    fn next_links_post_merge_and_get() {
        let body = json!({"collections": ["c"], "limit": 1});
        let page = json!({"links": [{"rel": "next", "href": "http://x/search", "method": "POST",
            "merge": true, "body": {"next": "tok"}}]});
        let (m, u, b) = next_request(&page, &body).unwrap();
        assert_eq!((m.as_str(), u.as_str()), ("POST", "http://x/search"));
        assert_eq!(
            b.unwrap(),
            json!({"collections": ["c"], "limit": 1, "next": "tok"})
        );
        let page = json!({"links": [{"rel": "next", "href": "http://x/search?token=t"}]});
        assert_eq!(
            next_request(&page, &body),
            Some(("GET".into(), "http://x/search?token=t".into(), None))
        );
        assert_eq!(next_request(&json!({"links": []}), &body), None);
        assert_eq!(normalise_platform("landsat-8"), "LANDSAT_8");
    }
}
