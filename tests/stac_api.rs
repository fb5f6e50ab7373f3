//! `etlake index --stac-api`: items of a STAC API search (a small API served on loopback with Python's
//! standard library) are indexed like sidecar items, every page followed (POST with a merged body, then
//! GET), the search filters sent, locations the items' self links, and a re-run finds them unchanged.
mod common;
use common::*;
use std::process::{Command, Stdio};

const SERVER: &str = r#"
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
items, log = json.load(open(sys.argv[1])), sys.argv[2]
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, features, next_link):
        body = {"type": "FeatureCollection", "features": features, "links": [next_link] if next_link else []}
        data = json.dumps(body).encode()
        self.send_response(200); self.send_header("content-type", "application/geo+json")
        self.send_header("content-length", str(len(data))); self.end_headers(); self.wfile.write(data)
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["content-length"])))
        open(log, "a").write(json.dumps(req) + "\n")
        if req.get("collections") != ["landsat-c2l2-sr"]:
            self.send_response(400); self.end_headers(); return
        base = f"http://127.0.0.1:{self.server.server_port}/search"
        if "token" not in req:
            self.reply(items[0:2], {"rel": "next", "href": base, "method": "POST", "merge": True, "body": {"token": "p2"}})
        else:
            self.reply(items[2:4], {"rel": "next", "href": base + "?token=p3"})
    def do_GET(self):
        self.reply(items[4:], None)
srv = HTTPServer(("127.0.0.1", 0), H)
print(srv.server_port, flush=True)
srv.serve_forever()
"#;

#[test]
fn items_of_a_stac_api_search_are_indexed() {
    let pg = cluster_with_bench_product();
    let dir = tempdir();
    let items: Vec<serde_json::Value> = (0..5)
        .map(|i| sample_lake::landsat::bench_item(i, "https://landsatlook.usgs.gov/data").1)
        .collect();
    let items_file = dir.path().join("items.json");
    std::fs::write(&items_file, serde_json::to_vec(&items).unwrap()).unwrap();
    let log = dir.path().join("requests.jsonl");
    let mut server = Command::new(venv().join("bin/python"))
        .args(["-c", SERVER])
        .arg(&items_file)
        .arg(&log)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut port,
    )
    .unwrap();
    let api = format!("http://127.0.0.1:{}", port.trim());
    let args = [
        "index",
        "--stac-api",
        &api,
        "--collections",
        "landsat-c2l2-sr",
        "--stac-bbox=-106,36,-103,38.5",
        "--datetime",
        "2020-01-01T00:00:00Z/2020-12-31T23:59:59Z",
        "--page-size",
        "2",
    ];
    let first = etlake(&pg.url, &args);
    let again = etlake(&pg.url, &args);
    let _ = server.kill();
    let _ = server.wait();
    let t = ok(first);
    assert!(t.contains("5 indexed"), "{t}");
    let t = ok(again);
    assert!(t.contains("5 unchanged"), "{t}");
    let requests: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // First page: the filters; second: the merged body plus the API's token.
    assert_eq!(
        requests[0]["bbox"],
        serde_json::json!([-106.0, 36.0, -103.0, 38.5])
    );
    assert_eq!(
        requests[0]["datetime"],
        "2020-01-01T00:00:00Z/2020-12-31T23:59:59Z"
    );
    assert_eq!(requests[0]["limit"], 2);
    assert_eq!(requests[1]["token"], "p2");
    assert_eq!(
        requests[1]["collections"],
        serde_json::json!(["landsat-c2l2-sr"])
    );
    let locations = rows(
        &pg.url,
        "SELECT uri_scheme || ':' || uri_body FROM agdc.dataset_location ORDER BY 1",
    );
    assert_eq!(locations.len(), 5);
    assert!(
        locations
            .iter()
            .all(|l| l.starts_with("https://landsatlook.usgs.gov/data/collection02/")),
        "{locations:?}"
    );
    // An unreachable API is one clear error naming it, exit 1.
    let o = etlake(&pg.url, &["index", "--stac-api", "http://127.0.0.1:9"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("--stac-api http://127.0.0.1:9"),
        "{}",
        text(&o)
    );
}
