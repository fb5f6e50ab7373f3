//! Bound parameters of a statement being built: every value a request gives enters SQL as `$n`
//! (with an explicit cast), never as text, so no request string can change a statement's meaning.
use postgres::types::ToSql;

/// The values bound so far; `$n` is the n-th.
#[derive(Default)]
pub struct Params(Vec<Box<dyn ToSql + Sync + Send>>);

impl Params {
    /// Binds a value and returns its placeholder with the cast given (`$3::float8`).
    pub fn bind<T: ToSql + Sync + Send + 'static>(&mut self, v: T, cast: &str) -> String {
        self.0.push(Box::new(v));
        format!("${}::{cast}", self.0.len())
    }

    /// How many are bound.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Drops the values bound after the first `n` (a translation tried and given up).
    pub fn truncate(&mut self, n: usize) {
        self.0.truncate(n);
    }

    /// The values, for `query`.
    pub fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}
