//! The connection to the index: opening it (starting the embedded cluster when nothing is configured)
//! and the small queries every command needs.
use crate::config::{self, ConnectOptions, Environment, Resolved, Source};
use crate::embedded::Embedded;
use crate::error::DbContext;
use crate::{DbUrl, Error, Result};

/// An open connection to an ODC index.
pub struct Catalog {
    client: postgres::Client,
    url: DbUrl,
    source: Source,
    /// Statements prepared on this connection, by SQL text (searches repeat a few shapes).
    statements: std::collections::HashMap<String, postgres::Statement>,
    /// Search expressions per product name, resolved once per connection.
    pub(crate) search_fields: std::collections::HashMap<String, crate::search::ProductSearch>,
}

impl Catalog {
    /// Connects to the database a resolved configuration names, creating and starting etlake's
    /// embedded cluster when nothing is configured.
    pub fn open(resolved: &Resolved, env: &dyn Environment) -> Result<Catalog> {
        let url = match &resolved.url {
            Some(u) => u.clone(),
            None => Embedded::new(Embedded::default_root(env)).ensure_running()?,
        };
        let mut c = Catalog::connect(&url)?;
        c.source = resolved.source.clone();
        Ok(c)
    }

    /// Opens the ODC index the options and environment name, exactly as every `etlake` command and
    /// the Python `etlake.Index` do: resolve the configuration, connect (starting the embedded
    /// cluster when nothing is configured), and require the `agdc` schema.
    pub fn open_index(opts: &ConnectOptions, env: &dyn Environment) -> Result<Catalog> {
        let resolved = config::resolve(opts, env)?;
        tracing::debug!("database from {}", resolved.source);
        let mut c = Catalog::open(&resolved, env)?;
        c.require_agdc()?;
        Ok(c)
    }

    /// Connects to a URL.
    pub fn connect(url: &DbUrl) -> Result<Catalog> {
        let mut cfg = url.to_pg_config(&format!("etlake {}", crate::VERSION));
        let tls = crate::tls::Settings::of(url)?;
        cfg.ssl_mode(tls.pg_mode());
        // Postgres never encrypts Unix-socket connections (libpq does not ask either).
        let unix = cfg
            .get_hosts()
            .iter()
            .all(|h| matches!(h, postgres::config::Host::Unix(_)));
        let connected = if tls.mode == crate::tls::Mode::Disable || unix {
            cfg.connect(postgres::NoTls)
        } else {
            cfg.connect(tls.connector()?)
        };
        let client = connected.map_err(|e| {
            Error::Config(format!(
                "cannot connect to {}: {}",
                url.redacted(),
                connect_error(&e)
            ))
        })?;
        Ok(Catalog {
            client,
            url: url.clone(),
            source: Source::CommandLine,
            statements: Default::default(),
            search_fields: Default::default(),
        })
    }

    /// The Postgres client.
    pub fn client(&mut self) -> &mut postgres::Client {
        &mut self.client
    }

    /// Runs `f`; when it fails because the connection to the server is gone (a restart, a failover),
    /// connects again — waiting up to a minute for the server to accept connections — and runs `f`
    /// once more. `f` must be safe to repeat: a transaction the lost connection held was rolled back.
    pub fn reconnecting<T>(
        &mut self,
        what: &str,
        mut f: impl FnMut(&mut Catalog) -> Result<T>,
    ) -> Result<T> {
        match f(self) {
            Err(e) if self.client.is_closed() => {
                tracing::warn!("{what}: the database connection was lost ({e}); reconnecting");
                self.reconnect()?;
                f(self)
            }
            r => r,
        }
    }

    /// Replaces a lost connection with a new one to the same URL (prepared statements and cached
    /// search expressions belong to the old one and are dropped), retrying for up to a minute.
    pub fn reconnect(&mut self) -> Result<()> {
        let started = std::time::Instant::now();
        let mut delay = std::time::Duration::from_millis(250);
        loop {
            match Catalog::connect(&self.url) {
                Ok(c) => {
                    self.client = c.client;
                    self.statements.clear();
                    self.search_fields.clear();
                    tracing::warn!("reconnected to {}", self.url.redacted());
                    return Ok(());
                }
                Err(e) if started.elapsed() > std::time::Duration::from_secs(60) => {
                    return Err(Error::Config(format!(
                        "the database connection was lost and could not be made again for a                          minute: {e}"
                    )))
                }
                Err(e) => tracing::debug!("reconnecting: {e}"),
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(std::time::Duration::from_secs(5));
        }
    }

    /// A statement prepared once per connection and reused (one round trip per execution after that).
    pub fn prepared(
        &mut self,
        sql: &str,
    ) -> std::result::Result<postgres::Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// The URL connected to.
    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    /// Where the connection's configuration came from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Whether a schema exists (`agdc`, `etlake`).
    pub fn schema_exists(&mut self, name: &str) -> Result<bool> {
        Ok(self
            .client
            .query_opt(
                "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = $1",
                &[&name],
            )
            .ctx(format!("looking up schema {name}"))?
            .is_some())
    }

    /// Fails with an actionable message when the ODC schema is missing.
    pub fn require_agdc(&mut self) -> Result<()> {
        if self.schema_exists("agdc")? {
            Ok(())
        } else {
            Err(Error::NotFound {
                object: format!("database {}", self.url.redacted()),
                message: "no ODC index (schema agdc) here: run `etlake db init` first".into(),
            })
        }
    }
}

/// A connection error with its causes (the TLS handshake's reason sits in the source chain).
fn connect_error(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    if text.contains("invalid peer certificate") {
        text.push_str(
            " (sslrootcert must hold the CA that signed the server's certificate, and verify-full \
             needs the host name the certificate names; sslmode=require encrypts without checking)",
        );
    }
    text
}
