//! Database URLs as ODC users write them (`postgresql+psycopg2://…`, socket URLs) and their
//! translation to the Rust Postgres client, without ever rewriting the user's own text.
use crate::{Error, Result};
use std::time::Duration;

/// A parsed Postgres URL. Missing parts follow libpq's defaults when connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbUrl {
    /// Host name, IP address, or a Unix-socket directory (starts with `/`).
    pub host: Option<String>,
    /// TCP port, or the socket file's port suffix.
    pub port: Option<u16>,
    /// Role to connect as.
    pub user: Option<String>,
    /// Password, if any.
    pub password: Option<String>,
    /// Database name.
    pub dbname: Option<String>,
    /// Other query parameters (`sslmode`, `application_name`, …), kept for display.
    pub params: Vec<(String, String)>,
}

impl DbUrl {
    /// Parses `postgresql://`, `postgres://`, `postgresql+psycopg2://` and `postgresql+psycopg://` URLs.
    /// The `+driver` suffix is for SQLAlchemy and is dropped here.
    pub fn parse(text: &str) -> Result<DbUrl> {
        let bad = |m: &str| Error::Config(format!("database URL {}: {m}", redact(text)));
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| bad("expected postgresql://[user[:password]@][host][:port]/dbname"))?;
        let base = scheme.split('+').next().unwrap_or_default();
        if base != "postgresql" && base != "postgres" {
            return Err(bad(&format!(
                "scheme {scheme:?} is not a Postgres scheme (postgresql://, postgresql+psycopg2://)"
            )));
        }
        let dec = |s: &str| percent_decode(s).map_err(|_| bad("invalid percent-encoding"));
        // With credentials in the URL, a password holding an unencoded `/`, `?` or `:` ends up in
        // what is split off as host or port: errors then quote neither.
        let credentials = rest.split('?').next().unwrap_or_default().contains('@');
        let shown = |v: &str| {
            if credentials {
                "(not shown: the URL holds credentials; percent-encode / ? @ : in a password)"
                    .to_string()
            } else {
                format!("{v:?}")
            }
        };
        // Split by hand: the url crate refuses `user@/db` (empty host), which libpq accepts.
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = before_query.split_once('/').unwrap_or((before_query, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed [ in host"))?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(|| {
                    bad(&format!(
                        "{} after the [host]: expected :port",
                        shown(after)
                    ))
                })?),
            };
            if h.contains(['[', ']']) {
                return Err(bad(&format!(
                    "host [{}]: brackets inside brackets",
                    shown(h)
                )));
            }
            (h, port)
        } else {
            let (h, p) = match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            };
            if h.contains([':', '[', ']']) {
                return Err(bad(&format!(
                    "host {}: an IPv6 address goes in brackets ([::1]:5432), other hosts have no :, [ or ]",
                    shown(h)
                )));
            }
            (h, p)
        };
        let parse_port = |p: &str| {
            p.parse::<u16>()
                .map_err(|_| bad(&format!("port {} is not a number", shown(p))))
        };
        let (user, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((user, pw)) => (Some(dec(user)?), Some(dec(pw)?)),
                None => (Some(dec(u)?), None),
            },
            None => (None, None),
        };
        let mut url = DbUrl {
            host: Some(dec(host)?).filter(|h| !h.is_empty()),
            port: port.filter(|p| !p.is_empty()).map(parse_port).transpose()?,
            user: user.filter(|u| !u.is_empty()),
            password,
            dbname: Some(dec(path)?).filter(|d| !d.is_empty()),
            params: Vec::new(),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (dec(&k.replace('+', " "))?, dec(&v.replace('+', " "))?);
            let k = k.as_str();
            match k {
                // An empty host, user or dbname means libpq's default, as in the URL's body.
                "host" => url.host = Some(v).filter(|v| !v.is_empty()),
                "port" => url.port = Some(parse_port(&v)?),
                "user" => url.user = Some(v).filter(|v| !v.is_empty()),
                "password" => url.password = Some(v),
                "dbname" => url.dbname = Some(v).filter(|v| !v.is_empty()),
                _ => url.params.push((k.to_string(), v)),
            }
        }
        Ok(url)
    }

    /// Builds a URL from datacube's `db_hostname/db_port/db_database/db_username/db_password` parts.
    pub fn from_parts(
        host: Option<&str>,
        port: Option<&str>,
        database: Option<&str>,
        user: Option<&str>,
        password: Option<&str>,
    ) -> Result<DbUrl> {
        let port = match port.filter(|p| !p.is_empty()) {
            Some(p) => Some(
                p.parse()
                    .map_err(|_| Error::Config(format!("db_port {p:?} is not a number")))?,
            ),
            None => None,
        };
        Ok(DbUrl {
            host: host.filter(|h| !h.is_empty()).map(str::to_string),
            port,
            user: user.filter(|u| !u.is_empty()).map(str::to_string),
            password: password.filter(|p| !p.is_empty()).map(str::to_string),
            dbname: Some(
                database
                    .filter(|d| !d.is_empty())
                    .unwrap_or("datacube")
                    .to_string(),
            ),
            params: Vec::new(),
        })
    }

    /// The URL with the password masked, for messages and logs.
    pub fn redacted(&self) -> String {
        self.render("postgresql", true)
    }

    /// The URL a Python user with psycopg2 needs (SQLAlchemy 2.1 picks psycopg 3 for bare `postgresql://`).
    pub fn python_url(&self) -> String {
        self.render("postgresql+psycopg2", false)
    }

    fn render(&self, scheme: &str, mask: bool) -> String {
        let enc = |s: &str| percent_encode(s);
        let mut s = format!("{scheme}://");
        // Every part percent-encoded (SQLAlchemy and libpq decode them), so a password with `@` or
        // `/`, or a value with `&`, stays one part.
        if self.user.is_some() || self.password.is_some() {
            s.push_str(&enc(self.user.as_deref().unwrap_or("")));
            if let Some(p) = &self.password {
                s.push(':');
                s.push_str(&if mask { "***".to_string() } else { enc(p) });
            }
            s.push('@');
        }
        let mut query: Vec<(String, String)> = Vec::new();
        match &self.host {
            Some(h) if h.starts_with('/') => {
                query.push(("host".into(), h.clone()));
                if let Some(p) = self.port {
                    query.push(("port".into(), p.to_string()));
                }
            }
            // An IPv6 address in brackets (its colons would read as a port).
            Some(h) if h.contains(':') => {
                s.push_str(&format!("[{}]", h.replace(['[', ']'], "")));
                if let Some(p) = self.port {
                    s.push_str(&format!(":{p}"));
                }
            }
            Some(h) => {
                s.push_str(&enc(h));
                if let Some(p) = self.port {
                    s.push_str(&format!(":{p}"));
                }
            }
            None => {
                if let Some(p) = self.port {
                    s.push_str(&format!(":{p}"));
                }
            }
        }
        s.push('/');
        if let Some(d) = &self.dbname {
            s.push_str(&enc(d));
        }
        query.extend(self.params.iter().cloned());
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{}={}", enc_query(k), enc_query(v)))
                .collect();
            s.push('?');
            s.push_str(&q.join("&"));
        }
        s
    }

    /// The Rust client configuration, with libpq's defaults for what the URL leaves out
    /// (`PGHOST`/`PGPORT`/`PGUSER`, the Debian socket directory, the OS user name).
    pub fn to_pg_config(&self, application_name: &str) -> postgres::Config {
        let mut cfg = postgres::Config::new();
        let host = self
            .host
            .clone()
            .or_else(|| std::env::var("PGHOST").ok())
            .unwrap_or_else(|| {
                if std::path::Path::new("/var/run/postgresql").is_dir() {
                    "/var/run/postgresql".into()
                } else {
                    "localhost".into()
                }
            });
        if host.starts_with('/') {
            cfg.host_path(&host);
        } else {
            cfg.host(&host);
        }
        let port = self
            .port
            .or_else(|| std::env::var("PGPORT").ok().and_then(|p| p.parse().ok()))
            .unwrap_or(5432);
        cfg.port(port);
        let user = self
            .user
            .clone()
            .or_else(|| std::env::var("PGUSER").ok())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "postgres".into());
        cfg.user(&user);
        if let Some(p) = self
            .password
            .clone()
            .or_else(|| std::env::var("PGPASSWORD").ok())
        {
            cfg.password(p);
        }
        cfg.dbname(self.dbname.as_deref().unwrap_or(&user));
        cfg.application_name(application_name);
        cfg.connect_timeout(Duration::from_secs(60));
        cfg
    }
}

fn redact(text: &str) -> String {
    match DbUrlParts::split_password(text) {
        Some((before, after)) => format!("{before}***{after}"),
        None => text.to_string(),
    }
}

struct DbUrlParts;
impl DbUrlParts {
    /// Splits `scheme://user:PASSWORD@rest` around the password, if there is one.
    fn split_password(text: &str) -> Option<(&str, &str)> {
        let start = text.find("://")? + 3;
        // The last `@` before the query: a password with an unencoded `@` stays hidden whole.
        let body = text[start..].split('?').next().unwrap_or_default();
        let at = start + body.rfind('@')?;
        let colon = start + text[start..at].find(':')?;
        Some((&text[..=colon], &text[at..]))
    }
}

fn percent_decode(s: &str) -> std::result::Result<String, ()> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or(())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

/// A query key or value: `/`, `:` and `@` stay as they are (RFC 3986 allows them there; socket
/// directories read better), `&`, `=`, `+`, `%`, `#` and the rest are encoded.
fn enc_query(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.char_indices() {
        if matches!(c, '/' | ':' | '@') {
            out.push(c);
        } else {
            out.push_str(&percent_encode(&s[i..i + c.len_utf8()]));
        }
    }
    out
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_suffix_is_accepted_and_dropped() {
        let u = DbUrl::parse("postgresql+psycopg2://alice:s%40cret@db.example:5433/odc").unwrap();
        assert_eq!(u.host.as_deref(), Some("db.example"));
        assert_eq!(u.port, Some(5433));
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("s@cret"));
        assert_eq!(u.dbname.as_deref(), Some("odc"));
        assert_eq!(u.redacted(), "postgresql://alice:***@db.example:5433/odc");
        for scheme in ["postgres", "postgresql", "postgresql+psycopg"] {
            let u = DbUrl::parse(&format!("{scheme}://h/d")).unwrap();
            assert_eq!(u.dbname.as_deref(), Some("d"));
        }
    }

    #[test]
    fn printed_urls_keep_every_part_whole() {
        // Found by the properties below: the password, an IPv6 host and query values were printed
        // as they are, so `@`, `/`, `:` or `&` in them changed what the URL says.
        let u = DbUrl::from_parts(
            Some("::1"),
            Some("5433"),
            Some("dc"),
            Some("me"),
            Some("p@ss/w:rd&x"),
        )
        .unwrap();
        assert_eq!(
            u.python_url(),
            "postgresql+psycopg2://me:p%40ss%2Fw%3Ard%26x@[::1]:5433/dc"
        );
        assert_eq!(DbUrl::parse(&u.python_url()).unwrap(), u);
        let q = DbUrl::parse("postgresql:///dc?host=/run/pg&application_name=a%26b").unwrap();
        assert_eq!(DbUrl::parse(&q.python_url()).unwrap(), q);
        for bad in [
            "postgresql://]::1/dc",
            "postgresql://a[::1/dc",
            "postgresql://[::1]x/dc",
        ] {
            let e = DbUrl::parse(bad).unwrap_err().to_string();
            assert!(e.contains("host") || e.contains("port"), "{bad}: {e}");
        }
    }

    #[test]
    fn socket_urls_work() {
        let u = DbUrl::parse("postgresql:///datacube").unwrap();
        assert_eq!(u.host, None);
        assert_eq!(u.dbname.as_deref(), Some("datacube"));
        let u =
            DbUrl::parse("postgresql+psycopg2://postgres@/datacube?host=/tmp/x&port=5555").unwrap();
        assert_eq!(u.host.as_deref(), Some("/tmp/x"));
        assert_eq!(u.port, Some(5555));
        assert_eq!(
            u.python_url(),
            "postgresql+psycopg2://postgres@/datacube?host=/tmp/x&port=5555"
        );
    }

    #[test]
    fn other_schemes_are_refused_without_leaking_passwords() {
        let err = DbUrl::parse("mysql://u:hunter2@h/d")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a Postgres scheme"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        // A password with an unencoded `:`, `/`, `?` or `@` splits where it should not: no part of it
        // may reach the message, whichever part it lands in.
        for (url, secret) in [
            ("postgresql://user:p4ss:w/rd@db/dc", "p4ss"),
            ("postgresql://u:qz/ss@db/dc", "qz"),
            ("postgresql://u:hunt@er2@db:x/dc", "hunt"),
        ] {
            let err = DbUrl::parse(url).unwrap_err().to_string();
            assert!(!err.contains(secret), "{url}: {err}");
        }
    }

    #[test]
    fn parts_default_to_the_datacube_database() {
        let u = DbUrl::from_parts(Some("h"), Some("6543"), None, Some("bob"), None).unwrap();
        assert_eq!(u.redacted(), "postgresql://bob@h:6543/datacube");
        assert!(DbUrl::from_parts(None, Some("x"), None, None, None).is_err());
    }

    /// Any text parses to a URL or an error, never a panic; what parses prints and parses again the same.
    mod never_panics {
        use super::*;
        use proptest::prelude::*;

        fn url_like() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                "[a-zA-Z0-9._-]{0,6}",
                prop::sample::select(vec![
                    "@",
                    ":",
                    "/",
                    "?",
                    "&",
                    "=",
                    "[",
                    "]",
                    "%",
                    "%2",
                    "%zz",
                    "%FF",
                    "%C3%A9",
                    "+",
                    "::1",
                    "é",
                    "#",
                    ":65535",
                    ":65536",
                    ":-1",
                    "host=",
                    "port=x",
                    "dbname=",
                    "sslmode=require",
                ])
                .prop_map(str::to_string),
            ];
            (
                prop::sample::select(vec![
                    "postgresql://",
                    "postgres://",
                    "postgresql+psycopg2://",
                    "postgresql+psycopg://",
                    "mysql://",
                    "",
                    "postgresql:/",
                ]),
                prop::collection::vec(piece, 0..12),
            )
                .prop_map(|(scheme, p)| format!("{scheme}{}", p.concat()))
        }

        proptest! {
            #![proptest_config(proptest::test_runner::Config {
                cases: 1024,
                failure_persistence: None,
                rng_seed: match std::env::var_os("PROPTEST_RNG_SEED") {
                    Some(_) => proptest::test_runner::Config::default().rng_seed,
                    None => proptest::test_runner::RngSeed::Fixed(0x5eed_0db0),
                },
                ..Default::default()
            })]

            #[test]
            fn database_urls_parse_or_explain(text in prop_oneof![url_like(), ".{0,40}"]) {
                if let Ok(u) = DbUrl::parse(&text) {
                    let _ = (u.redacted(), u.to_pg_config("etlake"));
                    let again = DbUrl::parse(&u.python_url());
                    prop_assert_eq!(again.as_ref().ok(), Some(&u), "{} printed as {}", text, u.python_url());
                }
            }

            #[test]
            fn url_parts_build_or_explain(parts in prop::collection::vec(prop::option::of(prop_oneof![".{0,10}", Just("5432".to_string()), Just("99999".to_string())]), 5)) {
                let p: Vec<Option<&str>> = parts.iter().map(|x| x.as_deref()).collect();
                let _ = DbUrl::from_parts(p[0], p[1], p[2], p[3], p[4]).map(|u| u.python_url());
            }
        }
    }
}
