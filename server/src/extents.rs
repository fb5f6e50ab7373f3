//! The collections and their extents, kept for a few seconds: `/`, `/collections` and
//! `/collections/{id}` all need every product's extent, an aggregate over its items that grows with
//! the index, while clients ask for it on every connection (pystac-client opens `/` first). A copy
//! younger than the configured age is served; an older one is recomputed by the request that finds
//! it stale (age 0: every request computes).
use crate::error::ApiError;
use crate::pool::Pool;
use crate::store::{self, CollectionRow};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The cached collections.
pub struct Extents {
    max_age: Duration,
    kept: Mutex<Option<(Instant, Arc<Vec<CollectionRow>>)>>,
}

impl Extents {
    /// A cache whose copies are served for `max_age`.
    pub fn new(max_age: Duration) -> Extents {
        Extents {
            max_age,
            kept: Mutex::new(None),
        }
    }

    /// Every collection with its extent (at most `max_age` old).
    pub async fn all(
        &self,
        pool: &Arc<Pool>,
        statement_timeout_ms: u64,
    ) -> Result<Arc<Vec<CollectionRow>>, ApiError> {
        if let Some((at, rows)) = &*self.kept.lock().expect("extents lock") {
            if at.elapsed() < self.max_age {
                return Ok(rows.clone());
            }
        }
        let rows = Arc::new(
            pool.run(statement_timeout_ms, |c| store::collections(c, None))
                .await?,
        );
        if !self.max_age.is_zero() {
            *self.kept.lock().expect("extents lock") = Some((Instant::now(), rows.clone()));
        }
        Ok(rows)
    }

    /// One collection with its extent (None: no such product): from the kept copy, else (no copy is
    /// kept, or the product was added since it was made) from the index itself.
    pub async fn one(
        &self,
        pool: &Arc<Pool>,
        statement_timeout_ms: u64,
        name: String,
    ) -> Result<Option<CollectionRow>, ApiError> {
        if !self.max_age.is_zero() {
            let all = self.all(pool, statement_timeout_ms).await?;
            if let Some(c) = all.iter().find(|c| c.name == name) {
                return Ok(Some(c.clone()));
            }
        }
        let rows = pool
            .run(statement_timeout_ms, move |c| {
                store::collections(c, Some(&name))
            })
            .await?;
        Ok(rows.into_iter().next())
    }
}
