//! What makes a tiled run resumable and shareable between processes: a manifest of the run (a hash of
//! its configuration, grid and input datasets, and its tiling) and one record per finished tile,
//! written durably after that tile's outputs are flushed, under `OUTPUT_DIR/.veget-run/` (objects of
//! their own when `OUTPUT_DIR` is on S3).
use super::balance::{Balance, MonthRow};
use super::tiling::Tiling;
use crate::{Error, GeoBox, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The run's identity and tiling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// FNV-1a 64 (hex) of `identity`.
    pub hash: String,
    /// The configuration (output folder left out: the manifest lives in it), the grid and the ids of
    /// the input datasets, as hashed.
    pub identity: serde_json::Value,
    /// How the grid is cut.
    pub tiling: Tiling,
}

/// One month's area sums of a tile: (sum, count) of P, ETa, runoff, drainage, interception, and the
/// month-end soil water and snowpack.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonthPart {
    /// Year and month.
    pub month: (i32, u32),
    /// Sums of p, eta, srf, dd, intercept, swf, snwpk.
    pub sums: [f64; 7],
    /// Pixels summed.
    pub counts: [u64; 7],
}

/// A finished tile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TileRecord {
    /// Tile number.
    pub tile: usize,
    /// First row and rows.
    pub rows: (usize, usize),
    /// The manifest's hash the tile ran under.
    pub hash: String,
    /// Monthly area sums.
    pub months: Vec<MonthPart>,
    /// The tile's water-balance check.
    pub balance: Balance,
    /// Pixel-days held for missing inputs.
    pub gap_pixel_days: u64,
    /// Pixels of the area invalid at the end.
    pub invalid_pixels: usize,
    /// Pixels outside the area.
    pub outside_pixels: usize,
    /// Seconds the tile took.
    pub seconds: f64,
}

/// FNV-1a 64 of `bytes`.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Writes `bytes` to `path` durably: a temporary file synced, renamed into place, the folder synced.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(path))?;
    tmp.as_file().sync_all().map_err(io(path))?;
    tmp.persist(path).map_err(|e| io(path)(e.error))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

/// The run folder's ledger.
pub struct Ledger {
    dir: PathBuf,
    /// Kept on S3 (`/vsis3/…`): whole objects written and read through GDAL; an object store has
    /// no rename or exclusive create, but a PUT is atomic and durable once acknowledged.
    remote: bool,
}

/// The object at `path` (None when absent), read after forgetting what GDAL cached of it.
fn read_remote(path: &Path) -> Result<Option<Vec<u8>>> {
    let p = path.to_string_lossy();
    crate::output::vsi::forget(&p);
    crate::output::vsi::read(&p)
}

/// What [`Ledger::open`] found.
pub enum Opened {
    /// A new run (no manifest, or `restart`).
    Fresh(Manifest),
    /// The same run as before: its manifest (and tiling).
    Same(Manifest),
}

impl Ledger {
    /// The ledger of a run writing as `output` says.
    pub fn at(output: &super::config::OutputSpec) -> Ledger {
        match output.on_s3() {
            Some(r) => Ledger {
                dir: PathBuf::from(format!("{r}/.veget-run")),
                remote: true,
            },
            None => Ledger {
                dir: output.dir.join(".veget-run"),
                remote: false,
            },
        }
    }

    fn manifest_path(&self) -> PathBuf {
        self.dir.join("manifest.json")
    }

    fn tile_path(&self, k: usize) -> PathBuf {
        self.dir.join("tiles").join(format!("tile-{k:06}.json"))
    }

    /// The folder of the ledger's own files (beside the outputs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest of a run of `config` (its output folder left out), `grid` and `inputs`
    /// (dataset ids), tiled as `tiling`.
    pub fn manifest(
        config: &super::RunConfig,
        grid: &GeoBox,
        inputs: &[String],
        tiling: Tiling,
    ) -> Result<Manifest> {
        let mut cfg = serde_json::to_value(config).map_err(|e| Error::Request(e.to_string()))?;
        if let Some(o) = cfg.get_mut("output").and_then(|o| o.as_object_mut()) {
            o.remove("dir");
        }
        let identity = serde_json::json!({
            "config": cfg,
            "grid": {"crs": grid.crs, "width": grid.width, "height": grid.height,
                     "transform": grid.transform},
            "inputs": inputs,
            "format": 1,
        });
        let hash = format!("{:016x}", fnv1a64(identity.to_string().as_bytes()));
        Ok(Manifest {
            hash,
            identity,
            tiling,
        })
    }

    /// The manifest already there, if any.
    pub fn existing(&self) -> Result<Option<Manifest>> {
        let path = self.manifest_path();
        let read = if self.remote {
            read_remote(&path)
                .map(|b| b.ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound)))?
        } else {
            std::fs::read(&path)
        };
        match read {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Read {
                    object: path.display().to_string(),
                    message: format!("not a run manifest: {e}"),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Read {
                object: path.display().to_string(),
                message: e.to_string(),
            }),
        }
    }

    /// Starts the run described by `wanted`, or joins the one recorded: the same configuration,
    /// grid and inputs go on with the recorded tiling (`fixed_rows`: the rows per tile asked for,
    /// which must then agree); anything else is refused unless `restart`, which forgets the recorded
    /// run and its finished tiles. Several processes starting at once agree on one manifest.
    pub fn open(&self, wanted: Manifest, fixed_rows: bool, restart: bool) -> Result<Opened> {
        if self.remote {
            return self.open_remote(wanted, fixed_rows, restart);
        }
        std::fs::create_dir_all(self.dir.join("tiles")).map_err(io(&self.dir))?;
        let path = self.manifest_path();
        if restart {
            std::fs::remove_dir_all(&self.dir).map_err(io(&self.dir))?;
            std::fs::create_dir_all(self.dir.join("tiles")).map_err(io(&self.dir))?;
        }
        let bytes =
            serde_json::to_vec_pretty(&wanted).map_err(|e| Error::Request(e.to_string()))?;
        // Published with a hard link: it fails when another process's manifest is already there.
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(io(&self.dir))?;
        tmp.write_all(&bytes).map_err(io(&path))?;
        tmp.as_file().sync_all().map_err(io(&path))?;
        match std::fs::hard_link(tmp.path(), &path) {
            Ok(()) => {
                std::fs::File::open(&self.dir)
                    .and_then(|d| d.sync_all())
                    .map_err(io(&self.dir))?;
                return Ok(Opened::Fresh(wanted));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(&path)(e)),
        }
        let old = self
            .existing()?
            .ok_or_else(|| Error::Request(format!("{} vanished", path.display())))?;
        self.join(old, wanted, fixed_rows)
    }

    /// [`Ledger::open`] on S3. Processes starting at once with the same configuration write the same
    /// manifest (it is a function of the configuration), so the last PUT changes nothing.
    fn open_remote(&self, wanted: Manifest, fixed_rows: bool, restart: bool) -> Result<Opened> {
        if restart {
            crate::output::vsi::remove_tree(&self.dir.to_string_lossy())?;
        }
        match self.existing()? {
            Some(old) => self.join(old, wanted, fixed_rows),
            None => {
                let bytes = serde_json::to_vec_pretty(&wanted)
                    .map_err(|e| Error::Request(e.to_string()))?;
                crate::output::vsi::write(&self.manifest_path().to_string_lossy(), &bytes)?;
                Ok(Opened::Fresh(wanted))
            }
        }
    }

    /// Goes on with the run `old` recorded if it is the one `wanted`.
    fn join(&self, old: Manifest, wanted: Manifest, fixed_rows: bool) -> Result<Opened> {
        if old.hash != wanted.hash {
            let what = changed(&old.identity, &wanted.identity);
            return Err(Error::Request(format!(
                "{} holds a run with another {what} (manifest {}, this configuration {}): its \
                 outputs would be mixed with this run's. Run again with --restart to start over \
                 (finished tiles are redone), or write to another output folder",
                self.dir.parent().unwrap_or(&self.dir).display(),
                old.hash,
                wanted.hash
            )));
        }
        if fixed_rows && old.tiling != wanted.tiling {
            return Err(Error::Request(format!(
                "{} holds a run cut into tiles of {} rows, not {}: leave out --tile-rows to go on \
                 with it, or --restart",
                self.dir.display(),
                old.tiling.rows,
                wanted.tiling.rows
            )));
        }
        Ok(Opened::Same(old))
    }

    /// The record of tile `k` when it is finished under `hash`.
    pub fn done(&self, k: usize, hash: &str) -> Option<TileRecord> {
        let bytes = if self.remote {
            read_remote(&self.tile_path(k)).ok()??
        } else {
            std::fs::read(self.tile_path(k)).ok()?
        };
        let r: TileRecord = serde_json::from_slice(&bytes).ok()?;
        (r.hash == hash && r.tile == k).then_some(r)
    }

    /// Records a finished tile (after its outputs are on disk).
    pub fn record(&self, r: &TileRecord) -> Result<()> {
        let bytes = serde_json::to_vec(r).map_err(|e| Error::Request(e.to_string()))?;
        if self.remote {
            return crate::output::vsi::write(&self.tile_path(r.tile).to_string_lossy(), &bytes);
        }
        write_durably(&self.tile_path(r.tile), &bytes)
    }
}

/// Which part of the identity differs, for the message.
fn changed(a: &serde_json::Value, b: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    for key in [
        "period", "area", "grid", "mode", "params", "inputs", "output", "resume",
    ] {
        if a["config"][key] != b["config"][key] {
            parts.push(key.to_string());
        }
    }
    if a["grid"] != b["grid"] && !parts.contains(&"grid".to_string()) {
        parts.push("grid".into());
    }
    if a["inputs"] != b["inputs"] {
        parts.push("set of input datasets".into());
    }
    if parts.is_empty() {
        "configuration".into()
    } else {
        format!("configuration ({} differ)", parts.join(", "))
    }
}

/// The monthly area means from every tile's sums (tiles in order).
pub fn month_rows(records: &[TileRecord]) -> Vec<MonthRow> {
    let mut months: Vec<MonthPart> = Vec::new();
    for r in records {
        for m in &r.months {
            let at = match months.iter().position(|x| x.month == m.month) {
                Some(i) => i,
                None => {
                    months.push(MonthPart {
                        month: m.month,
                        ..Default::default()
                    });
                    months.len() - 1
                }
            };
            for k in 0..7 {
                months[at].sums[k] += m.sums[k];
                months[at].counts[k] += m.counts[k];
            }
        }
    }
    months.sort_by_key(|m| m.month);
    months
        .iter()
        .map(|m| {
            let mean = |k: usize| {
                if m.counts[k] == 0 {
                    f64::NAN
                } else {
                    m.sums[k] / m.counts[k] as f64
                }
            };
            MonthRow {
                month: m.month,
                p: mean(0),
                eta: mean(1),
                srf: mean(2),
                dd: mean(3),
                intercept: mean(4),
                swf: mean(5),
                snwpk: mean(6),
            }
        })
        .collect()
}
