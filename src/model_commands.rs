//! Model commands: `stack` (an aligned stack from the index, written as CF NetCDF, COGs, PNG) and
//! `veget run` (the model over the index, outputs written, checked and indexed back).
//! Each parses its options into a `model` request, calls the library and prints a short account.
use crate::cli::{ConnArgs, StackArgs, VegetFinishArgs, VegetRunArgs};
use crate::commands::{open_index, parse_bbox, Success};
use crate::index_command::defs_dir;
use crate::report::print_report;
use catalog_schema::search::parse_time_range;
use catalog_schema::Catalog;
use model::stack::{self, grid, GroupBy, LoadRequest, Resampling};
use model::{output, Error, GeoBox, Result};
use std::collections::HashMap;
use std::time::Instant;

fn pair(flag: &str, s: &str, negate_y: bool) -> Result<(f64, f64)> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Request(format!("{flag} {s}: expected a number or X,Y")))?;
    match v.as_slice() {
        [r] if negate_y => Ok((*r, -r)),
        [x, y] => Ok((*x, *y)),
        _ => Err(Error::Request(format!(
            "{flag} {s}: expected a number or X,Y"
        ))),
    }
}

/// The output grid of a stack request: a "like" product's dataset grid, or CRS/resolution/align from
/// the options, falling back on the product's `load` hints.
pub fn output_grid(
    c: &mut Catalog,
    product: &str,
    lonlat: [f64; 4],
    crs: Option<&str>,
    resolution: Option<&str>,
    align: Option<&str>,
    like: Option<&str>,
) -> Result<GeoBox> {
    if let Some(like) = like {
        return grid::like_product(c, like, lonlat);
    }
    let res = resolution
        .map(|r| pair("--resolution", r, true))
        .transpose()?;
    let align = align.map(|a| pair("--align", a, false)).transpose()?;
    grid::for_product(c, product, lonlat, crs, res, align)
}

/// GDAL set up for reading the lake: its messages go to `tracing` (etlake reports failures itself),
/// and `/vsis3/` reaches the endpoint the AWS environment names (`AWS_ENDPOINT_URL_S3`,
/// `AWS_ENDPOINT_URL`), path-style, as `etlake index --endpoint-url` does.
fn configure_gdal() -> Result<()> {
    indexer::raster::configure_for_indexing();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let opts = indexer::s3::S3Options {
        endpoint_url: env("AWS_ENDPOINT_URL_S3").or_else(|| env("AWS_ENDPOINT_URL")),
        region: env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")),
        ..Default::default()
    };
    indexer::s3::configure_gdal(&opts).map_err(|e| Error::Request(e.to_string()))
}

pub fn stack(conn: &ConnArgs, a: &StackArgs) -> Result<Success> {
    let started = Instant::now();
    configure_gdal()?;
    let lonlat = parse_bbox(&a.bbox)?;
    let time = a.time.as_deref().map(parse_time_range).transpose()?;
    let mut c = open_index(conn)?;
    let geobox = output_grid(
        &mut c,
        &a.product,
        lonlat,
        a.crs.as_deref(),
        a.resolution.as_deref(),
        a.align.as_deref(),
        a.like.as_deref(),
    )?;
    let mut resampling_of = HashMap::new();
    for r in &a.resampling_of {
        let (name, method) = r
            .split_once('=')
            .ok_or_else(|| Error::Request(format!("--resampling-of {r}: expected NAME=METHOD")))?;
        resampling_of.insert(name.to_string(), method.parse::<Resampling>()?);
    }
    let req = LoadRequest {
        product: a.product.clone(),
        measurements: a.measurements.clone(),
        time,
        lonlat: Some(lonlat),
        geobox,
        resampling: a.resampling.parse()?,
        resampling_of,
        group_by: a.group_by.parse::<GroupBy>()?,
        physical: a.physical,
        default: None,
    };
    let stager = stack::source::Stager::new()?;
    let plan = stack::plan(&mut c, &req)?;
    if plan.is_empty() {
        // An empty stack has no time dimension to write: say so rather than leave a file readers refuse.
        return Err(Error::Request(format!(
            "no dataset of product {} matches the time and area asked for: nothing written to {}",
            req.product,
            a.out.display()
        )));
    }
    let per_row = output::banded::bytes_per_row(&plan, req.geobox.width);
    let rows = (a.max_memory * (1 << 20) as f64 / per_row.max(1) as f64) as usize;
    if rows >= req.geobox.height {
        let s = plan.assemble(&req, &req.geobox, &stager)?;
        output::banded::write_stack(&a.out, &s)?;
        report_stack(&s, a);
        write_extras(&s, a)?;
    } else {
        if a.cog_dir.is_some() && output::is_zarr(&a.out) {
            return Err(Error::Request(format!(
                "--cog-dir with a Zarr store needs the whole stack in memory ({} MiB): raise \
                 --max-memory, or write a NetCDF file (its steps are converted to COGs afterwards)",
                (per_row * req.geobox.height) >> 20
            )));
        }
        let bar = indicatif::ProgressBar::new(0);
        let (header, bands) =
            output::banded::write_banded(&plan, &req, &stager, &a.out, rows, &|k, n| {
                bar.set_length(n as u64);
                bar.set_position(k as u64);
            })?;
        bar.finish_and_clear();
        report_stack(&header, a);
        println!(
            "assembled in {bands} bands of {} rows (--max-memory {} MiB)",
            rows.max(1),
            a.max_memory
        );
        if let Some(dir) = &a.cog_dir {
            let mut n = 0;
            for l in &header.layers {
                n += output::cogs_from_netcdf(dir, &a.out, &header, &l.name)?.len();
            }
            println!(
                "{n} COGs in {} (converted from {})",
                dir.display(),
                a.out.display()
            );
        }
        if let (Some(png), Some(l)) = (&a.png, header.layers.first()) {
            let size = (header.geobox.width, header.geobox.height);
            quicklook(png, &header, l, || {
                output::banded::read_step(&a.out, &l.name, 0, size, 2048)
            })?;
        }
    }
    println!("done in {:.2} s", started.elapsed().as_secs_f64());
    Ok(true)
}

fn report_stack(s: &model::Stack, a: &StackArgs) {
    let datasets: usize = s.sources.iter().map(Vec::len).sum();
    println!(
        "{}: {} steps from {datasets} datasets, {} measurement(s) on a {}×{} grid in {} → {}",
        s.product,
        s.times.len(),
        s.layers.len(),
        s.geobox.width,
        s.geobox.height,
        s.geobox.crs,
        a.out.display()
    );
}

/// COGs and the quicklook of a stack held in memory.
fn write_extras(s: &model::Stack, a: &StackArgs) -> Result<()> {
    if let Some(dir) = &a.cog_dir {
        std::fs::create_dir_all(dir).map_err(|e| Error::Write {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let mut n = 0;
        for l in &s.layers {
            n += output::write_cogs(dir, s, &l.name)?.len();
        }
        println!("{n} COGs in {}", dir.display());
    }
    if let (Some(png), Some(l)) = (&a.png, s.layers.first()) {
        quicklook(png, s, l, || {
            let first = l.step(0, s.pixels()).to_vec();
            Ok((first, s.geobox.width, s.geobox.height))
        })?;
    }
    Ok(())
}

/// The PNG of layer `l`'s first step, whose values (and size) `first_step` reads.
fn quicklook(
    png: &std::path::Path,
    s: &model::Stack,
    l: &model::Layer,
    first_step: impl FnOnce() -> Result<(Vec<f64>, usize, usize)>,
) -> Result<()> {
    if s.times.is_empty() {
        println!("no time step: no quicklook");
        return Ok(());
    }
    let (values, width, height) = first_step()?;
    let title = format!("{} {} {}", s.product, l.name, s.times[0].format("%Y-%m-%d"));
    let palette = if l.name.to_ascii_lowercase().contains("ndvi") {
        output::Palette::Ndvi
    } else {
        output::Palette::Viridis
    };
    let (w, h) = output::write_png(png, &values, width, height, l.nodata, &title, palette)?;
    println!("quicklook {}×{} → {}", w, h, png.display());
    Ok(())
}

/// The share of the tiles this process runs: `--tile`/`--tile-count`, or the array-job environment.
fn tile_share(a: &VegetRunArgs) -> Result<model::veget::Share> {
    let env = |k: &str| std::env::var(k).ok();
    let shard = indexer::shard::Shard::resolve(a.tile.as_deref(), a.tile_count, &env)
        .unwrap_or_else(|m| {
            crate::cli::usage_error(format!("--tile: {}", m.replace("--shard", "--tile")))
        });
    if shard.is_none() && env(indexer::shard::K8S_INDEX).is_some_and(|v| !v.trim().is_empty()) {
        crate::cli::usage_error(format!(
            "${} is set but not the number of processes: give --tile /N or --tile-count N (or \
             unset it to run every tile here)",
            indexer::shard::K8S_INDEX
        ));
    }
    Ok(match shard {
        Some(s) => model::veget::Share {
            index: s.index as usize,
            count: s.count as usize,
        },
        None => model::veget::Share::ALL,
    })
}

fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {percent:>3}% of {human_len} pixel-days, {per_sec}, {elapsed} (ETA {eta})",
        )
        .expect("valid template"),
    );
    bar
}

/// A tile's month of inputs is a few arrays of tens of MB, allocated and freed every month: glibc
/// maps each anew (its mmap threshold stops at 32 MiB) and the kernel zeroes every page again at
/// first touch — 15 % of a run's time. Allocations up to 128 MiB come from the heap instead, and up
/// to 64 MiB of freed heap at its top is kept (peak memory grows by about a month's arrays per
/// thread: the heap's free chunks are reused, not returned).
fn reuse_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's thresholds; called before the run allocates.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

pub fn veget_run(
    conn: &ConnArgs,
    a: &VegetRunArgs,
) -> std::result::Result<Success, Box<dyn std::error::Error>> {
    let started = Instant::now();
    configure_gdal()?;
    reuse_freed_memory();
    let cfg = model::veget::RunConfig::load(&a.config)?;
    let share = tile_share(a)?;
    let mut c = open_index(conn)?;
    // Tiles are sized so that those running at once fit; a grid whose single row cannot fit is
    // refused before reading anything, rather than being killed months into the run.
    let memory = match a.max_memory {
        Some(m) => (m, "--max-memory"),
        None => (
            available_mib().map_or(f64::INFINITY, |m| m as f64),
            "available on this machine",
        ),
    };
    let opts = model::veget::RunOptions {
        memory: Some(memory),
        tile_rows: a.tile_rows,
        share,
        restart: a.restart,
    };
    let bar = progress_bar();
    let outcome = model::veget::run_tiles(&mut c, &cfg, &opts, &|done, total| {
        bar.set_length(total);
        bar.set_position(done)
    });
    bar.finish_and_clear();
    match outcome? {
        model::veget::Outcome::Finished(r) => {
            report_and_index(&mut c, &cfg, &r, a.no_index, a.defs.as_deref(), started)
        }
        model::veget::Outcome::Partial {
            done,
            tiles,
            ran,
            pixel_days,
        } => {
            println!(
                "tiles {}/{} of {}: {ran} run here ({}), {done} of {tiles} done in all; run \
                 `etlake veget finish {}` once every share is done",
                share.index,
                share.count,
                cfg.output.dir.display(),
                rate(pixel_days),
                a.config.display()
            );
            println!("done in {:.1} s{}", started.elapsed().as_secs_f64(), peak());
            Ok(true)
        }
    }
}

pub fn veget_finish(
    conn: &ConnArgs,
    a: &VegetFinishArgs,
) -> std::result::Result<Success, Box<dyn std::error::Error>> {
    let started = Instant::now();
    configure_gdal()?;
    let cfg = model::veget::RunConfig::load(&a.config)?;
    let mut c = open_index(conn)?;
    let r = model::veget::finish(&mut c, &cfg)?;
    report_and_index(&mut c, &cfg, &r, a.no_index, a.defs.as_deref(), started)
}

/// "12.3 M pixel-days/s" of (pixel-days, seconds).
fn rate((pixel_days, seconds): (u64, f64)) -> String {
    if pixel_days == 0 || seconds <= 0.0 {
        return "no pixel-day".into();
    }
    format!(
        "{pixel_days} pixel-days at {:.2} M pixel-days/s",
        pixel_days as f64 / seconds / 1e6
    )
}

/// ", peak memory N MiB" from VmHWM (empty where /proc has no such line).
fn peak() -> String {
    let kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        });
    kib.map(|k| format!(", peak memory {} MiB", k >> 10))
        .unwrap_or_default()
}

/// Prints a finished run's summary and indexes its outputs (unless `no_index`).
fn report_and_index(
    c: &mut Catalog,
    cfg: &model::veget::RunConfig,
    r: &model::veget::RunReport,
    no_index: bool,
    defs: Option<&std::path::Path>,
    started: Instant,
) -> std::result::Result<Success, Box<dyn std::error::Error>> {
    println!(
        "VegET {} → {}: {} days on a {}×{} grid ({}), mode {}",
        cfg.period.start,
        cfg.period.end,
        r.days,
        r.geobox.width,
        r.geobox.height,
        r.geobox.crs,
        cfg.mode.as_deref().unwrap_or("strict")
    );
    println!(
        "{} tiles of {} rows, {} run now: {}",
        r.tiling.count(),
        r.tiling.rows,
        r.tiles_run,
        rate(r.pixel_days)
    );
    println!("month      P      ETa    runoff drainage intercept  soil water  snowpack   (area means, mm)");
    for m in &r.months {
        println!(
            "{}-{:02} {:7.1} {:7.1} {:7.1} {:7.1} {:7.1} {:10.1} {:9.1}",
            m.month.0, m.month.1, m.p, m.eta, m.srf, m.dd, m.intercept, m.swf, m.snwpk
        );
    }
    let b = &r.balance;
    println!(
        "water balance: {} pixels checked, {} failed (max |residual| {:.2e} mm), {} not checked (water, negative NDVI or no valid day)",
        b.checked,
        b.failed,
        b.max_residual,
        b.not_checked - r.outside_pixels.min(b.not_checked)
    );
    if r.outside_pixels > 0 {
        println!(
            "{} pixels of the grid lie outside the area and are masked",
            r.outside_pixels
        );
    }
    if r.gap_pixel_days > 0 || r.invalid_pixels > 0 {
        println!(
            "missing inputs: {} pixel-days held (strict mode), {} pixels invalid",
            r.gap_pixel_days, r.invalid_pixels
        );
    }
    let pngs: Vec<String> = r
        .files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "png"))
        .map(|f| f.display().to_string())
        .collect();
    if cfg.output.on_s3().is_some() {
        let folders: Vec<String> = r.files.iter().map(|f| f.display().to_string()).collect();
        println!(
            "COGs (one per tile and variable) in {} (no quicklook on S3)",
            folders.join(", ")
        );
    } else {
        println!(
            "{} files in {} (quicklook: {})",
            r.files.len(),
            cfg.output.dir.display(),
            pngs.join(", ")
        );
    }
    let mut ok = b.failed == 0;
    if !no_index {
        let ir = indexer::outputs::index_outputs(
            c,
            &cfg.output.dir,
            &indexer::outputs::VEGET_PRODUCTS,
            defs_dir(&defs.map(|d| d.to_path_buf())),
            &|_| {},
        )?;
        print_report(&ir, "outputs indexed".into());
        ok &= ir.ok();
    }
    println!("done in {:.1} s{}", started.elapsed().as_secs_f64(), peak());
    Ok(ok)
}

/// `MemAvailable` from /proc/meminfo, in MiB (None where there is no such file).
fn available_mib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib >> 10)
}
