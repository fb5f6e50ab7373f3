//! NASA Earthdata Login (EDL, "URS") for the DAACs' protected files, the way the DAACs do it
//! (Earthdata Login docs, <https://urs.earthdata.nasa.gov/documentation/for_users/data_access/>):
//! the data URL answers 302 to `{urs}/oauth/authorize?...`; that request, made with HTTP Basic
//! credentials (or an EDL bearer token), answers 302 back to the DAAC with a `code`; the DAAC sets
//! its session cookie and redirects (302/307) to a presigned S3 URL.
//!
//! Credentials, in this order: `EARTHDATA_TOKEN` (bearer), `EARTHDATA_USERNAME` +
//! `EARTHDATA_PASSWORD`, then the `.netrc` entry for the URS host (refused when group/other can read
//! it). A password is only ever sent to the URS host; a token also to the data URL's own DAAC host,
//! which validates EDL bearer tokens itself (TEA, "EDL Bearer Tokens"; OPeNDAP's "Client
//! authentication with EDL tokens": the token in an `Authorization` header of the data request).
//! Neither is sent to a presigned S3 redirect (see `http::Http::send_data`), nor printed (`Debug`
//! redacts them).
use crate::secrets::{self, Login};

/// The public Earthdata Login.
pub const DEFAULT_EDL: &str = "https://urs.earthdata.nasa.gov";

/// Environment variable overriding the URS base URL.
pub const EDL_ENV: &str = "ETLAKE_EDL_URL";

/// A credential for the URS host.
#[derive(Clone)]
pub enum Credential {
    /// User name and password (HTTP Basic).
    Basic(Login),
    /// An EDL user token (`Authorization: Bearer`).
    Bearer(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Basic(l) => write!(f, "Basic({l:?})"),
            Credential::Bearer(_) => write!(f, "Bearer(<redacted>)"),
        }
    }
}

impl Credential {
    /// The `Authorization` header value.
    pub fn header(&self) -> String {
        match self {
            Credential::Basic(l) => format!(
                "Basic {}",
                base64(format!("{}:{}", l.user, l.password).as_bytes())
            ),
            Credential::Bearer(t) => format!("Bearer {t}"),
        }
    }

    /// Where it came from, for messages (no secret in it).
    pub fn describe(&self) -> String {
        match self {
            Credential::Basic(l) => format!("Earthdata Login user {:?}", l.user),
            Credential::Bearer(_) => "an Earthdata Login token".into(),
        }
    }
}

/// Earthdata Login as a sync uses it: the URS host and the credential for it.
#[derive(Debug, Clone)]
pub struct Edl {
    /// `host[:port]` of URS, lower case.
    pub host: String,
    /// The credential, when one was found.
    pub credential: Option<Credential>,
}

/// The URS base URL: `$ETLAKE_EDL_URL`, else the public one.
pub fn base_url() -> String {
    std::env::var(EDL_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_EDL.to_string())
}

/// Finds the credential (token, then user/password variables, then `.netrc`). A `.netrc` that
/// others can read is an error.
pub fn from_env() -> Result<Edl, String> {
    let host = crate::http::host_of(&base_url());
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let credential = if let Some(t) = var("EARTHDATA_TOKEN") {
        Some(Credential::Bearer(t))
    } else if let (Some(user), Some(password)) =
        (var("EARTHDATA_USERNAME"), var("EARTHDATA_PASSWORD"))
    {
        Some(Credential::Basic(Login { user, password }))
    } else {
        // `.netrc` machine names carry no port.
        let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
        match secrets::netrc_path() {
            Some(p) => secrets::netrc_login(&p, name)?.map(Credential::Basic),
            None => None,
        }
    };
    Ok(Edl { host, credential })
}

/// Standard base64 (RFC 4648 §4, with padding), for HTTP Basic credentials (RFC 7617).
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        // RFC 4648 §10 test vectors.
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
        // RFC 7617 §2's example.
        let c = Credential::Basic(Login {
            user: "Aladdin".into(),
            password: "open sesame".into(),
        });
        assert_eq!(c.header(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert!(!format!("{c:?}").contains("open sesame"));
        assert!(!format!("{:?}", Credential::Bearer("tok".into())).contains("tok"));
    }
}
