//! `etlake serve` beyond plain item search, on an indexed CHIRPS lake: CQL2 filters (cql2-text by
//! GET, cql2-json by POST, through pystac-client over several pages; boxes, a triangle, a line, a
//! polygon with a hole) find what `etlake search` and
//! `dc.find_datasets` find; `sortby` (item keys and search fields) pages in the order asked, the
//! token carrying the sort keys;
//! `fields` trims items; `numberMatched` comes only on request; `/queryables` lists the metadata
//! type's search fields; malformed filters, sorts and counts are 400s with a message. A second test
//! shows with EXPLAIN, on a generated index large enough for the planner to care, that a filter on a
//! search field, the time and the footprint (and a plain bbox and datetime search) is served by the
//! product's `dix_*` indexes.
mod common;
use common::*;
use serde_json::{json, Value};
use std::process::Command;

const PRODUCT: &str = "chirps_v2_daily_p05";

/// pystac-client's searches with each filter (GET cql2-text, POST cql2-json, two items a page), what
/// `dc.find_datasets` finds by label, then sorting, fields, counts and bad requests.
const CLIENT: &str = r#"
import json, sys, urllib.request, urllib.error, urllib.parse
from pystac_client import Client
import datacube
base, product, cases = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
client = Client.open(base)
for c in cases:
    for method, f, lang in (("GET", c["text"], "cql2-text"), ("POST", c["json"], "cql2-json")):
        s = client.search(method=method, collections=[product], filter=f, filter_lang=lang, limit=2)
        pages = list(s.pages_as_dicts())
        ids = [i["id"] for p in pages for i in p["features"]]
        assert len(ids) == len(set(ids)), ids
        print(f"F {c['name']} {method} pages={len(pages)} " + ",".join(sorted(ids)))
dc = datacube.Datacube(app="stac-filter-test")
labels = [f"{product}_20230102", f"{product}_20230103"]
found = sorted(str(d.id) for l in labels for d in dc.find_datasets(product=product, label=l))
print("DC labels " + ",".join(found))

def get(path, body=None):
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers.get("content-type"), json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type"), json.load(e)

def walk(method, **kw):
    s = Client.open(base).search(method=method, collections=[product], limit=3, **kw)
    return [i for p in s.pages_as_dicts() for i in p["features"]]

# sortby: every item once, in the order asked, across pages (GET and POST).
for method in ("GET", "POST"):
    up = walk(method, sortby="+datetime")
    keys = [(i["properties"]["datetime"], i["id"]) for i in up]
    assert keys == sorted(keys) and len(set(keys)) == 12, keys
    by_id = [i["id"] for i in walk(method, sortby=[{"field": "id", "direction": "desc"}])]
    assert by_id == sorted(by_id, reverse=True) and len(by_id) == 12, by_id
    # by a search field (label, here the day): pages in that order, ties by id
    lab = walk(method, sortby="-label")
    keys = [(i["properties"]["datetime"], i["id"]) for i in lab]
    assert keys == sorted(keys, reverse=True) and len(lab) == 12, keys
    mixed = walk(method, sortby="-collection,+datetime")
    assert [i["properties"]["datetime"] for i in mixed] == sorted(i["properties"]["datetime"] for i in mixed)
    print(f"SORT {method} ok {len(up)}")

# four clients paging a filtered, sorted search at once get the same pages
from concurrent.futures import ThreadPoolExecutor
def pages(_):
    s = Client.open(base).search(method="POST", collections=[product], limit=2, sortby="-label",
        filter=cases[0]["json"], filter_lang="cql2-json")
    return [[i["id"] for i in p["features"]] for p in s.pages_as_dicts()]
with ThreadPoolExecutor(4) as ex:
    runs = list(ex.map(pages, range(4)))
assert all(r == runs[0] for r in runs), runs
print("CONCURRENT", len(runs), "clients", len(runs[0]), "pages")

# fields
code, _, doc = get(f"/search?collections={product}&limit=1&fields=properties.datetime,-assets")
f = doc["features"][0]
assert sorted(f) == ["collection", "id", "links", "properties", "stac_version", "type"], sorted(f)
assert list(f["properties"]) == ["datetime"], f["properties"]
code, _, doc = get("/search", {"collections": [product], "limit": 1, "fields": {"exclude": ["geometry", "properties.datetime"]}})
f = doc["features"][0]
assert "geometry" not in f and "assets" in f and "datetime" not in f["properties"], f
print("FIELDS ok")

# a collection's items take the filter too
code, _, doc = get(f"/collections/{product}/items?count=exact&filter=" + urllib.parse.quote(f"label = '{product}_20230101'"))
print("ITEMS", code, doc["numberMatched"], len(doc["features"]))

# numberMatched only on request
code, _, doc = get(f"/search?collections={product}&limit=1")
assert "numberMatched" not in doc, doc.keys()
code, _, doc = get(f"/search?collections={product}&limit=1&count=exact&filter=" + urllib.parse.quote("label LIKE '%0102'"))
print("COUNT exact", doc["numberMatched"], doc["numberReturned"])
code, _, doc = get("/search", {"collections": [product], "count": "estimate"})
print("COUNT estimate", type(doc["numberMatched"]).__name__)

# queryables
code, ctype, doc = get("/queryables")
print("QUERYABLES", code, ctype, doc["$id"] == base + "/queryables", ",".join(sorted(doc["properties"])))
code, ctype, doc = get(f"/collections/{product}/queryables")
print("CQUERYABLES", code, doc["$id"] == base + f"/collections/{product}/queryables", "region_code" in doc["properties"])

# bad requests
for path, body in [
    ("/search?filter=" + urllib.parse.quote("label = "), None),
    ("/search?filter=" + urllib.parse.quote("S_WITHIN(geometry, POINT(0 0))"), None),
    ("/search?filter=" + urllib.parse.quote("id = 3"), None),
    ("/search?filter-lang=cql2-xml&filter=x", None),
    ("/search?filter=" + urllib.parse.quote("S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 0 0)))"), None),
    ("/search", {"filter": {"op": "=", "args": [{"property": "id"}]}}),
    ("/search", {"filter": {"op": "and"}}),
    ("/search?sortby=cloudiness", None),
    ("/search", {"sortby": [{"field": "id", "direction": "sideways"}]}),
    ("/search?count=all", None),
    ("/search?filter-crs=EPSG:3857&filter=" + urllib.parse.quote("id = 'x'"), None),
    ("/collections/no_such_product/queryables", None),
]:
    code, _, doc = get(path, body)
    print("STATUS", code, path, json.dumps(body), doc.get("description", "")[:70].replace(" ", "_"))
"#;

fn search_ids(url: &catalog_schema::DbUrl, time: Option<&str>, bbox: Option<&str>) -> Vec<String> {
    let mut args = vec!["search", "--product", PRODUCT, "--format", "json"];
    if let Some(t) = time {
        args.extend(["--time", t]);
    }
    if let Some(b) = bbox {
        args.extend(["--bbox", b]);
    }
    let found: Vec<Value> = serde_json::from_str(&ok(etlake(url, &args))).unwrap();
    let mut ids: Vec<String> = found
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// A private cluster with the CHIRPS product only.
fn cluster_with_chirps() -> Cluster {
    cluster_with(&[workspace().join(format!("product-defs/products/{PRODUCT}.odc-product.yaml"))])
}

fn polygon(points: &[[f64; 2]]) -> (String, Value) {
    let text: Vec<String> = points.iter().map(|[x, y]| format!("{x} {y}")).collect();
    (
        format!("POLYGON(({}))", text.join(", ")),
        json!({"type": "Polygon", "coordinates": [points]}),
    )
}

#[test]
fn stac_api_filters_sorts_and_counts() {
    let pg = cluster_with_chirps();
    let lake = tempdir();
    // Three places (A at -105..-103, B at -103..-101, both 40..41; C far away) × four days.
    write_chirps_places(lake.path(), 4);
    assert!(ok(etlake(&pg.url, &["index", lake.path().to_str().unwrap()])).contains("12 indexed"));
    let server = StacServer::start(&pg.url);

    let t_text =
        "T_INTERSECTS(datetime, INTERVAL('2023-01-02T00:00:00Z', '2023-01-03T23:59:59.999999Z'))";
    let t_json = json!({"op": "t_intersects", "args": [{"property": "datetime"},
        {"interval": ["2023-01-02T00:00:00Z", "2023-01-03T23:59:59.999999Z"]}]});
    let (box_text, box_json) = polygon(&[
        [-104.0, 40.2],
        [-102.5, 40.2],
        [-102.5, 40.8],
        [-104.0, 40.8],
        [-104.0, 40.2],
    ]);
    // A triangle inside A whose envelope reaches into B: only A's items meet it.
    let (tri_text, tri_json) = polygon(&[
        [-104.5, 40.2],
        [-102.5, 42.0],
        [-104.5, 42.0],
        [-104.5, 40.2],
    ]);
    // A line crossing B with no vertex inside it; a polygon whose hole holds A (and part of B).
    let line_text = "LINESTRING(-102.5 39.5, -101.5 41.5)";
    let line_json = json!({"type": "LineString", "coordinates": [[-102.5, 39.5], [-101.5, 41.5]]});
    let outer = [
        [-106.0, 39.0],
        [-100.0, 39.0],
        [-100.0, 42.0],
        [-106.0, 42.0],
        [-106.0, 39.0],
    ];
    let hole = [
        [-105.5, 39.5],
        [-102.9, 39.5],
        [-102.9, 41.5],
        [-105.5, 41.5],
        [-105.5, 39.5],
    ];
    let ring = |r: &[[f64; 2]]| {
        let t: Vec<String> = r.iter().map(|[x, y]| format!("{x} {y}")).collect();
        format!("({})", t.join(", "))
    };
    let holed_text = format!("POLYGON({}, {})", ring(&outer), ring(&hole));
    let holed_json = json!({"type": "Polygon", "coordinates": [outer, hole]});
    let s_text = |g: &str| format!("S_INTERSECTS(geometry, {g})");
    let s_json = |g: &Value| json!({"op": "s_intersects", "args": [{"property": "geometry"}, g]});
    let cases = json!([
        {"name": "time", "text": t_text, "json": t_json},
        {"name": "box", "text": s_text(&box_text), "json": s_json(&box_json)},
        {"name": "triangle", "text": s_text(&tri_text), "json": s_json(&tri_json)},
        {"name": "line", "text": s_text(line_text), "json": s_json(&line_json)},
        {"name": "holed", "text": s_text(&holed_text), "json": s_json(&holed_json)},
        {"name": "all", "text": format!("collection = '{PRODUCT}' AND {t_text} AND S_INTERSECTS(geometry, BBOX(-104, 40.2, -102.5, 40.8))"),
         "json": {"op": "and", "args": [{"op": "=", "args": [{"property": "collection"}, PRODUCT]}, t_json,
            {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [-104, 40.2, -102.5, 40.8]}]}]}},
        {"name": "labels", "text": format!("label IN ('{PRODUCT}_20230102', '{PRODUCT}_20230103') AND NOT label LIKE '%0101'"),
         "json": {"op": "and", "args": [
            {"op": "in", "args": [{"property": "label"}, [format!("{PRODUCT}_20230102"), format!("{PRODUCT}_20230103")]]},
            {"op": "not", "args": [{"op": "like", "args": [{"property": "label"}, "%0101"]}]}]}},
        {"name": "none", "text": "eo:cloud_cover < 10 OR mission LIKE 'sentinel%'",
         "json": {"op": "or", "args": [{"op": "<", "args": [{"property": "eo:cloud_cover"}, 10]},
            {"op": "like", "args": [{"property": "mission"}, "sentinel%"]}]}},
    ]);
    let home = tempdir();
    let mut cmd = Command::new(venv().join("bin/python"));
    clean_env(&mut cmd, home.path());
    let out = ok(cmd
        .current_dir(home.path())
        .env("ODC_DEFAULT_DB_URL", pg.url.python_url())
        .args(["-c", CLIENT, &server.base, PRODUCT, &cases.to_string()])
        .output()
        .unwrap());
    let time = search_ids(&pg.url, Some("2023-01-02/2023-01-03"), None);
    let boxed = search_ids(&pg.url, None, Some("-104,40.2,-102.5,40.8"));
    let in_a = search_ids(&pg.url, None, Some("-104.5,40.2,-103.5,40.8"));
    let in_b = search_ids(&pg.url, None, Some("-102.5,40.2,-101.5,40.8"));
    let both = search_ids(
        &pg.url,
        Some("2023-01-02/2023-01-03"),
        Some("-104,40.2,-102.5,40.8"),
    );
    let labels: Vec<String> = out
        .lines()
        .find_map(|l| l.strip_prefix("DC labels "))
        .unwrap_or_else(|| panic!("no dc.find_datasets answer:\n{out}"))
        .split(',')
        .map(String::from)
        .collect();
    assert_eq!(
        (
            time.len(),
            boxed.len(),
            in_a.len(),
            both.len(),
            labels.len()
        ),
        (6, 8, 4, 4, 6)
    );
    for (name, want) in [
        ("time", &time),
        ("box", &boxed),
        ("triangle", &in_a),
        ("line", &in_b),
        ("holed", &in_b),
        ("all", &both),
        ("labels", &labels),
        ("none", &Vec::new()),
    ] {
        for method in ["GET", "POST"] {
            let pages = want.len().div_ceil(2);
            let line = format!("F {name} {method} pages={pages} {}", want.join(","));
            assert!(
                out.lines().any(|l| l == line),
                "expected {line:?} in:\n{out}"
            );
        }
    }
    assert!(
        out.contains("SORT GET ok 12") && out.contains("SORT POST ok 12"),
        "{out}"
    );
    assert!(out.contains("FIELDS ok"), "{out}");
    assert!(out.contains("CONCURRENT 4 clients 3 pages"), "{out}");
    assert!(out.contains("COUNT exact 3 1"), "{out}");
    assert!(out.contains("COUNT estimate int"), "{out}");
    assert!(out.contains("ITEMS 200 3 3"), "{out}");
    let q = out.lines().find(|l| l.starts_with("QUERYABLES ")).unwrap();
    assert!(
        q.starts_with("QUERYABLES 200 application/schema+json True ")
            && [
                "collection",
                "datetime",
                "geometry",
                "id",
                "label",
                "region_code",
                "cloud_cover"
            ]
            .iter()
            .all(|f| q.split(' ').nth(4).unwrap().split(',').any(|x| x == *f)),
        "{q}"
    );
    assert!(out.contains("CQUERYABLES 200 True True"), "{out}");
    let statuses: Vec<&str> = out.lines().filter(|l| l.starts_with("STATUS")).collect();
    assert_eq!(statuses.len(), 12, "{out}");
    for l in &statuses {
        let expected = if l.contains("no_such") {
            "STATUS 404 "
        } else {
            "STATUS 400 "
        };
        assert!(l.starts_with(expected), "{l}");
        assert!(
            l.rsplit(' ').next().is_some_and(|d| d.len() > 10),
            "no message: {l}"
        );
    }
}

#[test]
fn filters_are_served_by_the_dix_indexes() {
    let pg = cluster_with_chirps();
    // 30,000 synthetic daily datasets over a 100 × 100 grid of 0.1° cells with region codes, shaped
    // like etlake's documents, each with its STAC item (bbox and times as the indexer writes them).
    let sql = "INSERT INTO agdc.dataset (id, metadata_type_ref, dataset_type_ref, metadata) \
        SELECT md5(g::text)::uuid, p.metadata_type_ref, p.id, jsonb_build_object( \
          'label', 'd' || g, \
          'extent', jsonb_build_object('lon', jsonb_build_object('begin', -110 + (g % 100) * 0.1, 'end', -110 + (g % 100) * 0.1 + 0.1), \
                                       'lat', jsonb_build_object('begin', 30 + ((g / 100) % 100) * 0.1, 'end', 30 + ((g / 100) % 100) * 0.1 + 0.1)), \
          'properties', jsonb_build_object('odc:region_code', 'r' || (g % 10000), \
                                           'datetime', to_char(date '2000-01-01' + (g / 10000), 'YYYY-MM-DD') || 'T00:00:00Z', \
                                           'dtr:start_datetime', to_char(date '2000-01-01' + (g / 10000), 'YYYY-MM-DD') || 'T00:00:00Z', \
                                           'dtr:end_datetime', to_char(date '2000-01-01' + (g / 10000), 'YYYY-MM-DD') || 'T23:59:59.999999Z')) \
        FROM generate_series(1, 30000) g, agdc.dataset_type p WHERE p.name = 'chirps_v2_daily_p05'; \
        INSERT INTO etlake.stac_item (dataset_ref, collection, item_id, item) \
        SELECT d.id, 'chirps_v2_daily_p05', d.id::text, jsonb_build_object('type', 'Feature', 'id', d.id::text, \
          'bbox', jsonb_build_array(d.metadata#>'{extent,lon,begin}', d.metadata#>'{extent,lat,begin}', d.metadata#>'{extent,lon,end}', d.metadata#>'{extent,lat,end}'), \
          'properties', jsonb_build_object('datetime', d.metadata#>'{properties,datetime}', \
             'start_datetime', d.metadata#>'{properties,dtr:start_datetime}', 'end_datetime', d.metadata#>'{properties,dtr:end_datetime}')) \
        FROM agdc.dataset d; \
        ANALYZE agdc.dataset; ANALYZE etlake.stac_item";
    connect(&pg.url).batch_execute(sql).unwrap();
    let plan = |filter: Value| {
        let body = json!({"collections": [PRODUCT], "filter": filter, "limit": 10});
        server::explain(&pg.url, &body).unwrap_or_else(|e| panic!("{body}: {e}"))
    };
    let region = plan(json!({"op": "=", "args": [{"property": "odc:region_code"}, "r42"]}));
    assert!(
        region.contains("dix_chirps_v2_daily_p05_region_code"),
        "region_code = … should use the product's region_code index:\n{region}"
    );
    let place_time = plan(json!({"op": "and", "args": [
        {"op": "t_intersects", "args": [{"property": "datetime"}, {"interval": ["2000-01-05T00:00:00Z", "2000-01-06T00:00:00Z"]}]},
        {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [-105.05, 34.95, -104.85, 35.15]}]}]}));
    assert!(
        place_time.contains("dix_chirps_v2_daily_p05_"),
        "time and footprint should use a dix_ index:\n{place_time}"
    );
    // The plain bbox and datetime parameters too.
    let params = server::explain(
        &pg.url,
        &json!({"collections": [PRODUCT], "bbox": [-105.05, 34.95, -104.85, 35.15],
            "datetime": "2000-01-05T00:00:00Z/2000-01-06T00:00:00Z"}),
    )
    .unwrap();
    assert!(
        params.contains("dix_chirps_v2_daily_p05_"),
        "bbox and datetime should use a dix_ index:\n{params}"
    );
    for p in [&region, &place_time, &params] {
        assert!(!p.contains("Seq Scan on dataset"), "{p}");
    }
    eprintln!(
        "region_code filter:\n{region}\n\ntime and footprint filter:\n{place_time}\n\nbbox and datetime:\n{params}"
    );
    // The plans answer: the same filters through the API find the generated cells.
    let server = StacServer::start(&pg.url);
    let body = json!({"collections": [PRODUCT], "limit": 100, "count": "exact",
        "filter": {"op": "=", "args": [{"property": "region_code"}, "r42"]}});
    let fetch = format!(
        "import json, sys, urllib.request\n\
         r = urllib.request.Request({:?}, data=sys.argv[1].encode(), headers={{'content-type': 'application/json'}})\n\
         print(urllib.request.urlopen(r).read().decode())",
        format!("{}/search", server.base)
    );
    let page = Command::new(venv().join("bin/python"))
        .args(["-c", &fetch, &body.to_string()])
        .output()
        .unwrap();
    let page: Value = serde_json::from_str(&ok(page)).unwrap();
    // g = 42, 10042, 20042: three datasets.
    assert_eq!(page["numberMatched"], 3, "{page}");
    assert_eq!(page["features"].as_array().unwrap().len(), 3);

    // Keyset paging: the collection's first page and a later one (the token of page 1) are both read
    // from the (collection, datetime, id) index in order, the later one starting at the token's
    // position — no sort of the collection, so page 50 costs what page 1 costs.
    let body = json!({"collections": [PRODUCT], "limit": 100});
    let page = Command::new(venv().join("bin/python"))
        .args(["-c", &fetch, &body.to_string()])
        .output()
        .unwrap();
    let page: Value = serde_json::from_str(&ok(page)).unwrap();
    let next = page["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .unwrap_or_else(|| panic!("no next link: {}", page["links"]));
    assert_eq!(next["method"], "POST");
    let first = server::explain(&pg.url, &body).unwrap();
    let later = server::explain(&pg.url, &next["body"]).unwrap();
    for (which, plan) in [("first", &first), ("later", &later)] {
        assert!(
            plan.contains("etlake_ix_stac_item_collection_datetime") && !plan.contains("Sort"),
            "the {which} page should be read from the order's index, unsorted:\n{plan}"
        );
    }
    assert!(
        later.contains("Index Cond: (((collection)::text = ") && later.contains("(datetime <= "),
        "a later page should start the index scan at the token:\n{later}"
    );
    eprintln!("first page:\n{first}\n\nlater page:\n{later}");
}
