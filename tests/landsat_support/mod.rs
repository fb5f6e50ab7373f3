//! Loopback imitations for `etlake sync landsat`:
//! - **STAC API** item search (`POST /search`, and `GET /search?token=…` for the pages a `GET` next
//!   link leads to), as USGS's stac-server answers it (STAC API — Item Search,
//!   <https://github.com/radiantearth/stac-api-spec/tree/main/item-search>): a FeatureCollection of
//!   `limit` items filtered by `collections`, `datetime` (`A/B`), `bbox` and the query extension's
//!   `{"platform": {"in": […]}}`; more results are linked by `rel: next`: a `POST` link with
//!   `merge: true` and a `body` holding the offset (stac-server's way) for `landsat-c2l2-sr`
//!   searches, a `GET` link with a token for `landsat-c2l2-st` ones (pystac-client follows both).
//! - **Requester-pays gate**: an HTTP/1.1 proxy in front of moto (which does not enforce requester
//!   pays: moto 5 keeps a bucket's payer but never checks it) that refuses, as S3 does for
//!   `s3://usgs-landsat`, every request to the bucket without `x-amz-request-payer: requester`
//!   (403 `AccessDenied`), and logs (method, path, header present).
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request the STAC API saw.
#[derive(Debug, Clone)]
pub struct StacHit {
    pub method: String,
    pub target: String,
    pub body: Value,
}

#[derive(Default)]
pub struct StacState {
    pub items: Vec<Value>,
    pub log: Vec<StacHit>,
    /// GET tokens → (search body, offset).
    tokens: BTreeMap<String, (Value, usize)>,
    base: String,
}

pub struct StacApi {
    pub state: Arc<Mutex<StacState>>,
    pub url: String,
}

fn intersects(a: &[f64], b: &[f64]) -> bool {
    a.len() >= 4 && b.len() >= 4 && a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3]
}

fn matches(item: &Value, q: &Value) -> bool {
    let in_list =
        |list: &Value, v: &Value| list.as_array().is_none_or(|l| l.iter().any(|x| x == v));
    if !in_list(&q["collections"], &item["collection"]) {
        return false;
    }
    if !in_list(
        &q["query"]["platform"]["in"],
        &item["properties"]["platform"],
    ) {
        return false;
    }
    if let Some((a, b)) = q["datetime"].as_str().and_then(|d| d.split_once('/')) {
        let day = item["properties"]["datetime"].as_str().unwrap_or_default();
        if day.get(..10).unwrap_or_default() < a.get(..10).unwrap_or_default()
            || day.get(..10).unwrap_or_default() > b.get(..10).unwrap_or_default()
        {
            return false;
        }
    }
    let nums = |v: &Value| -> Vec<f64> {
        v.as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let bbox = nums(&q["bbox"]);
    bbox.is_empty() || intersects(&bbox, &nums(&item["bbox"]))
}

fn json_response(code: StatusCode, v: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/geo+json")
        .body(Body::from(v.to_string()))
        .unwrap()
}

fn search(st: &Arc<Mutex<StacState>>, method: &str, target: &str, body: Value) -> Response<Body> {
    let mut s = st.lock().unwrap();
    s.log.push(StacHit {
        method: method.into(),
        target: target.into(),
        body: body.clone(),
    });
    let (q, offset) = if method == "GET" {
        let token = target
            .split_once("token=")
            .map(|(_, t)| t.to_string())
            .unwrap_or_default();
        match s.tokens.get(&token) {
            Some(t) => t.clone(),
            None => {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"code": "BadRequest", "description": "unknown token"}),
                )
            }
        }
    } else {
        let offset = body["next"].as_u64().unwrap_or(0) as usize;
        (body, offset)
    };
    let limit = q["limit"].as_u64().unwrap_or(10).max(1) as usize;
    let found: Vec<Value> = s.items.iter().filter(|i| matches(i, &q)).cloned().collect();
    let page: Vec<Value> = found.iter().skip(offset).take(limit).cloned().collect();
    let next = offset + limit;
    let mut links = vec![json!({"rel": "root", "href": format!("{}/", s.base)})];
    if next < found.len() {
        // Both kinds of next link: POST with a merged body for SR searches, a GET token for ST.
        let post = !q["collections"].to_string().contains("landsat-c2l2-st");
        if post {
            links.push(
                json!({"rel": "next", "href": format!("{}/search", s.base), "method": "POST",
                "merge": true, "body": {"next": next}}),
            );
        } else {
            let token = format!("t{next}x{}", s.tokens.len());
            let mut body = q.clone();
            if let Some(o) = body.as_object_mut() {
                o.remove("next");
            }
            s.tokens.insert(token.clone(), (body, next));
            links.push(
                json!({"rel": "next", "href": format!("{}/search?token={token}", s.base),
                "method": "GET", "type": "application/geo+json"}),
            );
        }
    }
    json_response(
        StatusCode::OK,
        &json!({"type": "FeatureCollection", "features": page, "links": links,
            "context": {"returned": page.len(), "limit": limit, "matched": found.len()},
            "numberMatched": found.len(), "numberReturned": page.len()}),
    )
}

impl StacApi {
    pub fn start(items: Vec<Value>) -> StacApi {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/stac-server", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(StacState {
            items,
            base: url.clone(),
            ..Default::default()
        }));
        let st = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().fallback(move |req: Request<Body>| {
                    let st = st.clone();
                    async move {
                        let method = req.method().to_string();
                        let target = req
                            .uri()
                            .path_and_query()
                            .map(|p| p.to_string())
                            .unwrap_or_default();
                        if !target.starts_with("/stac-server/search") {
                            return json_response(
                                StatusCode::NOT_FOUND,
                                &json!({"code": "NotFound"}),
                            );
                        }
                        let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
                            .await
                            .unwrap_or_default();
                        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                        search(&st, &method, &target, body)
                    }
                });
                axum::serve(listener, app).await.unwrap();
            });
        });
        StacApi { state, url }
    }

    pub fn hits(&self) -> Vec<StacHit> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }
}

/// One request the gate saw: (method, path, carried `x-amz-request-payer: requester`).
#[derive(Debug, Clone)]
pub struct GateHit {
    pub method: String,
    pub path: String,
    pub payer: bool,
}

/// The requester-pays gate in front of an S3 server.
pub struct RequesterPaysGate {
    pub endpoint: String,
    pub log: Arc<Mutex<Vec<GateHit>>>,
}

struct Req {
    line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Req> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Req {
        line: line.trim_end().to_string(),
        headers,
        body,
    })
}

fn forward(upstream: &str, req: &Req) -> Option<Vec<u8>> {
    let mut up = TcpStream::connect(upstream).ok()?;
    let mut head = format!("{}\r\n", req.line);
    for (k, v) in &req.headers {
        if !k.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes()).ok()?;
    up.write_all(&req.body).ok()?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp).ok()?;
    Some(resp)
}

fn access_denied() -> Vec<u8> {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>requester-pays-gate</RequestId></Error>";
    format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

impl RequesterPaysGate {
    /// A gate for `bucket` in front of `upstream` (`http://host:port`).
    pub fn start(upstream: &str, bucket: &str) -> RequesterPaysGate {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let log: Arc<Mutex<Vec<GateHit>>> = Default::default();
        let (lg, prefix) = (log.clone(), format!("/{bucket}"));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (lg, upstream, prefix) = (lg.clone(), upstream.clone(), prefix.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(client.try_clone().unwrap());
                    let mut client = client;
                    while let Some(req) = read_request(&mut reader) {
                        let mut parts = req.line.split(' ');
                        let method = parts.next().unwrap_or_default().to_string();
                        let path = parts.next().unwrap_or_default().to_string();
                        let payer = req.headers.iter().any(|(k, v)| {
                            k.eq_ignore_ascii_case("x-amz-request-payer")
                                && v.eq_ignore_ascii_case("requester")
                        });
                        lg.lock().unwrap().push(GateHit {
                            method,
                            path: path.clone(),
                            payer,
                        });
                        let ours = path == prefix
                            || path.starts_with(&format!("{prefix}/"))
                            || path.starts_with(&format!("{prefix}?"));
                        if ours && !payer {
                            let _ = client.write_all(&access_denied());
                            let _ = client.shutdown(Shutdown::Both);
                            return;
                        }
                        let Some(resp) = forward(&upstream, &req) else {
                            return;
                        };
                        if client.write_all(&resp).is_err() {
                            return;
                        }
                        let head =
                            String::from_utf8_lossy(&resp[..resp.len().min(2048)]).to_lowercase();
                        if head.contains("\r\nconnection: close") {
                            let _ = client.shutdown(Shutdown::Both);
                            return;
                        }
                    }
                });
            }
        });
        RequesterPaysGate { endpoint, log }
    }

    pub fn hits(&self) -> Vec<GateHit> {
        self.log.lock().unwrap().clone()
    }

    pub fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }

    /// Status line of a plain `GET path` sent through the gate (no signature, no payer header).
    pub fn plain_get(&self, path: &str) -> String {
        let mut s = TcpStream::connect(self.endpoint.trim_start_matches("http://")).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.endpoint.trim_start_matches("http://")
        )
        .unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.lines().next().unwrap_or_default().to_string()
    }
}
