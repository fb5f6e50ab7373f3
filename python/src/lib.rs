//! `etlake._etlake`, the extension module under the `etlake` Python package: argument conversion
//! and error mapping only. Every call is a `catalog_schema` library call the CLI makes too, run with
//! the GIL released and with panics turned into Python exceptions (a bug never aborts the notebook).
use catalog_schema::config::{ConnectOptions, SystemEnv};
use catalog_schema::{product, search, Catalog, Error};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Mutex;

mod load;
mod veget;

pyo3::create_exception!(
    etlake,
    EtlakeError,
    PyException,
    "Base class of etlake's errors; the message is the one the etlake CLI prints."
);
pyo3::create_exception!(
    etlake,
    NotFoundError,
    EtlakeError,
    "A named object (product, database schema) does not exist."
);
pyo3::create_exception!(
    etlake,
    InvalidInputError,
    EtlakeError,
    "An argument or document breaks a rule (bad time, empty area, invalid definition)."
);
pyo3::create_exception!(
    etlake,
    ConfigError,
    EtlakeError,
    "The database configuration could not be resolved."
);

pub(crate) fn to_py(e: Error) -> PyErr {
    let text = e.to_string();
    match e {
        Error::NotFound { .. } => NotFoundError::new_err(text),
        Error::Invalid { .. } => InvalidInputError::new_err(text),
        Error::Config(_) => ConfigError::new_err(text),
        _ => EtlakeError::new_err(text),
    }
}

/// Runs library work with the GIL released; an error becomes the matching exception and a panic an
/// `EtlakeError` naming it as a bug.
pub(crate) fn run<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<T, Error> + Send,
) -> PyResult<T> {
    match py.detach(|| catch_unwind(AssertUnwindSafe(work))) {
        Ok(result) => result.map_err(to_py),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            Err(EtlakeError::new_err(format!(
                "internal error in etlake (a bug, please report it): {what}"
            )))
        }
    }
}

/// A dataset found: (id, time (start, end) as RFC 3339 or None, lon (west, east) or None,
/// lat (south, north) or None, uris, the stored document as JSON text).
type FoundRow = (
    String,
    Option<(String, String)>,
    Option<(f64, f64)>,
    Option<(f64, f64)>,
    Vec<String>,
    String,
);

/// A product: (name, metadata type, active datasets, definition as JSON text).
type ProductRow = (String, String, i64, String);

fn product_row(p: product::StoredProduct) -> ProductRow {
    (
        p.name,
        p.metadata_type,
        p.active_datasets,
        p.definition.to_string(),
    )
}

/// An open connection to an ODC index (see `etlake.Index`).
#[pyclass(module = "etlake._etlake", name = "Index", frozen)]
pub(crate) struct Index {
    catalog: Mutex<Catalog>,
    source: String,
}

impl Index {
    pub(crate) fn with<T: Send>(
        &self,
        py: Python<'_>,
        work: impl FnOnce(&mut Catalog) -> Result<T, Error> + Send,
    ) -> PyResult<T> {
        run(py, || {
            // A panic inside an earlier call leaves the lock poisoned; the connection itself is
            // still usable (postgres rolls back the open transaction when it is next used).
            let mut c = self.catalog.lock().unwrap_or_else(|p| p.into_inner());
            work(&mut c)
        })
    }
}

#[pymethods]
impl Index {
    /// Opens the index as `etlake --db URL --env ENV --config PATH…` would (embedded cluster when
    /// nothing is configured).
    #[new]
    #[pyo3(signature = (url=None, *, env=None, config=None))]
    fn new(
        py: Python<'_>,
        url: Option<String>,
        env: Option<String>,
        config: Option<Vec<PathBuf>>,
    ) -> PyResult<Self> {
        let opts = ConnectOptions {
            db_url: url,
            env,
            config_paths: config.unwrap_or_default(),
        };
        run(py, || {
            let c = Catalog::open_index(&opts, &SystemEnv)?;
            Ok(Index {
                source: c.source().to_string(),
                catalog: Mutex::new(c),
            })
        })
    }

    /// Where the database URL came from (argument, environment variable, config file, embedded).
    #[getter]
    fn source(&self) -> String {
        self.source.clone()
    }

    /// The database URL with any password hidden.
    #[getter]
    fn url(&self, py: Python<'_>) -> PyResult<String> {
        self.with(py, |c| Ok(c.url().redacted()))
    }

    /// All products: (name, metadata type, active datasets, definition JSON), by name.
    fn products(&self, py: Python<'_>) -> PyResult<Vec<ProductRow>> {
        self.with(py, |c| {
            Ok(product::list(c)?.into_iter().map(product_row).collect())
        })
    }

    /// One product as `products` gives it; `NotFoundError` when the index has none of that name.
    fn product(&self, py: Python<'_>, name: String) -> PyResult<ProductRow> {
        self.with(py, |c| product::require(c, &name).map(product_row))
    }

    /// The datasets `dc.find_datasets` finds: (id, (start, end) RFC 3339, (west, east),
    /// (south, north), uris, document JSON). `time` is `A/B` or one value; `bbox_label` names the
    /// area in error messages.
    #[pyo3(signature = (product, *, time=None, bbox=None, bbox_label=None, limit=None))]
    fn search(
        &self,
        py: Python<'_>,
        product: String,
        time: Option<String>,
        bbox: Option<(f64, f64, f64, f64)>,
        bbox_label: Option<String>,
        limit: Option<usize>,
    ) -> PyResult<Vec<FoundRow>> {
        self.with(py, |c| {
            let time = time.as_deref().map(search::parse_time_range).transpose()?;
            let bbox = match bbox {
                Some((w, s, e, n)) => Some(search::check_bbox(
                    bbox_label.as_deref().unwrap_or("bbox"),
                    [w, s, e, n],
                )?),
                None => None,
            };
            let query = search::Query {
                product,
                time,
                bbox,
                limit,
            };
            let rfc = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339();
            Ok(search::search(c, &query)?
                .into_iter()
                .map(|f| {
                    (
                        f.id.to_string(),
                        f.time.map(|(a, b)| (rfc(a), rfc(b))),
                        f.lon,
                        f.lat,
                        f.uris.clone(),
                        f.document().to_string(),
                    )
                })
                .collect())
        })
    }
}

/// Panics inside the guard every call runs in: the tests' proof that a Rust panic reaches Python as
/// an `EtlakeError` and the interpreter lives on. Not part of the API.
#[pyfunction]
fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
    run(py, || -> Result<(), Error> { panic!("deliberate panic") })
}

#[pymodule]
fn _etlake(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Index>()?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(veget::_veget, m)?)?;
    m.add_function(wrap_pyfunction!(veget::_veget_run, m)?)?;
    load::register(m)?;
    m.add("EtlakeError", py.get_type::<EtlakeError>())?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("__version__", catalog_schema::VERSION)?;
    Ok(())
}
