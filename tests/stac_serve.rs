//! `etlake serve`: the STAC API over an indexed CHIRPS lake. pystac-client pages through searches by GET
//! and POST (several pages each) and finds exactly what `etlake search` finds; stac-api-validator 0.6.8
//! (in its own venv, `.venv-stac`, made by scripts/setup-deps.sh --python) reports no errors for core,
//! features, item-search, collections and filter; malformed requests get 400/404 with a JSON message; SIGTERM
//! stops the server cleanly.
mod common;
use common::*;
use std::process::Command;

const PRODUCT: &str = "chirps_v2_daily_p05";

/// What pystac-client finds (GET and POST, two items per page) and the status of bad requests.
const CLIENT: &str = r#"
import json, sys, urllib.request, urllib.error
from pystac_client import Client
base = sys.argv[1]
queries = json.loads(sys.argv[2])
client = Client.open(base)
for i, q in enumerate(queries):
    for method in ("GET", "POST"):
        s = client.search(method=method, collections=[q["product"]], bbox=q.get("bbox"), datetime=q.get("datetime"), limit=2)
        pages = list(s.pages_as_dicts())
        ids = sorted(f["id"] for p in pages for f in p["features"])
        assert len(ids) == len(set(ids)), ids
        for p in pages:
            for f in p["features"]:
                assert f["collection"] == q["product"], f
                assert {l["rel"] for l in f["links"]} >= {"self", "parent", "collection", "root"}, f["links"]
        print(f"Q{i} {method} pages={len(pages)} " + ",".join(ids))
def status(path, body=None):
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
for path, body in [
    ("/search?bbox=1,2,3", None), ("/search?bbox=100,1,105,0", None), ("/search?datetime=2023-01-01", None),
    ("/search?datetime=2023-01-02T00:00:00Z/2023-01-01T00:00:00Z", None), ("/search?limit=-1", None),
    ("/search?limit=abc", None), ("/search", {"limit": -1}), ("/search", {"bbox": "1,2,3,4"}),
    ("/search?token=bogus", None), ("/search?collections=no_such_product", None),
    ("/collections/no_such_product", None), ("/collections/no_such_product/items", None),
    ("/collections/" + queries[0]["product"] + "/items/00000000-0000-0000-0000-000000000000", None),
    ("/no/such/route", None),
]:
    code, doc = status(path, body)
    print("STATUS", code, path, json.dumps(body), doc.get("description", "")[:60].replace(" ", "_"))
code, doc = status("/search?limit=1000000")
print("BIG", code, doc["numberReturned"])
# Four clients paging at once get the same pages.
from concurrent.futures import ThreadPoolExecutor
def walk(_):
    s = Client.open(base).search(method="POST", collections=[queries[0]["product"]], limit=3)
    return [[f["id"] for f in p["features"]] for p in s.pages_as_dicts()]
with ThreadPoolExecutor(4) as ex:
    runs = list(ex.map(walk, range(4)))
assert all(r == runs[0] for r in runs), runs
print("CONCURRENT", len(runs), "clients", len(runs[0]), "pages")
code, doc = status("/collections/" + queries[0]["product"])
print("EXTENT", json.dumps(doc["extent"], separators=(",", ":")))
"#;

#[test]
fn stac_api_serves_the_index() {
    let pg = cluster_with_products();
    let lake = tempdir();
    // Three places (B touches A's east edge at -103°) × four days: 12 items.
    write_chirps_places(lake.path(), 4);
    assert!(ok(etlake(&pg.url, &["index", lake.path().to_str().unwrap()])).contains("12 indexed"));
    // An archived dataset is served by neither.
    let archived = rows(
        &pg.url,
        "SELECT id::text FROM agdc.dataset WHERE metadata->>'label' = 'chirps_v2_daily_p05_20230103' AND metadata#>>'{extent,lon,begin}' = '10.0'",
    );
    ok(etlake(&pg.url, &["dataset", "archive", &archived[0]]));

    let mut server = StacServer::start(&pg.url);
    // (etlake search --time, --bbox) and the same query for the API.
    let queries: [(Option<&str>, Option<[f64; 4]>); 4] = [
        (None, None),
        (Some("2023-01-02/2023-01-03"), None),
        (None, Some([-104.0, 40.2, -102.5, 40.8])),
        (
            Some("2023-01-01/2023-01-02"),
            Some([-104.0, 40.0, -102.0, 41.0]),
        ),
    ];
    let api: Vec<serde_json::Value> = queries
        .iter()
        .map(|(t, b)| {
            let mut q = serde_json::json!({"product": PRODUCT});
            if let Some(t) = t {
                let (a, b) = t.split_once('/').unwrap();
                q["datetime"] = format!("{a}T00:00:00Z/{b}T23:59:59.999999Z").into();
            }
            if let Some(b) = b {
                q["bbox"] = serde_json::json!(b);
            }
            q
        })
        .collect();
    let out = ok(Command::new(venv().join("bin/python"))
        .args([
            "-c",
            CLIENT,
            &server.base,
            &serde_json::to_string(&api).unwrap(),
        ])
        .output()
        .unwrap());
    for (i, (time, bbox)) in queries.iter().enumerate() {
        let mut args = vec!["search", "--product", PRODUCT, "--format", "json"];
        let bbox_text = bbox.map(|[w, s, e, n]| format!("{w},{s},{e},{n}"));
        if let Some(t) = time {
            args.extend(["--time", t]);
        }
        if let Some(b) = &bbox_text {
            args.extend(["--bbox", b]);
        }
        let found: Vec<serde_json::Value> =
            serde_json::from_str(&ok(etlake(&pg.url, &args))).unwrap();
        let mut ids: Vec<&str> = found.iter().map(|f| f["id"].as_str().unwrap()).collect();
        ids.sort();
        assert!(!ids.is_empty(), "query {i} should find something");
        assert!(!ids.contains(&archived[0].as_str()));
        for method in ["GET", "POST"] {
            let line = out
                .lines()
                .find(|l| l.starts_with(&format!("Q{i} {method} ")))
                .unwrap_or_else(|| panic!("no answer for Q{i} {method}:\n{out}"));
            let pages = ids.len().div_ceil(2).max(1);
            assert_eq!(
                line,
                format!("Q{i} {method} pages={pages} {}", ids.join(",")),
                "query {i} {time:?} {bbox:?}"
            );
        }
    }
    assert!(out.contains("Q0 GET pages=6 "), "11 items by 2: {out}");
    // Bad requests: 400 for malformed parameters, 404 for what is not there, each with a message.
    let statuses: Vec<&str> = out.lines().filter(|l| l.starts_with("STATUS")).collect();
    assert_eq!(statuses.len(), 14, "{out}");
    for l in &statuses {
        let expected = if l.contains("no_such")
            || l.contains("0000-000000000000")
            || l.contains("/no/such/route")
        {
            "STATUS 404 "
        } else {
            "STATUS 400 "
        };
        assert!(l.starts_with(expected), "{l}");
        assert!(
            l.rsplit(" ").next().is_some_and(|d| d.len() > 10),
            "no message: {l}"
        );
    }
    assert!(out.contains("CONCURRENT 4 clients 4 pages"), "{out}");
    // The collection's extent is its live items' (three 2° × 1° tiles, four days).
    let extent = out.lines().find(|l| l.starts_with("EXTENT ")).unwrap();
    assert!(
        extent.starts_with(r#"EXTENT {"spatial":{"bbox":[[-105.0,-5.0,12.0,41.0]]},"temporal":{"interval":[["2023-01-01T00:00:00Z","2023-01-04T"#),
        "{extent}"
    );
    // A huge limit is clamped, not refused.
    assert!(out.contains("BIG 200 11"), "{out}");

    // stac-api-validator: no errors for the conformance classes declared.
    let geometry = r#"{"type": "Polygon", "coordinates": [[[-104.5, 40.2], [-103.5, 40.2], [-103.5, 40.8], [-104.5, 40.8], [-104.5, 40.2]]]}"#;
    let v = Command::new(stac_venv().join("bin/python"))
        .arg(reference("stac-schemas/offline_validator.py"))
        .args(["--root-url", &format!("{}/", server.base)])
        .args(["--conformance", "core", "--conformance", "features"])
        .args([
            "--conformance",
            "item-search",
            "--conformance",
            "collections",
        ])
        .args(["--conformance", "filter"])
        .args(["--collection", PRODUCT, "--geometry", geometry])
        .output()
        .unwrap();
    let report = text(&v);
    assert!(v.status.success(), "stac-api-validator:\n{report}");
    // (It exits 0 after an exception too: the verdict is its "Errors: none".)
    assert!(report.contains("Errors: none"), "{report}");
    eprintln!("stac-api-validator:\n{report}");

    assert!(server.stop(), "the server should exit cleanly on SIGTERM");
}
