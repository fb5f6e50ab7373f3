//! A small pool of database connections for the async server. The index layer is synchronous
//! (`postgres::Client`), so each request's queries run on a blocking thread with a connection taken
//! from the pool; at most `size` run at once, the rest wait their turn.
use crate::error::ApiError;
use catalog_schema::{Catalog, DbUrl};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// Connections to one index.
pub struct Pool {
    url: DbUrl,
    idle: Mutex<Vec<Catalog>>,
    permits: Arc<Semaphore>,
}

/// Settings every server connection gets: read-only transactions (the API never writes), UTC for
/// timestamps written without an offset, and a bound on any one statement.
fn session_settings(statement_timeout_ms: u64) -> String {
    format!(
        "SET default_transaction_read_only = on; SET TimeZone = 'UTC'; \
         SET statement_timeout = {statement_timeout_ms}"
    )
}

/// Refuses an index whose etlake schema predates the columns the API's SQL reads (version 3).
fn require_current_etlake(c: &mut Catalog) -> Result<(), ApiError> {
    let want = catalog_schema::etlake_schema::SCHEMA_VERSION;
    match catalog_schema::etlake_schema::version(c.client())? {
        Some(v) if v >= want => Ok(()),
        // Not logged here: the server does not start, and the caller prints the reason once.
        found => Err(ApiError {
            status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            description: format!(
                "the index at {} has etlake schema {}, the server needs version {want}: run \
                 `etlake db init` with the same --db (it upgrades in place and leaves datacube's \
                 agdc schema unchanged)",
                c.url().redacted(),
                found.map_or("none".to_string(), |v| format!("version {v}"))
            ),
        }),
    }
}

impl Pool {
    /// A pool of at most `size` connections to `url`, the first opened now (so a wrong URL fails at
    /// start-up, not on the first request).
    pub fn open(url: DbUrl, size: usize, statement_timeout_ms: u64) -> Result<Pool, ApiError> {
        let pool = Pool {
            url,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size.max(1))),
        };
        let mut first = pool.connect(statement_timeout_ms)?;
        require_current_etlake(&mut first)?;
        pool.idle.lock().expect("pool lock").push(first);
        Ok(pool)
    }

    fn connect(&self, statement_timeout_ms: u64) -> Result<Catalog, ApiError> {
        let mut c = Catalog::connect(&self.url)?;
        c.require_agdc()?;
        c.client()
            .batch_execute(&session_settings(statement_timeout_ms))?;
        Ok(c)
    }

    /// Runs `f` with a connection on this thread (outside the server's runtime).
    pub fn with<T>(
        &self,
        f: impl FnOnce(&mut Catalog) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut c = self
            .idle
            .lock()
            .expect("pool lock")
            .pop()
            .ok_or_else(|| ApiError::internal("no connection open"))?;
        let r = f(&mut c);
        self.idle.lock().expect("pool lock").push(c);
        r
    }

    /// Runs `f` with a connection on a blocking thread. A connection that broke is dropped, and the
    /// next request opens a new one.
    pub async fn run<T, F>(self: &Arc<Self>, timeout_ms: u64, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Catalog) -> Result<T, ApiError> + Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::internal("the connection pool is closed"))?;
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let idle = pool.idle.lock().expect("pool lock").pop();
            let mut c = match idle {
                Some(c) => c,
                None => pool.connect(timeout_ms)?,
            };
            let result = f(&mut c);
            if !c.client().is_closed() {
                pool.idle.lock().expect("pool lock").push(c);
            }
            result
        })
        .await
        .map_err(|e| ApiError::internal(format!("request task failed: {e}")))?
    }
}
