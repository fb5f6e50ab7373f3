//! The HTTP side of a sync, with manners: a polite User-Agent, a limit of requests in flight per
//! host, `Retry-After` honoured on 429 and 503 (seconds or an HTTP date, capped), exponential backoff
//! on other server errors and on connections that fail, and no redirect followed blindly.
use bytes::Bytes;
use http_body_util::Empty;
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
    client: Client<Https, Empty<Bytes>>,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    per_host: usize,
    retries: u32,
    max_wait: Duration,
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
        })
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

    /// Sends a request, retrying 429/503 after their `Retry-After` (else backoff), other 5xx and
    /// connection failures with backoff. Returns the first other response (any status).
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
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
            let req = b.body(Empty::new()).map_err(|e| format!("{url}: {e}"))?;
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
                    tracing::info!("{url}: HTTP {s}, retrying in {:.1} s", wait.as_secs_f64());
                    wait
                }
                Err(e) => {
                    if attempt >= self.retries {
                        return Err(format!("{e:#}: {}", source_chain(&e)));
                    }
                    tracing::info!("{url}: {}; retrying", source_chain(&e));
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
    fn host_ignores_credentials_and_case() {
        assert_eq!(
            host_of("https://user:pw@Data.CHC.ucsb.edu/products/x"),
            "data.chc.ucsb.edu"
        );
        assert_eq!(host_of("http://127.0.0.1:8080/a"), "127.0.0.1:8080");
    }
}
