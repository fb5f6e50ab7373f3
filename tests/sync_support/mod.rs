//! A loopback imitation of a provider's plain HTTP file server (what CHIRPS's and gridMET's servers
//! are: Apache httpd with mod_autoindex listings, `ETag`, `Last-Modified`, `Accept-Ranges: bytes`,
//! RFC 9110 `Range`/`If-Range`), with faults a test switches on per file: a server ignoring `Range`,
//! 429 with `Retry-After`, a connection dropped mid-body, a file replaced mid-download, a HEAD
//! declaring a wrong size. Every request is logged (method, path, Range).
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, Response, StatusCode};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// One published file and the faults it meets.
#[derive(Clone, Default)]
pub struct File {
    pub body: Vec<u8>,
    pub etag: String,
    pub last_modified: Option<SystemTime>,
    /// Answer every GET with the whole file, whatever its Range.
    pub ignore_range: bool,
    /// Drop the connection halfway through the body of the next GET (then clear).
    pub drop_next: bool,
    /// After the dropped GET, the provider republishes the file with this content.
    pub replace_with: Option<Vec<u8>>,
    /// Answer this many requests with 429 and `Retry-After: 1` first.
    pub throttle: u32,
    /// HEAD declares this size instead of the true one.
    pub head_size: Option<u64>,
}

#[derive(Default)]
pub struct State {
    pub files: BTreeMap<String, File>,
    pub log: Vec<(String, String, Option<String>)>,
    generation: u64,
}

pub struct Server {
    pub base: String,
    pub state: Arc<Mutex<State>>,
    _thread: std::thread::JoinHandle<()>,
}

fn http_date(t: SystemTime) -> String {
    // IMF-fixdate, as Apache sends it.
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    chrono::DateTime::from_timestamp(d, 0)
        .unwrap()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

impl Server {
    pub fn start() -> Server {
        let state = Arc::new(Mutex::new(State::default()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().fallback(move |req: Request<Body>| {
                    let st = st.clone();
                    async move { handle(&st, req) }
                });
                axum::serve(listener, app).await.unwrap();
            });
        });
        Server {
            base,
            state,
            _thread: thread,
        }
    }

    /// Publishes (or republishes) a file at `path`; a new ETag and Last-Modified each time.
    pub fn publish(&self, path: &str, body: Vec<u8>) {
        let mut s = self.state.lock().unwrap();
        s.generation += 1;
        let g = s.generation;
        let f = s.files.entry(path.to_string()).or_default();
        f.body = body;
        f.etag = format!("\"{:x}-{g}\"", f.body.len());
        // Whole seconds, distinct per publication.
        f.last_modified =
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + g * 60));
    }

    pub fn set(&self, path: &str, change: impl FnOnce(&mut File)) {
        change(self.state.lock().unwrap().files.get_mut(path).unwrap());
    }

    /// Requests logged for paths containing `part`: (method, Range).
    pub fn requests(&self, part: &str) -> Vec<(String, Option<String>)> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|(_, p, _)| p.contains(part))
            .map(|(m, _, r)| (m.clone(), r.clone()))
            .collect()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }
}

fn listing(st: &State, dir: &str) -> Option<String> {
    let mut names: Vec<String> = Vec::new();
    for path in st.files.keys() {
        if let Some(rest) = path.strip_prefix(dir) {
            let name = match rest.split_once('/') {
                Some((d, _)) => format!("{d}/"),
                None => rest.to_string(),
            };
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    if names.is_empty() {
        return None;
    }
    // mod_autoindex's fancy table, sort links and parent link included.
    let mut html = format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n<html>\n <head>\n  <title>Index of {dir}</title>\n </head>\n <body>\n<h1>Index of {dir}</h1>\n  <table>\n   <tr><th valign=\"top\"><img src=\"/icons/blank.gif\" alt=\"[ICO]\"></th><th><a href=\"?C=N;O=D\">Name</a></th><th><a href=\"?C=M;O=A\">Last modified</a></th><th><a href=\"?C=S;O=A\">Size</a></th></tr>\n   <tr><td valign=\"top\"><img src=\"/icons/back.gif\" alt=\"[PARENTDIR]\"></td><td><a href=\"/\">Parent Directory</a></td><td>&nbsp;</td><td align=\"right\">  - </td></tr>\n"
    );
    for n in names {
        html.push_str(&format!(
            "<tr><td valign=\"top\"><img src=\"/icons/unknown.gif\" alt=\"[   ]\"></td><td><a href=\"{n}\">{n}</a></td><td align=\"right\">2023-02-20 10:01  </td><td align=\"right\">1.1M</td></tr>\n"
        ));
    }
    html.push_str("</table>\n<address>Apache/2.4.37 Server</address>\n</body></html>\n");
    Some(html)
}

fn handle(st: &Arc<Mutex<State>>, req: Request<Body>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let h: &HeaderMap = req.headers();
    let range = h
        .get("range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let if_range = h
        .get("if-range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut s = st.lock().unwrap();
    s.log
        .push((method.to_string(), path.clone(), range.clone()));
    if path.ends_with('/') {
        return match listing(&s, &path) {
            Some(html) => Response::builder()
                .header("content-type", "text/html;charset=ISO-8859-1")
                .body(Body::from(html))
                .unwrap(),
            None => not_found(),
        };
    }
    let Some(f) = s.files.get_mut(&path) else {
        return not_found();
    };
    if f.throttle > 0 {
        f.throttle -= 1;
        return Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header("retry-after", "1")
            .body(Body::from("slow down"))
            .unwrap();
    }
    let lm = http_date(f.last_modified.unwrap());
    let base = |b: axum::http::response::Builder| {
        b.header("etag", &f.etag)
            .header("last-modified", &lm)
            .header("accept-ranges", "bytes")
    };
    if method == Method::HEAD {
        let size = f.head_size.unwrap_or(f.body.len() as u64);
        return base(Response::builder())
            .header("content-length", size)
            .body(Body::empty())
            .unwrap();
    }
    let len = f.body.len();
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|r| r.parse::<usize>().ok());
    let validator_ok = if_range.as_deref().is_none_or(|v| v == f.etag || v == lm);
    let (status, from) = match start {
        Some(n) if !f.ignore_range && validator_ok && n < len => (StatusCode::PARTIAL_CONTENT, n),
        Some(n) if !f.ignore_range && validator_ok && n >= len => {
            return Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header("content-range", format!("bytes */{len}"))
                .body(Body::empty())
                .unwrap()
        }
        _ => (StatusCode::OK, 0),
    };
    let mut b = base(Response::builder())
        .status(status)
        .header("content-length", len - from);
    if status == StatusCode::PARTIAL_CONTENT {
        b = b.header("content-range", format!("bytes {from}-{}/{len}", len - 1));
    }
    let body = f.body[from..].to_vec();
    if f.drop_next {
        f.drop_next = false;
        let half = body.len() / 2;
        if let Some(new) = f.replace_with.take() {
            drop(b);
            let path2 = path.clone();
            let g = {
                s.generation += 1;
                s.generation
            };
            let f = s.files.get_mut(&path2).unwrap();
            let first = body[..half].to_vec();
            let resp = Response::builder()
                .status(status)
                .header("etag", &f.etag)
                .header("last-modified", &lm)
                .header("content-length", body.len());
            f.etag = format!("\"{:x}-{g}\"", new.len());
            f.last_modified =
                Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + g * 60));
            f.body = new;
            return resp.body(cut(first)).unwrap();
        }
        return b.body(cut(body[..half].to_vec())).unwrap();
    }
    b.body(Body::from(body)).unwrap()
}

/// A body that sends `first` and then fails, so the connection is closed before Content-Length.
fn cut(first: Vec<u8>) -> Body {
    let chunks: Vec<Result<bytes_of::Bytes, std::io::Error>> = vec![
        Ok(first.into()),
        Err(std::io::Error::other(
            "connection dropped by the test server",
        )),
    ];
    // The failure comes a moment after the first part, so that part is on the wire first.
    use futures_util::StreamExt;
    Body::from_stream(futures_util::stream::iter(chunks).then(|c| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        c
    }))
}

mod bytes_of {
    pub type Bytes = axum::body::Bytes;
}

fn not_found() -> Response<Body> {
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .body(Body::from("Not Found"))
        .unwrap()
}
