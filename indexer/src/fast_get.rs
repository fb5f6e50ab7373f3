//! Fast whole-object reads for small metadata documents: one pooled HTTP/1.1 client and SigV4 signing,
//! without the SDK's per-request orchestration (~150 µs of CPU per GET); anything but a 200 is redone
//! through the SDK, which retries and explains errors, so behaviour is the SDK's, only cheaper.
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// The reader; `None` from [`FastGet::get`] means "ask the SDK".
pub(crate) struct FastGet {
    client: Client<Https, Empty<Bytes>>,
    /// `http://host:port` of a custom endpoint (path-style), or None for AWS (virtual-hosted).
    endpoint: Option<String>,
    region: String,
    /// None: anonymous requests.
    credentials: Option<SharedCredentialsProvider>,
    cached: Mutex<Option<Credentials>>,
    payer: bool,
}

impl FastGet {
    /// A reader for the same endpoint, region and credentials as the SDK client; None when TLS roots
    /// cannot be loaded (the SDK then does every read).
    pub(crate) fn new(
        shared: &aws_config::SdkConfig,
        endpoint: Option<&str>,
        region: &str,
        anonymous: bool,
        payer: bool,
    ) -> Option<FastGet> {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .ok()?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        let credentials = if anonymous {
            None
        } else {
            Some(shared.credentials_provider()?)
        };
        Some(FastGet {
            client,
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_string()),
            region: region.to_string(),
            credentials,
            cached: Mutex::new(None),
            payer,
        })
    }

    /// The object's bytes, or None when anything but a plain 200 happened.
    pub(crate) async fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let path = encode_key(key);
        let (url, host) = match &self.endpoint {
            Some(e) => {
                let host = e.split_once("://").map_or(e.as_str(), |(_, h)| h);
                (format!("{e}/{bucket}/{path}"), host.to_string())
            }
            None => {
                let host = format!("{bucket}.s3.{}.amazonaws.com", self.region);
                (format!("https://{host}/{path}"), host)
            }
        };
        let mut req = http::Request::get(&url)
            .header("host", &host)
            .body(Empty::<Bytes>::new())
            .ok()?;
        if self.payer {
            req.headers_mut()
                .insert("x-amz-request-payer", "requester".parse().ok()?);
        }
        if let Some(provider) = &self.credentials {
            let creds = self.credentials(provider).await?;
            self.sign(&mut req, creds)?;
        }
        // A document is small: a read that takes longer than this has stalled (the SDK then tries).
        let read = async {
            let resp = self.client.request(req).await.ok()?;
            if resp.status() != http::StatusCode::OK {
                tracing::debug!(
                    "s3://{bucket}/{key}: HTTP {}, asking the SDK",
                    resp.status()
                );
                return None;
            }
            Some(resp.into_body().collect().await.ok()?.to_bytes().to_vec())
        };
        tokio::time::timeout(Duration::from_secs(60), read)
            .await
            .ok()
            .flatten()
    }

    /// Cached credentials, refreshed five minutes before they expire.
    async fn credentials(&self, provider: &SharedCredentialsProvider) -> Option<Credentials> {
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|t| t > SystemTime::now() + Duration::from_secs(300))
        };
        if let Some(c) = self.cached.lock().ok()?.as_ref().filter(|c| fresh(c)) {
            return Some(c.clone());
        }
        let c = provider.provide_credentials().await.ok()?;
        *self.cached.lock().ok()? = Some(c.clone());
        Some(c)
    }

    /// Adds S3's SigV4 headers (single-encoded path, signed empty-payload hash, session token).
    fn sign(&self, req: &mut http::Request<Empty<Bytes>>, creds: Credentials) -> Option<()> {
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let identity = creds.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .ok()?
            .into();
        let uri = req.uri().to_string();
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let signable = SignableRequest::new(
            "GET",
            uri.as_str(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(&[]),
        )
        .ok()?;
        let (instructions, _) = sign(signable, &params).ok()?.into_parts();
        instructions.apply_to_request_http1x(req);
        Some(())
    }
}

/// An object key as it goes in the URL path: every byte but unreserved ones and `/` percent-encoded.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_as_s3_signs_them() {
        assert_eq!(encode_key("a/b c+d=é.json"), "a/b%20c%2Bd%3D%C3%A9.json");
        assert_eq!(encode_key("x_~-.y/z"), "x_~-.y/z");
    }
}
