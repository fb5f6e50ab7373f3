//! The HTTP side of a sync, with manners: a polite User-Agent, a limit of requests in flight per
//! host, `Retry-After` honoured on 429 and 503 (seconds or an HTTP date, capped), exponential backoff
//! on other server errors and on connections that fail, and no redirect followed blindly: redirects
//! (the Earthdata Login flow, presigned S3 URLs) are followed up to ten hops with cookies kept per
//! host for the run, and the Earthdata Login credential is attached only to requests to the URS
//! host (a token also to the data file's own DAAC host, see `send_data`) — never to a presigned
//! redirect. URLs in logs and errors lose their query
//! (presigned signatures, OAuth codes).
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The User-Agent of every request: who we are, so a provider can tell and reach us.
pub const USER_AGENT: &str = concat!(
    "etlake-sync/",
    env!("CARGO_PKG_VERSION"),
    " (data-lake sync; +https://github.com/etlake)"
);

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// A pooled client with per-host limits and retry rules.
pub struct Http {
    client: Client<Https, Full<Bytes>>,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    per_host: usize,
    retries: u32,
    max_wait: Duration,
    edl: Option<crate::edl::Edl>,
    cookies: Mutex<HashMap<String, Vec<(String, String)>>>,
}

/// A URL without its query and fragment (no presigned signature, no OAuth code), for messages.
pub fn public(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// `location` resolved against `base` (absolute, absolute-path or relative reference).
pub fn resolve(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(path) = location.strip_prefix('/') {
        return format!("{scheme}://{authority}/{path}");
    }
    let dir = public(base).rsplit_once('/').map_or(base, |(d, _)| d);
    format!("{dir}/{location}")
}

/// The host part of a URL (`host:port`), for the per-host limit.
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .rsplit('@')
        .next()
        .unwrap_or(authority)
        .to_ascii_lowercase()
}

/// How long a 429/503 asks us to wait: `Retry-After` as seconds or as an HTTP date.
pub fn retry_after(headers: &hyper::HeaderMap) -> Option<Duration> {
    let v = headers
        .get(hyper::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Exponential backoff: 0.5 s, 1 s, 2 s, … capped at 30 s, with up to a quarter added at random
/// so that parallel clients do not retry in step.
pub fn backoff(attempt: u32) -> Duration {
    let base = 500u64.saturating_mul(1 << attempt.min(6)).min(30_000);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    Duration::from_millis(base + nanos % (base / 4 + 1))
}

impl Http {
    /// A client allowing `per_host` requests in flight per host and `retries` retries per request.
    pub fn new(per_host: usize, retries: u32, max_wait: Duration) -> crate::Result<Http> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| crate::Error::Setup {
                object: "TLS roots".into(),
                message: e.to_string(),
            })?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(Http {
            client,
            hosts: Mutex::new(HashMap::new()),
            per_host: per_host.max(1),
            retries,
            max_wait,
            edl: None,
            cookies: Mutex::new(HashMap::new()),
        })
    }

    /// Earthdata Login for this client's requests (its credential goes to the URS host only).
    pub fn with_edl(mut self, edl: crate::edl::Edl) -> Http {
        self.edl = Some(edl);
        self
    }

    /// Attempts allowed after the first.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Waits for a slot of `url`'s host; the slot is held until the permit is dropped.
    pub async fn permit(&self, url: &str) -> OwnedSemaphorePermit {
        let sem = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
            hosts
                .entry(host_of(url))
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
                .clone()
        };
        sem.acquire_owned().await.expect("semaphore never closed")
    }

    /// Sends a request and follows its redirects (at most ten): each hop carries the caller's
    /// headers, the cookies its host set earlier in the run, and — only when the hop's host is the
    /// URS host — the Earthdata Login credential. Returns the first response that is not a redirect.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
    ) -> Result<Response<Incoming>, String> {
        self.follow(method, url, headers, false).await
    }

    /// As `send`, for a data file: an Earthdata Login *token* also goes to the data URL's own host
    /// (the DAAC's distribution endpoint validates EDL bearer tokens itself — TEA's documentation,
    /// "EDL Bearer Tokens"), but still to no host a redirect leads to (the presigned S3 URL).
    /// A user name and password go to the URS host only.
    pub async fn send_data(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
    ) -> Result<Response<Incoming>, String> {
        self.follow(method, url, headers, true).await
    }

    async fn follow(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        token_to_origin: bool,
    ) -> Result<Response<Incoming>, String> {
        let origin = host_of(url);
        let mut url = url.to_string();
        for _ in 0..=10 {
            let host = host_of(&url);
            let mut hs: Vec<(&str, String)> = headers.to_vec();
            let jar = {
                let c = self.cookies.lock().unwrap_or_else(|p| p.into_inner());
                c.get(&host).map(|v| {
                    v.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
            };
            if let Some(j) = jar {
                hs.push(("cookie", j));
            }
            if let Some(edl) = &self.edl {
                let to_origin = token_to_origin
                    && host == origin
                    && matches!(edl.credential, Some(crate::edl::Credential::Bearer(_)));
                if let Some(c) = edl
                    .credential
                    .as_ref()
                    .filter(|_| edl.host == host || to_origin)
                {
                    hs.push(("authorization", c.header()));
                }
            }
            let resp = self.send_once(method, &url, &hs, Bytes::new()).await?;
            self.keep_cookies(&host, resp.headers());
            let location = resp
                .headers()
                .get(hyper::header::LOCATION)
                .and_then(|v| v.to_str().ok());
            match location {
                Some(loc) if resp.status().is_redirection() => {
                    let next = resolve(&url, loc);
                    tracing::debug!("{} → {}", public(&url), public(&next));
                    url = next;
                }
                _ => {
                    if resp.status() == StatusCode::UNAUTHORIZED {
                        if let Some(edl) = self.edl.as_ref().filter(|e| e.host == host) {
                            return Err(match &edl.credential {
                                None => format!(
                                    "{}: Earthdata Login asks for credentials: set EARTHDATA_TOKEN, or \
                                     EARTHDATA_USERNAME and EARTHDATA_PASSWORD, or a .netrc entry for {}",
                                    public(&url),
                                    edl.host
                                ),
                                Some(c) => format!(
                                    "{}: Earthdata Login refused {}",
                                    public(&url),
                                    c.describe()
                                ),
                            });
                        }
                    }
                    return Ok(resp);
                }
            }
        }
        Err(format!("{}: more than 10 redirects", public(&url)))
    }

    /// Remembers the `Set-Cookie` name=value pairs of `host` for the rest of the run.
    fn keep_cookies(&self, host: &str, headers: &hyper::HeaderMap) {
        let mut jar = self.cookies.lock().unwrap_or_else(|p| p.into_inner());
        for v in headers.get_all(hyper::header::SET_COOKIE) {
            let Some((name, value)) = v
                .to_str()
                .ok()
                .and_then(|s| s.split(';').next())
                .and_then(|p| p.split_once('='))
            else {
                continue;
            };
            let list = jar.entry(host.to_string()).or_default();
            list.retain(|(n, _)| n != name.trim());
            list.push((name.trim().to_string(), value.trim().to_string()));
        }
    }

    /// A request with a JSON body (a STAC API `POST /search`), with the same retry rules; no
    /// redirect is followed and no credential is attached.
    pub async fn send_json(
        &self,
        method: &str,
        url: &str,
        body: &serde_json::Value,
    ) -> Result<Response<Incoming>, String> {
        let bytes = Bytes::from(serde_json::to_vec(body).map_err(|e| e.to_string())?);
        let headers = [
            ("content-type", "application/json".to_string()),
            (
                "accept",
                "application/geo+json, application/json".to_string(),
            ),
        ];
        self.send_once(method, url, &headers, bytes).await
    }

    /// One request (no redirect followed), retrying 429/503 after their `Retry-After` (else
    /// backoff), other 5xx and connection failures with backoff. An empty `body` sends none (no
    /// `Content-Length` on a GET or HEAD).
    async fn send_once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Result<Response<Incoming>, String> {
        let mut attempt = 0;
        loop {
            let mut b = Request::builder()
                .method(method)
                .uri(url)
                .header(hyper::header::USER_AGENT, USER_AGENT);
            for (k, v) in headers {
                b = b.header(*k, v);
            }
            let req = b
                .body(Full::new(body.clone()))
                .map_err(|e| format!("{}: {e}", public(url)))?;
            let wait = match self.client.request(req).await {
                Ok(resp) => {
                    let s = resp.status();
                    let limited =
                        s == StatusCode::TOO_MANY_REQUESTS || s == StatusCode::SERVICE_UNAVAILABLE;
                    if !(limited || s.is_server_error()) || attempt >= self.retries {
                        return Ok(resp);
                    }
                    let wait = if limited {
                        retry_after(resp.headers()).unwrap_or_else(|| backoff(attempt))
                    } else {
                        backoff(attempt)
                    };
                    if wait > self.max_wait {
                        return Err(format!(
                            "HTTP {s}: the server asks to retry after {} s (more than the {} s allowed)",
                            wait.as_secs(),
                            self.max_wait.as_secs()
                        ));
                    }
                    tracing::info!(
                        "{}: HTTP {s}, retrying in {:.1} s",
                        public(url),
                        wait.as_secs_f64()
                    );
                    wait
                }
                Err(e) => {
                    if attempt >= self.retries {
                        return Err(format!("{e:#}: {}", source_chain(&e)));
                    }
                    tracing::info!("{}: {}; retrying", public(url), source_chain(&e));
                    backoff(attempt)
                }
            };
            attempt += 1;
            tokio::time::sleep(wait).await;
        }
    }
}

/// An error with its causes, for messages.
pub fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = hyper::HeaderMap::new();
        h.insert(hyper::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = std::time::SystemTime::now() + Duration::from_secs(100);
        h.insert(
            hyper::header::RETRY_AFTER,
            httpdate::fmt_http_date(later).parse().unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(95) && d <= Duration::from_secs(100),
            "{d:?}"
        );
        h.insert(hyper::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(
            backoff(0) >= Duration::from_millis(500) && backoff(0) < Duration::from_millis(700)
        );
        assert!(backoff(3) >= Duration::from_secs(4));
        assert!(backoff(30) <= Duration::from_millis(37_500));
    }

    #[test]
    fn redirects_resolve_and_queries_stay_private() {
        let b = "https://daac.example/data/a/f.hdf?x=1";
        assert_eq!(
            resolve(b, "https://s3.example/k?sig=2"),
            "https://s3.example/k?sig=2"
        );
        assert_eq!(resolve(b, "/oauth?c=1"), "https://daac.example/oauth?c=1");
        assert_eq!(resolve(b, "g.hdf"), "https://daac.example/data/a/g.hdf");
        assert_eq!(
            public("https://s3.example/k?X-Amz-Signature=s"),
            "https://s3.example/k"
        );
    }

    #[test]
    fn host_ignores_credentials_and_case() {
        assert_eq!(
            host_of("https://user:pw@Data.CHC.ucsb.edu/products/x"),
            "data.chc.ucsb.edu"
        );
        assert_eq!(host_of("http://127.0.0.1:8080/a"), "127.0.0.1:8080");
    }
}
