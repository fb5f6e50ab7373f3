//! A VegET run driven by the index, cut into tiles of whole rows: the inputs are searched once, the
//! output files made on the whole grid, then each tile runs the whole period (its inputs loaded month
//! by month, state carried) and writes its rows of every file in place, tiles in parallel on the
//! cores with memory bounded by the tile size. Finished tiles are recorded (a restart skips them) and
//! may be shared between processes (`--tile i/N`); the run is finished (quicklooks, COGs, summary)
//! once every tile is done.
use super::accumulate::TileAcc;
use super::balance::{Balance, MonthRow};
use super::config::RunConfig;
use super::day::step_sums;
use super::inputs::{Input, Prepared};
use super::ledger::{month_rows, Ledger, Opened, TileRecord};
use super::outputs::Files;
use super::tiling::{self, Share, Tiling};
use super::{step, Day, Outputs, State, Statics};
use crate::stack::{grid, source::Stager};
use crate::{Error, GeoBox, Result};
use catalog_schema::Catalog;
use chrono::{Datelike, NaiveDate};
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The model grid.
    pub geobox: GeoBox,
    /// Days run.
    pub days: usize,
    /// Pixel-days held because a dynamic input was missing (strict mode).
    pub gap_pixel_days: u64,
    /// Pixels of the area invalid at the end (missing statics or gaps too long).
    pub invalid_pixels: usize,
    /// Pixels of the grid outside the area (masked).
    pub outside_pixels: usize,
    /// Monthly area means.
    pub months: Vec<MonthRow>,
    /// The water-balance check.
    pub balance: Balance,
    /// Files written (daily, monthly, annual NetCDF; state; PNG; COGs).
    pub files: Vec<PathBuf>,
    /// The tiling.
    pub tiling: Tiling,
    /// Tiles run by this call (the others were done before, or by other processes).
    pub tiles_run: usize,
    /// Pixel-days run by this call, and the seconds its tiles took (wall clock).
    pub pixel_days: (u64, f64),
}

/// How to run: memory, tiling, which share of the tiles, whether to start over.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions<'a> {
    /// Memory the run may use (MiB, what sets it); None: unbounded.
    pub memory: Option<(f64, &'a str)>,
    /// Rows per tile (default: from the memory and the cores).
    pub tile_rows: Option<usize>,
    /// This process's share of the tiles.
    pub share: Share,
    /// Forget a recorded run of another configuration (and its finished tiles) and start over.
    pub restart: bool,
}

impl Default for RunOptions<'_> {
    fn default() -> Self {
        RunOptions {
            memory: None,
            tile_rows: None,
            share: Share::ALL,
            restart: false,
        }
    }
}

/// What [`run_tiles`] ended with.
#[derive(Debug)]
pub enum Outcome {
    /// Every tile is done and the run finished.
    Finished(Box<RunReport>),
    /// This share is done; other tiles remain (for other processes, then `veget finish`).
    Partial {
        /// Tiles done in all.
        done: usize,
        /// Tiles in all.
        tiles: usize,
        /// Tiles run by this call.
        ran: usize,
        /// Pixel-days run by this call, and the seconds it took.
        pixel_days: (u64, f64),
    },
}

/// Progress callback: (pixel-days done, pixel-days this call runs in all), from any thread.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// The model grid of a run.
pub fn model_grid(catalog: &mut Catalog, cfg: &RunConfig) -> Result<GeoBox> {
    let g = &cfg.grid;
    let lonlat = cfg.area.bbox;
    match (&g.like, &g.crs, g.resolution) {
        (Some(like), _, _) => grid::like_product(catalog, like, lonlat),
        (None, Some(crs), Some(r)) => grid::for_lonlat_box(crs, lonlat, (r, -r), g.align),
        _ => Err(Error::Request(
            "grid needs like, or crs and resolution".into(),
        )),
    }
}

/// Runs VegET as configured, writing outputs under `cfg.output.dir`; a grid needing more memory than
/// `memory` = (MiB, what sets it) for one row is refused first. The whole run in this process: see
/// [`run_tiles`].
pub fn run(
    catalog: &mut Catalog,
    cfg: &RunConfig,
    memory: Option<(f64, &str)>,
    progress: Progress<'_>,
) -> Result<RunReport> {
    let o = RunOptions {
        memory,
        ..Default::default()
    };
    match run_tiles(catalog, cfg, &o, progress)? {
        Outcome::Finished(r) => Ok(*r),
        Outcome::Partial { done, tiles, .. } => Err(Error::Request(format!(
            "{done} of {tiles} tiles done: run `etlake veget finish` when every tile is"
        ))),
    }
}

/// Everything a tile needs, shared by all tiles.
struct Shared<'a> {
    cfg: &'a RunConfig,
    geobox: &'a GeoBox,
    tiling: Tiling,
    prepared: &'a Prepared,
    files: &'a Files,
    stager: &'a Stager,
    params: super::Params,
    opts: super::Options,
    done: &'a AtomicU64,
    total: u64,
    progress: Progress<'a>,
}

/// The run as recorded in its output folder: grid, inputs, manifest, tiling and files.
struct Opening {
    geobox: GeoBox,
    prepared: Prepared,
    ledger: Ledger,
    hash: String,
    tiling: Tiling,
    files: Files,
}

/// MiB of decoded source windows a run keeps for its tiles to share (the tiles running at once read
/// the same days of the same files): an eighth of the memory allowed, at most 256 MiB.
fn window_budget(memory: Option<(f64, &str)>) -> f64 {
    match memory {
        Some((m, _)) if m.is_finite() => (m / 8.0).min(256.0),
        _ => 256.0,
    }
}

fn open(
    catalog: &mut Catalog,
    cfg: &RunConfig,
    tile_rows: Option<usize>,
    memory: Option<(f64, &str)>,
    restart: bool,
) -> Result<(Opening, usize)> {
    let geobox = model_grid(catalog, cfg)?;
    let threads = rayon::current_num_threads();
    // The tiles are sized on the memory left beside the windows they share.
    let budget = window_budget(memory);
    let whose =
        memory.map(|(_, w)| format!("{w} (less {budget:.1} MiB of windows the tiles share)"));
    let memory = memory.map(|(m, _)| (m - budget, whose.as_deref().unwrap_or_default()));
    let (tiling, _) = tiling::plan(geobox.width, geobox.height, tile_rows, memory, threads)?;
    let months = tiling::months(cfg.period.start, cfg.period.end);
    let prepared = Prepared::search(catalog, cfg, &geobox, &months)?;
    let ledger = Ledger::at(&cfg.output);
    let wanted = Ledger::manifest(cfg, &geobox, &prepared.dataset_ids(), tiling)?;
    let manifest = match ledger.open(wanted, tile_rows.is_some(), restart)? {
        Opened::Fresh(m) | Opened::Same(m) => m,
    };
    let tiling = manifest.tiling;
    let parallel = tiling::parallel(&tiling, memory, threads).ok_or_else(|| {
        Error::Request(format!(
            "{} holds a run cut into tiles of {} rows (~{:.1} MiB each), more than the {:.1} MiB              {}: allow more memory, or --restart with smaller tiles",
            ledger.dir().display(),
            tiling.rows,
            tiling.tile_mib(),
            memory.map_or(f64::INFINITY, |m| m.0),
            memory.map_or("allowed", |m| m.1),
        ))
    })?;
    let files = Files::ensure(
        &geobox,
        &cfg.output,
        (cfg.period.start, cfg.period.end),
        ledger.dir(),
    )?;
    Ok((
        Opening {
            geobox,
            prepared,
            ledger,
            hash: manifest.hash,
            tiling,
            files,
        },
        parallel,
    ))
}

/// Runs this process's share of the tiles not yet done (in parallel), recording each as it finishes,
/// and finishes the run when every tile is done. Failed tiles are reported together (tile, input,
/// date and file) after the others have run; what they left is redone by the next run.
pub fn run_tiles(
    catalog: &mut Catalog,
    cfg: &RunConfig,
    o: &RunOptions<'_>,
    progress: Progress<'_>,
) -> Result<Outcome> {
    let params = cfg.params()?;
    let opts = cfg.options()?;
    let (run, parallel) = open(catalog, cfg, o.tile_rows, o.memory, o.restart)?;
    let count = run.tiling.count();
    let todo: Vec<usize> = o
        .share
        .tiles(count)
        .into_iter()
        .filter(|&k| run.ledger.done(k, &run.hash).is_none())
        .collect();
    let days = (cfg.period.end - cfg.period.start).num_days() as u64 + 1;
    let total: u64 = todo
        .iter()
        .map(|&k| (run.tiling.rows_of(k).1 * run.tiling.width) as u64 * days)
        .sum();
    let stager = Stager::keeping_open((window_budget(o.memory) * (1u64 << 20) as f64) as usize)?;
    let done = AtomicU64::new(0);
    let shared = Shared {
        cfg,
        geobox: &run.geobox,
        tiling: run.tiling,
        prepared: &run.prepared,
        files: &run.files,
        stager: &stager,
        params,
        opts,
        done: &done,
        total,
        progress,
    };
    let started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(parallel)
        .build()
        .map_err(|e| Error::Request(format!("thread pool: {e}")))?;
    let results: Vec<(usize, Result<TileRecord>)> = pool.install(|| {
        todo.par_iter()
            .with_max_len(1)
            .map(|&k| {
                let r = run_tile(&shared, k, &run.hash).and_then(|rec| {
                    run.ledger.record(&rec)?;
                    Ok(rec)
                });
                (k, r)
            })
            .collect()
    });
    drop(pool);
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(w) = stager.windows() {
        let (hits, reads) = w.counts();
        tracing::info!(hits, reads, "source windows shared between tiles");
    }
    let failed: Vec<(usize, Error)> = results
        .into_iter()
        .filter_map(|(k, r)| r.err().map(|e| (k, e)))
        .collect();
    if !failed.is_empty() {
        return Err(tile_failures(&run.tiling, failed, todo.len()));
    }
    let ran = todo.len();
    let pixel_days = (done.load(Ordering::Relaxed), elapsed);
    let records: Vec<Option<TileRecord>> =
        (0..count).map(|k| run.ledger.done(k, &run.hash)).collect();
    let finished = records.iter().filter(|r| r.is_some()).count();
    // A share of several processes leaves finishing to `veget finish`, run once.
    if finished < count || o.share.count > 1 {
        return Ok(Outcome::Partial {
            done: finished,
            tiles: count,
            ran,
            pixel_days,
        });
    }
    let records: Vec<TileRecord> = records.into_iter().flatten().collect();
    finish_run(cfg, &run, &records, ran, pixel_days).map(|r| Outcome::Finished(Box::new(r)))
}

/// `etlake veget finish`: checks that every tile of the run recorded in the output folder is done
/// (under this configuration), then writes the quicklooks and COGs and returns the run's summary.
pub fn finish(catalog: &mut Catalog, cfg: &RunConfig) -> Result<RunReport> {
    let ledger = Ledger::at(&cfg.output);
    if ledger.existing()?.is_none() {
        return Err(Error::Request(format!(
            "no run is recorded in {}: run `etlake veget run` (or its --tile shares) first",
            cfg.output.dir.display()
        )));
    }
    let (run, _) = open(catalog, cfg, None, None, false)?;
    let count = run.tiling.count();
    let mut records = Vec::new();
    let mut missing = Vec::new();
    for k in 0..count {
        match run.ledger.done(k, &run.hash) {
            Some(r) => records.push(r),
            None => missing.push(k),
        }
    }
    if !missing.is_empty() {
        return Err(Error::Request(format!(
            "{} of {count} tiles are not done (tiles {}): run `etlake veget run` (with the same              --tile shares) until they are",
            missing.len(),
            ranges(&missing)
        )));
    }
    finish_run(cfg, &run, &records, 0, (0, 0.0))
}

fn finish_run(
    cfg: &RunConfig,
    run: &Opening,
    records: &[TileRecord],
    tiles_run: usize,
    pixel_days: (u64, f64),
) -> Result<RunReport> {
    let mut files = run.files.paths();
    files.extend(run.files.finish()?);
    let mut balance = Balance::default();
    for r in records {
        balance.add(&r.balance);
    }
    Ok(RunReport {
        geobox: run.geobox.clone(),
        days: (cfg.period.end - cfg.period.start).num_days() as usize + 1,
        gap_pixel_days: records.iter().map(|r| r.gap_pixel_days).sum(),
        invalid_pixels: records.iter().map(|r| r.invalid_pixels).sum(),
        outside_pixels: records.iter().map(|r| r.outside_pixels).sum(),
        months: month_rows(records),
        balance,
        files,
        tiling: run.tiling,
        tiles_run,
        pixel_days,
    })
}

/// "0–3, 7, 9–10".
fn ranges(ks: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ks.len() {
        let mut j = i;
        while j + 1 < ks.len() && ks[j + 1] == ks[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            ks[i].to_string()
        } else {
            format!("{}–{}", ks[i], ks[j])
        });
        i = j + 1;
    }
    out.join(", ")
}

/// Failed tiles as one error: tiles failing for the same reason listed together.
fn tile_failures(tiling: &Tiling, failed: Vec<(usize, Error)>, ran: usize) -> Error {
    let mut by: Vec<(String, Vec<usize>)> = Vec::new();
    for (k, e) in failed.iter() {
        let m = e.to_string();
        match by.iter_mut().find(|(x, _)| *x == m) {
            Some((_, ks)) => ks.push(*k),
            None => by.push((m, vec![*k])),
        }
    }
    let lines: Vec<String> = by
        .iter()
        .map(|(m, ks)| format!("tile(s) {} of {}: {m}", ranges(ks), tiling.count()))
        .collect();
    Error::Request(format!(
        "{} of the {ran} tiles run failed (the others' outputs are written and recorded; running          again redoes only what is missing):\n  {}",
        failed.len(),
        lines.join("\n  ")
    ))
}

/// One tile through the whole period: its statics, then month by month its inputs and the kernel
/// day after day, its rows of every file written as it goes.
fn run_tile(sh: &Shared<'_>, k: usize, hash: &str) -> Result<TileRecord> {
    let started = Instant::now();
    let (row0, rows) = sh.tiling.rows_of(k);
    let tile = sh.geobox.rows(row0, rows);
    let n = tile.width * tile.height;
    let cfg = sh.cfg;
    let during = |what: String| move |e: Error| Error::Request(format!("{what}: {e}"));
    let mut statics: Vec<Vec<f64>> = Vec::new();
    for input in &sh.prepared.statics {
        let mut v = input
            .load::<f64>(&tile, &[cfg.period.start], sh.stager)
            .map_err(during(format!("rows {row0}–{}", row0 + rows - 1)))?;
        if matches!(input.role, "whc" | "field_capacity" | "saturation") {
            super::mask_negative_soil(&mut v);
        }
        statics.push(v);
    }
    // Pixels whose centre is outside the area are masked (spec §7.3): missing statics make them nodata.
    let outside = outside_area(sh.geobox, cfg.area.bbox, row0, rows)?;
    for v in statics.iter_mut().take(3) {
        for (x, out) in v.iter_mut().zip(&outside) {
            if *out {
                *x = f64::NAN;
            }
        }
    }
    let masked = outside.iter().filter(|o| **o).count();
    let st = Statics {
        whc: &statics[0],
        fc: &statics[1],
        sat: &statics[2],
        interception: &statics[3],
        water: &statics[4],
    };
    let mut state = match &cfg.resume {
        Some(path) => super::outputs::read_state(path, sh.geobox, row0, &tile)?,
        None => State::new(n),
    };
    let mut acc = TileAcc::new(sh.files, &tile, row0, &state, st.whc);
    let daily = cfg.output.daily.names();
    // Without daily files but ETa's, the kernel adds into the sums itself and leaves the day's ETa.
    let fused = daily.is_empty() || daily == ["etasw"];
    let mut out = Outputs::new(n);
    // Where the tile's time goes (logged at info): reading and aligning inputs, the kernel, and the
    // outputs (sums and daily files).
    let (mut t_load, mut t_kernel, mut t_out) = (0.0, 0.0, 0.0);
    for (days, inputs) in &sh.prepared.months {
        let month = format!(
            "rows {row0}–{}, {}-{:02}",
            row0 + rows - 1,
            days[0].year(),
            days[0].month()
        );
        let t = Instant::now();
        // The dynamic inputs reach the kernel as f32 (see `super::Input`), each rounded once; a
        // Tavg not configured is computed from the f64 temperatures before they are rounded.
        let derive_tavg = inputs.len() == 5;
        let mut dynamic: Vec<Vec<f32>> = Vec::with_capacity(6);
        let mut temperatures: Vec<Vec<f64>> = Vec::new();
        for (k, i) in inputs.iter().enumerate() {
            if derive_tavg && (k == 3 || k == 4) {
                let v: Vec<f64> = load_input(i, &tile, days, sh.stager, &month)?;
                dynamic.push(v.iter().map(|&x| x as f32).collect());
                temperatures.push(v);
            } else {
                dynamic.push(load_input(i, &tile, days, sh.stager, &month)?);
            }
        }
        if derive_tavg {
            let tavg = super::mean_temperature(&temperatures[0], &temperatures[1]);
            dynamic.push(tavg.iter().map(|&x| x as f32).collect());
        }
        drop(temperatures);
        let tavg = &dynamic[5];
        t_load += t.elapsed().as_secs_f64();
        for (t, date) in days.iter().enumerate() {
            let r = t * n..(t + 1) * n;
            let d = Day {
                p: &dynamic[0][r.clone()],
                eto: &dynamic[1][r.clone()],
                ndvi: &dynamic[2][r.clone()],
                tmin: &dynamic[3][r.clone()],
                tmax: &dynamic[4][r.clone()],
                tavg: &tavg[r],
            };
            let t0 = Instant::now();
            acc.begin_day(*date)?;
            let t1 = Instant::now();
            t_out += (t1 - t0).as_secs_f64();
            if !fused {
                step(&sh.params, &sh.opts, st, d, &mut state, &mut out);
                let t2 = Instant::now();
                acc.write_daily(&daily, &out, &state)?;
                acc.add(&d, st.water, &out, 0..n);
                t_kernel += (t2 - t1).as_secs_f64();
                t_out += t2.elapsed().as_secs_f64();
            } else {
                // The kernel adds into the sums itself (its time counted as the kernel's).
                step_sums(&sh.params, &sh.opts, st, d, &mut state, &mut out, &mut acc);
                let t2 = Instant::now();
                t_kernel += (t2 - t1).as_secs_f64();
                if !daily.is_empty() {
                    acc.write_daily(&daily, &out, &state)?;
                    t_out += t2.elapsed().as_secs_f64();
                }
            }
            acc.end_day(*date, &state);
        }
        let now = sh
            .done
            .fetch_add((n * days.len()) as u64, Ordering::Relaxed)
            + (n * days.len()) as u64;
        (sh.progress)(now, sh.total);
    }
    let t = Instant::now();
    let (months, balance) = acc.finish(&state)?;
    t_out += t.elapsed().as_secs_f64();
    tracing::info!(
        tile = k,
        rows,
        load_s = t_load,
        kernel_s = t_kernel,
        output_s = t_out,
        "veget tile done"
    );
    Ok(TileRecord {
        tile: k,
        rows: (row0, rows),
        hash: hash.to_string(),
        months,
        balance,
        gap_pixel_days: state.gap_days.iter().map(|&g| g as u64).sum(),
        invalid_pixels: state.valid.iter().filter(|v| !**v).count() - masked,
        outside_pixels: masked,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Input `i` over `days` on `tile` at precision `T`, an error naming the tile's rows and month.
fn load_input<T: super::Input>(
    i: &Input,
    tile: &GeoBox,
    days: &[NaiveDate],
    stager: &Stager,
    month: &str,
) -> Result<Vec<T>> {
    let t = Instant::now();
    let r = i
        .load(tile, days, stager)
        .map_err(|e| Error::Request(format!("{month}: {e}")));
    tracing::debug!(role = i.role, s = t.elapsed().as_secs_f64(), "input loaded");
    r
}

/// Whether each pixel centre of rows `row0 .. row0 + rows` of `geobox` falls outside the lon/lat box
/// (computed from the whole grid's transform, so a tile's pixels get the whole grid's answer).
fn outside_area(geobox: &GeoBox, lonlat: [f64; 4], row0: usize, rows: usize) -> Result<Vec<bool>> {
    let w = geobox.width;
    let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = (0..w * rows)
        .map(|i| geobox.corner((i % w) as f64 + 0.5, (row0 + i / w) as f64 + 0.5))
        .unzip();
    let tr =
        gdal::spatial_ref::CoordTransform::new(&grid::srs(&geobox.crs)?, &grid::srs("EPSG:4326")?)
            .map_err(|e| Error::Grid(format!("{} → EPSG:4326: {e}", geobox.crs)))?;
    tr.transform_coords(&mut xs, &mut ys, &mut [])
        .map_err(|e| Error::Grid(format!("pixel centres to lon/lat: {e}")))?;
    let [w0, s0, e0, n0] = lonlat;
    Ok(xs
        .iter()
        .zip(&ys)
        .map(|(&x, &y)| !(x >= w0 && x <= e0 && y >= s0 && y <= n0))
        .collect())
}
