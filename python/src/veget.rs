//! VegET from Python: the kernel over arrays the `etlake.veget` wrapper has aligned and flattened
//! (`model::veget::run_daily`, the kernel and input conditioning `etlake veget run` uses), and the
//! index-driven run itself (`model::veget::run_from_index`, the CLI's call). Argument conversion
//! only; the GIL is released around the model and panics become exceptions.
use crate::{run, EtlakeError, Index, InvalidInputError};
use model::veget::{self, Daily, Options, Params, RunConfig, Stack, State, Statics};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The dynamic roles, in the kernel's order; `tavg` may be absent.
const DYNAMIC: [&str; 6] = ["precipitation", "eto", "ndvi", "tmin", "tmax", "tavg"];
/// The static roles, in the kernel's order.
const STATIC: [&str; 5] = [
    "whc",
    "field_capacity",
    "saturation",
    "interception",
    "water",
];

fn model_err(e: model::Error) -> PyErr {
    match e {
        model::Error::Catalog(c) => crate::to_py(c),
        model::Error::Request(m) | model::Error::Grid(m) => InvalidInputError::new_err(m),
        other => EtlakeError::new_err(other.to_string()),
    }
}

/// Runs model work under the package's guard (GIL released, panics caught).
fn guarded<T: Send>(py: Python<'_>, work: impl FnOnce() -> model::Result<T> + Send) -> PyResult<T> {
    run(py, || Ok(work()))?.map_err(model_err)
}

/// `array` as a slice of `len` values, or an error naming the role.
fn slice<'a>(role: &str, array: &'a PyReadonlyArray1<'_, f64>, len: usize) -> PyResult<&'a [f64]> {
    let s = array.as_slice().map_err(|e| {
        InvalidInputError::new_err(format!("{role}: not a contiguous float64 array ({e})"))
    })?;
    if s.len() != len {
        return Err(InvalidInputError::new_err(format!(
            "{role}: {} values where {len} were expected",
            s.len()
        )));
    }
    Ok(s)
}

/// The array of `role` in `given`, as a slice of `len` values.
fn need<'a>(
    given: &'a HashMap<String, PyReadonlyArray1<'_, f64>>,
    role: &str,
    len: usize,
) -> PyResult<&'a [f64]> {
    let a = given
        .get(role)
        .ok_or_else(|| InvalidInputError::new_err(format!("{role}: missing input")))?;
    slice(role, a, len)
}

/// The kernel over flattened arrays: `dynamic` roles hold `days × pixels` values (time-major),
/// `statics` and `state` arrays `pixels`. Returns (daily outputs by name, gap_days, state by name),
/// all flat.
#[pyfunction]
#[pyo3(signature = (dynamic, statics, days, pixels, *, params=None, mode=None, state=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn _veget<'py>(
    py: Python<'py>,
    dynamic: HashMap<String, PyReadonlyArray1<'py, f64>>,
    statics: HashMap<String, PyReadonlyArray1<'py, f64>>,
    days: usize,
    pixels: usize,
    params: Option<BTreeMap<String, f64>>,
    mode: Option<String>,
    state: Option<HashMap<String, PyReadonlyArray1<'py, f64>>>,
) -> PyResult<(
    Bound<'py, PyDict>,
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyDict>,
)> {
    let params = Params::with_overrides(&params.unwrap_or_default()).map_err(model_err)?;
    let opts = Options::for_mode(mode.as_deref()).map_err(model_err)?;
    let roles_of = |given: &HashMap<String, _>, known: &[&str]| -> PyResult<()> {
        match given.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(InvalidInputError::new_err(format!(
                "{k}: not a VegET input (inputs are {})",
                known.join(", ")
            ))),
            None => Ok(()),
        }
    };
    roles_of(&dynamic, &DYNAMIC)?;
    roles_of(&statics, &STATIC)?;
    let dn = days * pixels;
    let d: Vec<&[f64]> = DYNAMIC[..5]
        .iter()
        .map(|r| need(&dynamic, r, dn))
        .collect::<PyResult<_>>()?;
    let tavg_given = dynamic
        .get("tavg")
        .map(|a| slice("tavg", a, dn))
        .transpose()?;
    let s: Vec<&[f64]> = STATIC
        .iter()
        .map(|r| need(&statics, r, pixels))
        .collect::<PyResult<_>>()?;
    let mut st = match &state {
        None => State::new(pixels),
        Some(m) => state_from(m, pixels)?,
    };
    let (daily, st) = guarded(py, || {
        let tavg_owned;
        let tavg = match tavg_given {
            Some(t) => t,
            None => {
                tavg_owned = veget::mean_temperature(d[3], d[4]);
                &tavg_owned
            }
        };
        let statics = Statics {
            whc: s[0],
            fc: s[1],
            sat: s[2],
            interception: s[3],
            water: s[4],
        };
        let stack = Stack {
            pixels,
            days,
            p: d[0],
            eto: d[1],
            ndvi: d[2],
            tmin: d[3],
            tmax: d[4],
            tavg,
        };
        let daily = veget::run_daily(&params, &opts, statics, stack, &mut st);
        Ok((daily, st))
    })?;
    let Daily { values, gap_days } = daily;
    let out = PyDict::new(py);
    for (name, v) in veget::DAILY_NAMES.iter().zip(values) {
        out.set_item(name, PyArray1::from_vec(py, v))?;
    }
    let gaps = PyArray1::from_vec(py, gap_days);
    let state_out = PyDict::new(py);
    state_out.set_item("swf", PyArray1::from_vec(py, st.swf))?;
    state_out.set_item("snwpk", PyArray1::from_vec(py, st.pack))?;
    state_out.set_item("started", PyArray1::from_vec(py, st.started))?;
    state_out.set_item("gap_days", PyArray1::from_vec(py, st.gap_days))?;
    state_out.set_item("gap_run", PyArray1::from_vec(py, st.gap_run))?;
    state_out.set_item("valid", PyArray1::from_vec(py, st.valid))?;
    Ok((out, gaps, state_out))
}

/// A state from `swf` and `snwpk` (and, from a previous `etlake.veget`, `started`, `gap_days`,
/// `gap_run`, `valid` as 0/1 or counts); without those, a resumed state as `resume:` makes one.
fn state_from(m: &HashMap<String, PyReadonlyArray1<'_, f64>>, n: usize) -> PyResult<State> {
    let get = |k: &str| -> PyResult<Option<Vec<f64>>> {
        m.get(k)
            .map(|a| slice(&format!("state {k}"), a, n).map(<[f64]>::to_vec))
            .transpose()
    };
    let need = |k: &str| -> PyResult<Vec<f64>> {
        get(k)?.ok_or_else(|| {
            InvalidInputError::new_err(format!(
                "state: no {k} (a state holds swf and snwpk, as a previous result's state or a \
                 veget_state file)"
            ))
        })
    };
    let mut st = State::resume(need("swf")?, need("snwpk")?);
    let flag = |v: Vec<f64>| v.into_iter().map(|x| x != 0.0).collect::<Vec<bool>>();
    let count = |v: Vec<f64>| v.into_iter().map(|x| x as u32).collect::<Vec<u32>>();
    if let Some(v) = get("started")? {
        st.started = flag(v);
    }
    if let Some(v) = get("valid")? {
        st.valid = flag(v);
    }
    if let Some(v) = get("gap_days")? {
        st.gap_days = count(v);
    }
    if let Some(v) = get("gap_run")? {
        st.gap_run = count(v);
    }
    Ok(st)
}

/// `etlake veget run`: the configuration as YAML/JSON `text` (errors name `object`; relative paths
/// are relative to `base`), run on `index`, then (unless `no_index`) the outputs indexed back with
/// the product-defs of `defs` (`indexer::outputs`, the CLI's step). Returns the run summary as a
/// dict; `indexed` holds the indexing's account (None with `no_index`).
#[pyfunction]
#[pyo3(signature = (index, text, object, base, *, max_memory=None, memory_source=None,
    no_index=false, defs=None))]
#[allow(clippy::too_many_arguments)]
pub fn _veget_run<'py>(
    py: Python<'py>,
    index: &Index,
    text: String,
    object: String,
    base: String,
    max_memory: Option<f64>,
    memory_source: Option<String>,
    no_index: bool,
    defs: Option<PathBuf>,
) -> PyResult<Bound<'py, PyDict>> {
    let cfg = RunConfig::parse(&text, &object, Path::new(&base)).map_err(model_err)?;
    let whose = memory_source.unwrap_or_else(|| "max_memory".into());
    let (report, indexed) = {
        let outcome = run(py, || {
            let mut c = index.catalog.lock().unwrap_or_else(|p| p.into_inner());
            let memory = max_memory.map(|m| (m, whose.as_str()));
            let report = match veget::run_from_index(&mut c, &cfg, memory, &|_, _| {}) {
                Ok(r) => r,
                Err(e) => return Ok(Err(Later::Model(e))),
            };
            if no_index {
                return Ok(Ok((report, None)));
            }
            let defs = indexer::outputs::defs_dir(defs.as_deref());
            let indexed = indexer::outputs::index_outputs(
                &mut c,
                &cfg.output.dir,
                &indexer::outputs::VEGET_PRODUCTS,
                defs,
                &|_| {},
            );
            Ok(match indexed {
                Ok(ir) => Ok((report, Some(ir))),
                Err(e) => Err(Later::Index(e)),
            })
        })?;
        outcome.map_err(Later::into_py)?
    };
    let d = PyDict::new(py);
    let g = &report.geobox;
    d.set_item(
        "period",
        (cfg.period.start.to_string(), cfg.period.end.to_string()),
    )?;
    d.set_item("mode", cfg.mode.as_deref().unwrap_or("strict"))?;
    d.set_item("crs", &g.crs)?;
    d.set_item("shape", (g.height, g.width))?;
    d.set_item("transform", g.transform.to_vec())?;
    d.set_item("days", report.days)?;
    d.set_item("gap_pixel_days", report.gap_pixel_days)?;
    d.set_item("invalid_pixels", report.invalid_pixels)?;
    d.set_item("outside_pixels", report.outside_pixels)?;
    let months = PyList::empty(py);
    for m in &report.months {
        let row = PyDict::new(py);
        row.set_item("month", format!("{}-{:02}", m.month.0, m.month.1))?;
        for (k, v) in [
            ("p", m.p),
            ("eta", m.eta),
            ("srf", m.srf),
            ("dd", m.dd),
            ("intercept", m.intercept),
            ("swf", m.swf),
            ("snwpk", m.snwpk),
        ] {
            row.set_item(k, v)?;
        }
        months.append(row)?;
    }
    d.set_item("months", months)?;
    let b = &report.balance;
    let balance = PyDict::new(py);
    balance.set_item("checked", b.checked)?;
    balance.set_item("failed", b.failed)?;
    balance.set_item("max_residual", b.max_residual)?;
    balance.set_item("not_checked", b.not_checked)?;
    d.set_item("balance", balance)?;
    d.set_item("output_dir", cfg.output.dir.display().to_string())?;
    let files: Vec<String> = report
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    d.set_item("files", files)?;
    match indexed {
        None => d.set_item("indexed", py.None())?,
        Some(ir) => {
            let i = PyDict::new(py);
            i.set_item("run", ir.run)?;
            let counts = PyDict::new(py);
            for (k, v) in &ir.counts {
                counts.set_item(*k, *v)?;
            }
            i.set_item("counts", counts)?;
            i.set_item("problems", ir.problems.clone())?;
            i.set_item("ok", ir.ok())?;
            d.set_item("indexed", i)?;
        }
    }
    Ok(d)
}

/// An error found with the GIL released, turned into an exception once it is held again.
enum Later {
    Model(model::Error),
    Index(indexer::Error),
}

impl Later {
    fn into_py(self) -> PyErr {
        match self {
            Later::Model(e) => model_err(e),
            Later::Index(e) => EtlakeError::new_err(e.to_string()),
        }
    }
}
