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
            (h, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        let parse_port = |p: &str| {
            p.parse::<u16>()
                .map_err(|_| bad(&format!("port {p:?} is not a number")))
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
            let v = dec(&v.replace('+', " "))?;
            match k {
                "host" => url.host = Some(v),
                "port" => url.port = Some(parse_port(&v)?),
                "user" => url.user = Some(v),
                "password" => url.password = Some(v),
                "dbname" => url.dbname = Some(v),
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
        if let Some(u) = &self.user {
            s.push_str(&enc(u));
            if self.password.is_some() {
                s.push(':');
                s.push_str(if mask {
                    "***"
                } else {
                    self.password.as_deref().unwrap_or("")
                });
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
            Some(h) => {
                s.push_str(h);
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
            let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
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
        let at = start + text[start..].find('@')?;
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
    }

    #[test]
    fn parts_default_to_the_datacube_database() {
        let u = DbUrl::from_parts(Some("h"), Some("6543"), None, Some("bob"), None).unwrap();
        assert_eq!(u.redacted(), "postgresql://bob@h:6543/datacube");
        assert!(DbUrl::from_parts(None, Some("x"), None, None, None).is_err());
    }
}
