//! What a VegET run keeps and writes: daily files, monthly and annual totals (CF NetCDF named for the
//! `veget_*` recognition templates), the end state for resuming, the per-pixel water balance check.
//! On a filesystem the files are made on the whole grid first and each tile writes its rows of every
//! file in place; on S3 (no writes in place) each tile writes its rows as COGs of its own, one per
//! variable, which are indexed as datasets of their own (`veget_*_cog` recognition templates).
use super::config::OutputSpec;
use super::State;
use crate::output::{banded, cogs_from_netcdf, write_cog_at, write_png, NetcdfPlaced, Palette};
use crate::stack::Packing;
use crate::{Error, GeoBox, Layer, Result, Stack};
use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use std::path::{Path, PathBuf};

/// The monthly files' variables (the first `MONTHLY_PRODUCT`; `p` and `intercept` feed the summary).
pub(super) const MONTHLY: &[&str] = &["etasw", "dd", "srf", "etc", "netet", "p", "intercept"];
pub(super) const ANNUAL: &[&str] = &[
    "rain",
    "intercept",
    "swe",
    "etasw",
    "dd",
    "srf",
    "etc",
    "netet",
];
/// Monthly variables of the `veget_monthly` product (the others feed the summary table).
pub(super) const MONTHLY_PRODUCT: usize = 5;

fn float_layer(name: &str, units: &str, data: Vec<f64>) -> Layer {
    Layer {
        name: name.into(),
        dtype: "float32".into(),
        nodata: Some(f64::NAN),
        units: Some(units.into()),
        packing: Packing::NONE,
        unpacked: None,
        data,
    }
}

fn count_layer(name: &str, data: Vec<f64>) -> Layer {
    Layer {
        name: name.into(),
        dtype: "int16".into(),
        nodata: Some(-1.0),
        units: Some("day".into()),
        packing: Packing::NONE,
        unpacked: None,
        data,
    }
}

/// Full precision, so a run resumed from a state equals an uninterrupted one.
pub(super) fn exact_layer(name: &str, data: Vec<f64>) -> Layer {
    Layer {
        dtype: "float64".into(),
        ..float_layer(name, "mm", data)
    }
}

/// float32 layers `names` (mm), then the int16 day count `count`, with `data` in that order (none:
/// a header without values).
pub(super) fn layers(names: &[&str], count: &str, data: Option<Vec<Vec<f64>>>) -> Vec<Layer> {
    let mut data = data.unwrap_or_default().into_iter();
    let mut out: Vec<Layer> = names
        .iter()
        .map(|v| float_layer(v, "mm", data.next().unwrap_or_default()))
        .collect();
    out.push(count_layer(count, data.next().unwrap_or_default()));
    out
}

fn stack(product: &str, geobox: &GeoBox, date: NaiveDate, layers: Vec<Layer>) -> Stack {
    let t = Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default());
    Stack {
        product: product.into(),
        geobox: geobox.clone(),
        times: vec![t],
        sources: vec![vec![]],
        spans: vec![(t, t)],
        layers,
    }
}

/// Where one output's rows go.
enum Place {
    /// A CF NetCDF file on the whole grid, written in place.
    Netcdf(NetcdfPlaced),
    /// One COG per tile and variable: `{prefix}_r{first row:06}_{variable}.tif` (a GDAL path).
    Cogs(String),
    /// Not kept (a run on S3 keeps no whole-run ETa for a quicklook).
    Nowhere,
}

/// One output: its header on the whole grid and where its rows go.
pub(super) struct File {
    header: Stack,
    place: Place,
}

impl File {
    fn ensure(dir: &Path, name: String, header: Stack) -> Result<File> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Write {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let placed = NetcdfPlaced::ensure(&dir.join(name), &header)?;
        Ok(File {
            header,
            place: Place::Netcdf(placed),
        })
    }

    /// The NetCDF file on disk (None on S3).
    fn netcdf(&self) -> Option<&Path> {
        match &self.place {
            Place::Netcdf(p) => Some(p.path()),
            _ => None,
        }
    }

    /// Writes a tile's rows (one step of every layer, in the header's order), flushed to disk or
    /// uploaded.
    pub(super) fn write(&self, tile: &GeoBox, row0: usize, layers: Vec<Layer>) -> Result<()> {
        self.write_rows(tile, row0, layers, true)
    }

    /// [`File::write`] left to the system to flush when it likes (a daily file: a tile's days are
    /// flushed together by [`File::sync`] before the tile is recorded, not one by one).
    pub(super) fn write_lazily(
        &self,
        tile: &GeoBox,
        row0: usize,
        layers: Vec<Layer>,
    ) -> Result<()> {
        self.write_rows(tile, row0, layers, false)
    }

    /// Flushes what was written lazily to disk.
    pub(super) fn sync(&self) -> Result<()> {
        match &self.place {
            Place::Netcdf(placed) => placed.sync(),
            _ => Ok(()),
        }
    }

    fn write_rows(
        &self,
        tile: &GeoBox,
        row0: usize,
        layers: Vec<Layer>,
        durable: bool,
    ) -> Result<()> {
        let band = Stack {
            geobox: tile.clone(),
            layers,
            ..self.header.clone()
        };
        match &self.place {
            Place::Netcdf(placed) => placed.write_rows(&band, row0, durable),
            Place::Cogs(prefix) => {
                for l in &band.layers {
                    write_cog_at(
                        &format!("{prefix}_r{row0:06}_{}.tif", l.name),
                        &band,
                        &l.name,
                        0,
                    )?;
                }
                Ok(())
            }
            Place::Nowhere => Ok(()),
        }
    }
}

/// Every file a run writes, made on the whole grid before any tile writes its rows into them:
/// daily files, monthly and annual totals, the end state, and the run's total ETa (beside the
/// ledger, for the quicklook).
pub struct Files {
    geobox: GeoBox,
    pub(super) spec: OutputSpec,
    start: NaiveDate,
    end: NaiveDate,
    pub(super) daily: Vec<File>,
    pub(super) monthly: Vec<((i32, u32), File)>,
    pub(super) annual: Vec<(i32, File)>,
    pub(super) state: File,
    pub(super) eta_total: File,
}

impl Files {
    /// Makes sure of every file of a run from `start` to `end` on `geobox` (created, or kept when
    /// already there with the same header); `work` holds the run's own files.
    pub fn ensure(
        geobox: &GeoBox,
        spec: &OutputSpec,
        (start, end): (NaiveDate, NaiveDate),
        work: &Path,
    ) -> Result<Files> {
        let dir = &spec.dir;
        // On S3 each output is a prefix its tiles' COGs are named from.
        let remote = spec.on_s3();
        let make = |sub: &str, name: String, header: Stack| -> Result<File> {
            match &remote {
                Some(r) => Ok(File {
                    header,
                    place: Place::Cogs(format!("{r}/{sub}/{name}")),
                }),
                None => File::ensure(&dir.join(sub), format!("{name}.nc"), header),
            }
        };
        let daily_names = spec.daily.names();
        let mut daily = Vec::new();
        let mut monthly: Vec<((i32, u32), File)> = Vec::new();
        let mut annual: Vec<(i32, File)> = Vec::new();
        let mut d = start;
        while d <= end {
            if !daily_names.is_empty() {
                // Daily files count gap days so far (the state's), not valid days.
                let l = layers(&daily_names, "gap_days", None);
                daily.push(make(
                    "daily",
                    format!("veget_daily_{}", d.format("%Y%m%d")),
                    stack("veget_daily", geobox, d, l),
                )?);
            }
            let (y, m) = (d.year(), d.month());
            if monthly.last().is_none_or(|(k, _)| *k != (y, m)) {
                let first = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default();
                monthly.push((
                    (y, m),
                    make(
                        "monthly",
                        format!("veget_monthly_{y}{m:02}"),
                        stack(
                            "veget_monthly",
                            geobox,
                            first,
                            layers(&MONTHLY[..MONTHLY_PRODUCT], "valid_days", None),
                        ),
                    )?,
                ));
            }
            if annual.last().is_none_or(|(k, _)| *k != y) {
                let first = NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or_default();
                annual.push((
                    y,
                    make(
                        "annual",
                        format!("veget_annual_{y}"),
                        stack(
                            "veget_annual",
                            geobox,
                            first,
                            layers(ANNUAL, "valid_days", None),
                        ),
                    )?,
                ));
            }
            d += chrono::Duration::days(1);
        }
        let state = make(
            "state",
            format!("veget_state_{}", end.format("%Y%m%d")),
            stack(
                "veget_state",
                geobox,
                end,
                vec![
                    exact_layer("swf", Vec::new()),
                    exact_layer("snwpk", Vec::new()),
                ],
            ),
        )?;
        let total = stack(
            "veget_eta_total",
            geobox,
            start,
            vec![exact_layer("etasw", Vec::new())],
        );
        let eta_total = match remote {
            Some(_) => File {
                header: total,
                place: Place::Nowhere,
            },
            None => File::ensure(work, "eta_total.nc".into(), total)?,
        };
        Ok(Files {
            geobox: geobox.clone(),
            spec: spec.clone(),
            start,
            end,
            daily,
            monthly,
            annual,
            state,
            eta_total,
        })
    }

    /// The output files (daily, monthly, annual, state); on S3 their folders (`s3://…/monthly/`).
    pub fn paths(&self) -> Vec<PathBuf> {
        if self.spec.on_s3().is_some() {
            let dir = self.spec.dir.to_string_lossy();
            let dir = dir.trim_end_matches('/');
            let subs = ["daily", "monthly", "annual", "state"];
            return subs
                .iter()
                .filter(|s| **s != "daily" || !self.daily.is_empty())
                .map(|s| PathBuf::from(format!("{dir}/{s}/")))
                .collect();
        }
        let mut out: Vec<PathBuf> = self
            .daily
            .iter()
            .chain(self.monthly.iter().map(|(_, f)| f))
            .chain(self.annual.iter().map(|(_, f)| f))
            .filter_map(|f| f.netcdf().map(Path::to_path_buf))
            .collect();
        out.extend(self.state.netcdf().map(Path::to_path_buf));
        out
    }

    /// Once every tile is written: the quicklooks (each year's ETa, `eta_{y}.png`, and the run's,
    /// `eta_{start}_{end}.png`) read back from the files, and the COGs of the monthly and annual
    /// totals when asked for. Returns the files written. On S3 the outputs are COGs already and no
    /// quicklook is drawn (that would read the whole grid back).
    pub fn finish(&self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        if self.eta_total.netcdf().is_none() {
            return Ok(out);
        }
        let size = (self.geobox.width, self.geobox.height);
        let png = |path: PathBuf, file: &File, layer: &str, title: String| -> Result<PathBuf> {
            let nc = file
                .netcdf()
                .ok_or_else(|| Error::Request("no file to draw".into()))?;
            let (values, w, h) = banded::read_step(nc, layer, 0, size, 4096)?;
            write_png(
                &path,
                &values,
                w,
                h,
                Some(f64::NAN),
                &title,
                Palette::Viridis,
            )?;
            Ok(path)
        };
        if self.spec.cogs {
            for (sub, file) in self
                .monthly
                .iter()
                .map(|(_, f)| ("monthly", f))
                .chain(self.annual.iter().map(|(_, f)| ("annual", f)))
            {
                let dir = self.spec.dir.join(sub).join("cogs");
                std::fs::create_dir_all(&dir).map_err(|e| Error::Write {
                    path: dir.display().to_string(),
                    message: e.to_string(),
                })?;
                let Some(nc) = file.netcdf() else { continue };
                for l in &file.header.layers {
                    out.extend(cogs_from_netcdf(&dir, nc, &file.header, &l.name)?);
                }
            }
        }
        for (y, file) in &self.annual {
            out.push(png(
                self.spec.dir.join(format!("eta_{y}.png")),
                file,
                "etasw",
                format!("VegET actual ET {y} (mm)"),
            )?);
        }
        let (start, end) = (self.start, self.end);
        out.push(png(
            self.spec.dir.join(format!(
                "eta_{}_{}.png",
                start.format("%Y%m%d"),
                end.format("%Y%m%d")
            )),
            &self.eta_total,
            "etasw",
            format!("VegET actual ET {start} to {end} (mm)"),
        )?);
        Ok(out)
    }
}

pub(super) fn masked(v: &[f64], days: &[f64]) -> Vec<f64> {
    v.iter()
        .zip(days)
        .map(|(x, d)| if *d > 0.0 { *x } else { f64::NAN })
        .collect()
}

/// Reads rows `row0 .. row0 + tile height` of a saved state (`veget_state_*.nc`) for a run on
/// `geobox`.
pub fn read_state(path: &Path, geobox: &GeoBox, row0: usize, tile: &GeoBox) -> Result<State> {
    let read = |var: &str| -> Result<Vec<f64>> {
        let p = format!("NETCDF:\"{}\":{var}", path.display());
        let fail = |m: String| Error::Read {
            object: p.clone(),
            message: m,
        };
        let ds = gdal::Dataset::open(&p).map_err(|e| fail(e.to_string()))?;
        let (w, h) = ds.raster_size();
        if (w, h) != (geobox.width, geobox.height) {
            return Err(fail(format!(
                "state grid is {w}×{h}, the run's {}×{}",
                geobox.width, geobox.height
            )));
        }
        let b = ds.rasterband(1).map_err(|e| fail(e.to_string()))?;
        let buf = b
            .read_as::<f64>((0, row0 as isize), (w, tile.height), (w, tile.height), None)
            .map_err(|e| fail(e.to_string()))?;
        Ok(buf.into_shape_and_vec().1)
    };
    Ok(State::resume(read("swf")?, read("snwpk")?))
}
