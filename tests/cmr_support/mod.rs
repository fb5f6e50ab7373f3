//! Loopback imitations of NASA's Earthdata services, each on its own port (so its own host):
//! - **CMR** granule search (`/search/granules.umm_json`, CMR search API docs
//!   <https://cmr.earthdata.nasa.gov/search/site/docs/search/api.html>): UMM-G items, `page_size`
//!   items per page, the `CMR-Search-After` response header on every page but the last, the next page
//!   asked for with that value as a request header.
//! - **URS** (Earthdata Login, <https://urs.earthdata.nasa.gov/documentation/for_users/data_access/>):
//!   `/oauth/authorize?…&redirect_uri=R&state=S` answers 401 with `WWW-Authenticate: Basic` without
//!   the right credential, else 302 to `R?code=C&state=S`.
//! - **DAAC** (the TEA-style distribution endpoint): a data path without its session cookie → 302 to
//!   URS; `/urs_callback?code=C&state=S` → `Set-Cookie` + 302 back to S; with the cookie, or with a
//!   valid EDL bearer token (TEA validates those itself), → 307 to a presigned URL on the store. A
//!   Basic `Authorization` (a password) sent to it is refused.
//! - **Store** (presigned S3 GETs): needs the `X-Amz-Signature` query, honours `Range: bytes=N-`, and
//!   REJECTS any request carrying `Authorization` (as S3 does for a presigned URL given a second
//!   authentication mechanism).
//!
//! The DAAC also answers `/s3credentials` (TEA's S3 Direct Access) once authenticated, with
//! credentials valid `cred_lifetime` seconds.
//!
//! Every request is logged as (server, method, path, had Authorization, cmr-search-after).
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct State {
    /// UMM-G records (`items[].umm`), in CMR's order.
    pub granules: Vec<serde_json::Value>,
    /// Store path (`/bucket/…`) → body.
    pub objects: BTreeMap<String, Vec<u8>>,
    /// The `Authorization` value URS accepts.
    pub accepted: String,
    pub log: Vec<Hit>,
    pub base: BTreeMap<&'static str, String>,
    /// Seconds the credentials of `/s3credentials` are valid for.
    pub cred_lifetime: i64,
}

#[derive(Clone, Debug)]
pub struct Hit {
    pub server: &'static str,
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub search_after: Option<String>,
}

pub struct Earthdata {
    pub state: Arc<Mutex<State>>,
    pub cmr: String,
    pub urs: String,
    pub daac: String,
    pub store: String,
}

/// One file of a granule: name, body, and the UMM-G checksum (algorithm, value) if published.
pub type GranuleFile<'a> = (&'a str, Vec<u8>, Option<(&'a str, String)>);

type Handler = fn(&Arc<Mutex<State>>, Request<Body>) -> Response<Body>;

fn serve(state: Arc<Mutex<State>>, f: Handler) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new().fallback(move |req: Request<Body>| {
                let st = state.clone();
                async move { f(&st, req) }
            });
            axum::serve(listener, app).await.unwrap();
        });
    });
    base
}

fn query(req: &Request<Body>) -> BTreeMap<String, String> {
    let decode = |s: &str| {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    req.uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn log(st: &Arc<Mutex<State>>, server: &'static str, req: &Request<Body>) {
    let h = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    st.lock().unwrap().log.push(Hit {
        server,
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        authorization: h("authorization"),
        search_after: h("cmr-search-after"),
    });
}

fn status(code: StatusCode, body: &str) -> Response<Body> {
    Response::builder()
        .status(code)
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn redirect(code: StatusCode, to: &str) -> axum::http::response::Builder {
    Response::builder().status(code).header("location", to)
}

fn cmr(st: &Arc<Mutex<State>>, req: Request<Body>) -> Response<Body> {
    log(st, "cmr", &req);
    let q = query(&req);
    if req.uri().path() != "/search/granules.umm_json" {
        return status(StatusCode::NOT_FOUND, "{\"errors\":[\"not found\"]}");
    }
    for k in ["short_name", "version", "temporal", "page_size"] {
        if !q.contains_key(k) {
            return status(
                StatusCode::BAD_REQUEST,
                &format!("{{\"errors\":[\"missing {k}\"]}}"),
            );
        }
    }
    let size: usize = q["page_size"].parse().unwrap();
    let s = st.lock().unwrap();
    let all: Vec<&serde_json::Value> = s
        .granules
        .iter()
        .filter(|g| {
            g["CollectionReference"]["ShortName"] == q["short_name"].as_str()
                && g["CollectionReference"]["Version"] == q["version"].as_str()
        })
        .collect();
    // The search-after value: an opaque JSON array (here `["g", index of the next item]`).
    let from = req
        .headers()
        .get("cmr-search-after")
        .and_then(|v| serde_json::from_str::<serde_json::Value>(v.to_str().ok()?).ok())
        .and_then(|v| v[1].as_u64())
        .unwrap_or(0) as usize;
    let page: Vec<serde_json::Value> = all
        .iter()
        .skip(from)
        .take(size)
        .map(
            |g| serde_json::json!({"meta": {"concept-id": format!("G{}-LPCLOUD", from)}, "umm": g}),
        )
        .collect();
    let mut b = Response::builder()
        .header(
            "content-type",
            "application/vnd.nasa.cmr.umm_results+json;version=1.6.6",
        )
        .header("cmr-hits", all.len());
    if from + size < all.len() {
        b = b.header("cmr-search-after", format!("[\"g\",{}]", from + size));
    }
    let body = serde_json::json!({"hits": all.len(), "took": 5, "items": page});
    b.body(Body::from(body.to_string())).unwrap()
}

fn urs(st: &Arc<Mutex<State>>, req: Request<Body>) -> Response<Body> {
    log(st, "urs", &req);
    let q = query(&req);
    if req.uri().path() != "/oauth/authorize" {
        return status(StatusCode::NOT_FOUND, "no");
    }
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if auth != Some(st.lock().unwrap().accepted.as_str()) {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header(
                "www-authenticate",
                "Basic realm=\"Please enter your Earthdata Login credentials\"",
            )
            .body(Body::from("HTTP Basic: Access denied."))
            .unwrap();
    }
    let to = format!(
        "{}?code=c0de&state={}",
        q["redirect_uri"],
        q.get("state").cloned().unwrap_or_default()
    );
    redirect(StatusCode::FOUND, &to)
        .body(Body::empty())
        .unwrap()
}

fn daac(st: &Arc<Mutex<State>>, req: Request<Body>) -> Response<Body> {
    log(st, "daac", &req);
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // A password has no business here; an EDL bearer token is validated by the DAAC itself (TEA).
    if auth.as_deref().is_some_and(|a| !a.starts_with("Bearer ")) {
        return status(StatusCode::BAD_REQUEST, "a password was sent to the DAAC");
    }
    let path = req.uri().path().to_string();
    let q = query(&req);
    let (urs, daac, store, accepted) = {
        let s = st.lock().unwrap();
        (
            s.base["urs"].clone(),
            s.base["daac"].clone(),
            s.base["store"].clone(),
            s.accepted.clone(),
        )
    };
    let token_ok = auth.as_deref() == Some(accepted.as_str());
    if path == "/urs_callback" {
        if q.get("code").map(String::as_str) != Some("c0de") {
            return status(StatusCode::UNAUTHORIZED, "bad code");
        }
        return redirect(StatusCode::FOUND, &format!("{daac}{}", q["state"]))
            .header("set-cookie", "asf-urs=s3ss10n; Path=/; HttpOnly")
            .body(Body::empty())
            .unwrap();
    }
    let cookie = req
        .headers()
        .get("cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !token_ok && !cookie.split("; ").any(|c| c == "asf-urs=s3ss10n") {
        let to = format!(
            "{urs}/oauth/authorize?client_id=daac&response_type=code&redirect_uri={daac}/urs_callback&state={path}"
        );
        return redirect(StatusCode::FOUND, &to)
            .body(Body::empty())
            .unwrap();
    }
    if path == "/s3credentials" {
        // TEA's answer (S3 Direct Access): keys, session token and expiration "YYYY-MM-DD HH:MM:SS+00:00".
        let until =
            chrono::Utc::now() + chrono::Duration::seconds(st.lock().unwrap().cred_lifetime);
        let body = serde_json::json!({
            "accessKeyId": "ASIATESTKEY",
            "secretAccessKey": "s3cr3t-access-key",
            "sessionToken": "s3ss10n-t0ken",
            "expiration": until.format("%Y-%m-%d %H:%M:%S+00:00").to_string(),
        });
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
    }
    let to = format!(
        "{store}/bucket{path}?A-userid=tester&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=5ec7e7"
    );
    redirect(StatusCode::TEMPORARY_REDIRECT, &to)
        .body(Body::empty())
        .unwrap()
}

fn store(st: &Arc<Mutex<State>>, req: Request<Body>) -> Response<Body> {
    log(st, "store", &req);
    if req.headers().contains_key("authorization") {
        return status(
            StatusCode::BAD_REQUEST,
            "<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>",
        );
    }
    if !query(&req).contains_key("X-Amz-Signature") {
        return status(
            StatusCode::FORBIDDEN,
            "<Error><Code>AccessDenied</Code></Error>",
        );
    }
    let s = st.lock().unwrap();
    let Some(body) = s.objects.get(req.uri().path()) else {
        return status(
            StatusCode::NOT_FOUND,
            "<Error><Code>NoSuchKey</Code></Error>",
        );
    };
    let from = req
        .headers()
        .get("range")
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|r| r.parse::<usize>().ok())
        .filter(|n| *n < body.len());
    let b = Response::builder()
        .header("etag", format!("\"{:x}\"", body.len()))
        .header("accept-ranges", "bytes");
    match from {
        Some(n) => b
            .status(StatusCode::PARTIAL_CONTENT)
            .header(
                "content-range",
                format!("bytes {n}-{}/{}", body.len() - 1, body.len()),
            )
            .body(Body::from(body[n..].to_vec()))
            .unwrap(),
        None => b.body(Body::from(body.clone())).unwrap(),
    }
}

impl Earthdata {
    pub fn start(accepted: String) -> Earthdata {
        let state = Arc::new(Mutex::new(State {
            accepted,
            ..Default::default()
        }));
        let cmr = serve(state.clone(), cmr);
        let urs = serve(state.clone(), urs);
        let daac = serve(state.clone(), daac);
        let store = serve(state.clone(), store);
        {
            let mut s = state.lock().unwrap();
            s.base.insert("urs", urs.clone());
            s.base.insert("daac", daac.clone());
            s.base.insert("store", store.clone());
        }
        Earthdata {
            state,
            cmr,
            urs,
            daac,
            store,
        }
    }

    /// Publishes a granule: its files at `{daac}/{dir}/{name}` (bodies on the store), and its UMM-G
    /// record with `RelatedUrls` (`GET DATA`) and `ArchiveAndDistributionInformation` (`SizeInBytes`,
    /// `Checksum`) as UMM-G 1.6 lays them out.
    pub fn granule(
        &self,
        collection: (&str, &str),
        ur: &str,
        begin: &str,
        dir: &str,
        files: &[GranuleFile<'_>],
    ) {
        let mut s = self.state.lock().unwrap();
        let mut related = Vec::new();
        let mut archive = Vec::new();
        for (name, body, checksum) in files {
            s.objects
                .insert(format!("/bucket/{dir}/{name}"), body.clone());
            related.push(serde_json::json!({"URL": format!("{}/{dir}/{name}", self.daac), "Type": "GET DATA"}));
            related.push(serde_json::json!({"URL": format!("s3://bucket/{dir}/{name}"), "Type": "GET DATA VIA DIRECT ACCESS"}));
            let mut a = serde_json::json!({"Name": name, "SizeInBytes": body.len(), "Size": 0.1, "SizeUnit": "MB"});
            if let Some((alg, v)) = checksum {
                a["Checksum"] = serde_json::json!({"Value": v, "Algorithm": alg});
            }
            archive.push(a);
        }
        s.granules.push(serde_json::json!({
            "GranuleUR": ur,
            "CollectionReference": {"ShortName": collection.0, "Version": collection.1},
            "TemporalExtent": {"RangeDateTime": {"BeginningDateTime": begin}},
            "DataGranule": {"ArchiveAndDistributionInformation": archive, "DayNightFlag": "Day",
                            "ProductionDateTime": "2023-06-26T23:35:37.000Z"},
            "RelatedUrls": related,
        }));
    }

    pub fn hits(&self, server: &str) -> Vec<Hit> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|h| h.server == server)
            .cloned()
            .collect()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }
}
