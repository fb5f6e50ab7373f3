//! Items from a STAC API's `/search` (POST, paged by `next` links, GET or POST as the API says): the
//! source behind `etlake index --stac-api URL`. Each item arrives as a document with its body.
use crate::s3::ObjectRef;
use crate::{Error, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::sync::Arc;

/// A search: the API root, and the filters of STAC API item search.
#[derive(Debug, Clone, Default)]
pub struct StacSearch {
    /// API root, e.g. `https://landsatlook.usgs.gov/stac-server`.
    pub api: String,
    /// Collections to search.
    pub collections: Vec<String>,
    /// West, south, east, north.
    pub bbox: Option<[f64; 4]>,
    /// RFC 3339 instant or interval (`2020-01-01/2020-12-31`, open ends as `..`).
    pub datetime: Option<String>,
    /// Items per page.
    pub limit: usize,
    /// Stop after this many items.
    pub max_items: Option<usize>,
}

impl StacSearch {
    /// The POST body of the first page.
    pub fn body(&self) -> Value {
        let mut b = json!({"limit": self.limit.max(1)});
        if !self.collections.is_empty() {
            b["collections"] = json!(self.collections);
        }
        if let Some(bbox) = self.bbox {
            b["bbox"] = json!(bbox);
        }
        if let Some(d) = &self.datetime {
            b["datetime"] = json!(d);
        }
        b
    }
}

/// The URI an item is reported and located under: its `self` link, else the API's item URL.
fn item_uri(api: &str, item: &Value) -> String {
    let self_link = item["links"].as_array().and_then(|links| {
        links
            .iter()
            .find(|l| l["rel"] == "self")
            .and_then(|l| l["href"].as_str())
    });
    match self_link {
        Some(h) => h.to_string(),
        None => format!(
            "{}/collections/{}/items/{}",
            api.trim_end_matches('/'),
            item["collection"].as_str().unwrap_or("_"),
            item["id"].as_str().unwrap_or("_")
        ),
    }
}

/// Runs the search page after page, handing each item to `send` (which returns false to stop).
pub fn search(s: &StacSearch, mut send: impl FnMut(ObjectRef) -> bool) -> Result<usize> {
    let fail = |m: String| Error::Source {
        source_arg: format!("--stac-api {}", s.api),
        message: m,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| fail(format!("TLS roots: {e}")))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let mut url = format!("{}/search", s.api.trim_end_matches('/'));
    let mut body = Some(s.body());
    let mut sent = 0;
    loop {
        let page: Value = runtime.block_on(async {
            let builder = hyper::Request::builder()
                .uri(&url)
                .header("accept", "application/geo+json, application/json");
            let req = match &body {
                Some(b) => builder
                    .method("POST")
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(b.to_string()))),
                None => builder.method("GET").body(Full::new(Bytes::new())),
            }
            .map_err(|e| fail(format!("{url}: {e}")))?;
            let resp = client
                .request(req)
                .await
                .map_err(|e| fail(format!("{url}: {e}")))?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| fail(format!("{url}: {e}")))?
                .to_bytes();
            if !status.is_success() {
                let text = String::from_utf8_lossy(&bytes);
                return Err(fail(format!(
                    "{url}: HTTP {status}: {}",
                    text.chars().take(300).collect::<String>()
                )));
            }
            serde_json::from_slice(&bytes).map_err(|e| fail(format!("{url}: not JSON: {e}")))
        })?;
        let features = page["features"]
            .as_array()
            .ok_or_else(|| fail(format!("{url}: no `features` in the response")))?;
        for item in features {
            if s.max_items.is_some_and(|m| sent >= m) {
                return Ok(sent);
            }
            let uri = item_uri(&s.api, item);
            let bytes = serde_json::to_vec(item).map_err(|e| fail(e.to_string()))?;
            let obj = ObjectRef {
                uri,
                size: Some(bytes.len() as u64),
                etag: None,
                body: Some(Arc::new(bytes)),
            };
            if !send(obj) {
                return Ok(sent);
            }
            sent += 1;
        }
        // The next page: a `next` link, GET by default, POST (with its body, merged if asked).
        let next = page["links"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["rel"] == "next"))
            .cloned();
        let Some(next) = next.filter(|_| !features.is_empty()) else {
            return Ok(sent);
        };
        url = next["href"]
            .as_str()
            .ok_or_else(|| fail("a `next` link without href".into()))?
            .to_string();
        body = if next["method"].as_str() == Some("POST") {
            let mut b = if next["merge"] == true {
                body.take().unwrap_or_else(|| s.body())
            } else {
                json!({})
            };
            if let Some(extra) = next["body"].as_object() {
                for (k, v) in extra {
                    b[k] = v.clone();
                }
            }
            Some(b)
        } else {
            None
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_body_carries_the_filters() {
        let s = StacSearch {
            api: "http://x".into(),
            collections: vec!["landsat-c2l2-sr".into()],
            bbox: Some([-106.0, 39.0, -104.0, 41.0]),
            datetime: Some("2020-06-01/2020-07-31".into()),
            limit: 100,
            max_items: None,
        };
        assert_eq!(
            s.body(),
            json!({"limit": 100, "collections": ["landsat-c2l2-sr"], "bbox": [-106.0, 39.0, -104.0, 41.0],
                   "datetime": "2020-06-01/2020-07-31"})
        );
        let item = json!({"id": "a", "collection": "c", "links": []});
        assert_eq!(
            item_uri("http://api/", &item),
            "http://api/collections/c/items/a"
        );
    }
}
