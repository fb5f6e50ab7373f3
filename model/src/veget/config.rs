//! The VegET run configuration (`etlake veget run CONFIG.yaml`): period, area, grid, where each input
//! comes from in the index (or a constant), parameters, mode and outputs. Parsed from YAML.
use super::{Options, Params};
use crate::stack::Alignment;
use crate::{Error, Result};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A whole run configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// First and last day (inclusive).
    pub period: Period,
    /// The area: a lon/lat box.
    pub area: Area,
    /// The model grid.
    pub grid: GridSpec,
    /// `strict` (default) or `compat`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Parameter overrides by name (`melt_factor: 0.05`, …); others keep the reference defaults.
    #[serde(default)]
    pub params: BTreeMap<String, f64>,
    /// Inputs by role.
    pub inputs: Inputs,
    /// Outputs.
    pub output: OutputSpec,
    /// Resume from a saved state file (soil water and snowpack at the end of the previous day).
    #[serde(default)]
    pub resume: Option<PathBuf>,
}

/// The run period.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// First day.
    pub start: NaiveDate,
    /// Last day (inclusive).
    pub end: NaiveDate,
}

/// The run area.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Area {
    /// West, south, east, north in degrees.
    pub bbox: [f64; 4],
}

/// The model grid: like a product's datasets (VegET's NDVI grid), or explicit.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GridSpec {
    /// Take CRS, resolution and pixel alignment from this product's first dataset in the area.
    #[serde(default)]
    pub like: Option<String>,
    /// Explicit CRS.
    #[serde(default)]
    pub crs: Option<String>,
    /// Explicit pixel size (x = r, y = −r).
    #[serde(default)]
    pub resolution: Option<f64>,
    /// Pixel alignment (x, y) in CRS units.
    #[serde(default)]
    pub align: Option<(f64, f64)>,
}

/// Where an input comes from.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Product in the index.
    #[serde(default)]
    pub product: Option<String>,
    /// Measurement (name or alias); the product's first when omitted.
    #[serde(default)]
    pub measurement: Option<String>,
    /// A constant instead of a product, in the role's units.
    #[serde(default)]
    pub value: Option<f64>,
    /// Replaces the product's `scale_factor` (which etlake applies by default): stored values are
    /// multiplied by this…
    #[serde(default)]
    pub scale: Option<f64>,
    /// …then this is added (replaces the product's `add_offset`).
    #[serde(default)]
    pub offset: Option<f64>,
    /// Units of the values after `scale`/`offset` (default: the product's `units`); etlake converts
    /// them to the role's units (kelvin to °C).
    #[serde(default)]
    pub units: Option<String>,
    /// A constant (in the role's units) where a dataset of the product lacks the measurement (e.g.
    /// a soil product delivered with `whc` only).
    #[serde(default)]
    pub default: Option<f64>,
    /// Time alignment: `daily`, `interpolate` (anchor gap), `interpolate16` (reference),
    /// `climatology` (day of year) or `static`. Default: daily for dynamic inputs, static for statics.
    #[serde(default)]
    pub align: Option<String>,
}

impl InputSpec {
    /// The alignment, with the role's default.
    pub fn alignment(&self, role: &str, dynamic: bool) -> Result<Alignment> {
        Ok(match self.align.as_deref() {
            None if dynamic => Alignment::Daily,
            None | Some("static") => Alignment::Static,
            Some("daily") => Alignment::Daily,
            Some("interpolate") => Alignment::Interpolate { fixed16: false },
            Some("interpolate16") => Alignment::Interpolate { fixed16: true },
            Some("climatology") => Alignment::Climatology,
            Some(o) => {
                return Err(Error::Request(format!(
                    "inputs.{role}.align {o:?}: use daily, interpolate, interpolate16, climatology or static"
                )))
            }
        })
    }
}

/// The inputs by role (names as in the VegET spec).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// Precipitation (mm/day).
    pub precipitation: InputSpec,
    /// Grass reference ET (mm/day).
    pub eto: InputSpec,
    /// NDVI (after scale).
    pub ndvi: InputSpec,
    /// Minimum temperature (°C after scale/offset).
    pub tmin: InputSpec,
    /// Maximum temperature (°C).
    pub tmax: InputSpec,
    /// Mean temperature (°C); (tmin + tmax) / 2 when omitted.
    #[serde(default)]
    pub tavg: Option<InputSpec>,
    /// Water-holding capacity (mm).
    pub whc: InputSpec,
    /// Field capacity (mm).
    pub field_capacity: InputSpec,
    /// Saturation (mm).
    pub saturation: InputSpec,
    /// Interception (%).
    pub interception: InputSpec,
    /// Inland water mask (1 = water).
    pub water: InputSpec,
}

/// What to write.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Output folder (relative paths are relative to the config file), or an `s3://bucket/prefix`
    /// (outputs written as COGs, one per tile and variable).
    pub dir: PathBuf,
    /// Daily files too (monthly and annual totals are always written): `true` (every daily
    /// variable), `false`, or a list of variables (e.g. `[etasw]`).
    #[serde(default)]
    pub daily: DailyOutputs,
    /// Also write COGs of the monthly and annual totals.
    #[serde(default)]
    pub cogs: bool,
}

/// Which daily variables a run writes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum DailyOutputs {
    /// Every daily variable (`true`) or none (`false`).
    All(bool),
    /// These variables (names of [`super::DAILY_NAMES`]).
    Only(Vec<String>),
}

impl Default for DailyOutputs {
    fn default() -> DailyOutputs {
        DailyOutputs::All(true)
    }
}

impl DailyOutputs {
    /// The daily variables written, in the `veget_daily` files' order (empty: no daily files).
    pub fn names(&self) -> Vec<&'static str> {
        match self {
            DailyOutputs::All(all) => {
                if *all {
                    super::DAILY_NAMES.to_vec()
                } else {
                    Vec::new()
                }
            }
            DailyOutputs::Only(names) => super::DAILY_NAMES
                .iter()
                .copied()
                .filter(|n| names.iter().any(|m| m == n))
                .collect(),
        }
    }

    /// Whether any daily file is written.
    pub fn any(&self) -> bool {
        !self.names().is_empty()
    }
}

impl OutputSpec {
    /// The GDAL prefix of an `s3://` output folder (`/vsis3/bucket/prefix`, no trailing slash); None
    /// for a folder on a filesystem.
    pub fn on_s3(&self) -> Option<String> {
        crate::output::vsi::gdal_s3(&self.dir.to_string_lossy())
            .map(|p| p.trim_end_matches('/').to_string())
    }
}

impl RunConfig {
    /// Reads and checks a configuration file; relative output/resume paths are made relative to it.
    pub fn load(path: &Path) -> Result<RunConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Read {
            object: path.display().to_string(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        RunConfig::parse(&text, &path.display().to_string(), base)
    }

    /// Parses and checks a configuration given as YAML (or JSON) text; errors name `object`, and
    /// relative output/resume paths are made relative to `base`.
    pub fn parse(text: &str, object: &str, base: &Path) -> Result<RunConfig> {
        let mut c: RunConfig = serde_yaml_ng::from_str(text).map_err(|e| Error::Read {
            object: object.to_string(),
            message: e.to_string(),
        })?;
        if c.output.dir.is_relative() && c.output.on_s3().is_none() {
            c.output.dir = base.join(&c.output.dir);
        }
        if let Some(r) = &c.resume {
            if r.is_relative() {
                c.resume = Some(base.join(r));
            }
        }
        c.check(object)?;
        Ok(c)
    }

    fn check(&self, object: &str) -> Result<()> {
        let bad = |m: String| Error::Read {
            object: object.to_string(),
            message: m,
        };
        if self.period.end < self.period.start {
            return Err(bad("period.end is before period.start".into()));
        }
        let [w, s, e, n] = self.area.bbox;
        if !(w < e && s < n) {
            return Err(bad("area.bbox must be [west, south, east, north]".into()));
        }
        if let DailyOutputs::Only(names) = &self.output.daily {
            if let Some(n) = names
                .iter()
                .find(|n| !super::DAILY_NAMES.contains(&n.as_str()))
            {
                return Err(bad(format!(
                    "output.daily: {n:?} is not a daily VegET output; use true, false or a list of {}",
                    super::DAILY_NAMES.join(", ")
                )));
            }
        }
        let g = &self.grid;
        if g.like.is_none() && (g.crs.is_none() || g.resolution.is_none()) {
            return Err(bad(
                "grid needs `like: PRODUCT` or `crs` and `resolution`".into()
            ));
        }
        for (role, i) in self.inputs.roles() {
            if i.product.is_some() == i.value.is_some() {
                return Err(bad(format!(
                    "inputs.{role} needs exactly one of product or value"
                )));
            }
            let product_keys = [
                ("measurement", i.measurement.is_some()),
                ("scale", i.scale.is_some()),
                ("offset", i.offset.is_some()),
                ("units", i.units.is_some()),
                ("default", i.default.is_some()),
            ];
            if i.value.is_some() {
                if let Some((key, _)) = product_keys.iter().find(|(_, set)| *set) {
                    return Err(bad(format!(
                        "inputs.{role}: {key} applies to a product, not to a constant value \
                         (which is in the role's units)"
                    )));
                }
            }
            if let Some(u) = &i.units {
                super::units::check_role_units(role, u)
                    .map_err(|m| bad(format!("inputs.{role}: {m}")))?;
            }
        }
        self.params()?;
        self.options()?;
        Ok(())
    }

    /// The parameters, defaults overridden by `params`.
    pub fn params(&self) -> Result<Params> {
        Params::with_overrides(&self.params)
    }

    /// The kernel options of the mode.
    pub fn options(&self) -> Result<Options> {
        Options::for_mode(self.mode.as_deref())
    }
}

impl Inputs {
    /// (role, spec) of every configured input.
    pub fn roles(&self) -> Vec<(&'static str, &InputSpec)> {
        let mut v = vec![
            ("precipitation", &self.precipitation),
            ("eto", &self.eto),
            ("ndvi", &self.ndvi),
            ("tmin", &self.tmin),
            ("tmax", &self.tmax),
            ("whc", &self.whc),
            ("field_capacity", &self.field_capacity),
            ("saturation", &self.saturation),
            ("interception", &self.interception),
            ("water", &self.water),
        ];
        if let Some(t) = &self.tavg {
            v.push(("tavg", t));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
period: {start: 2020-01-01, end: 2020-01-31}
area: {bbox: [-105.5, 39.5, -104.5, 40.5]}
grid: {like: mod13q1_061}
params: {melt_factor: 0.05}
inputs:
  precipitation: {product: chirps_v2_daily_p05, measurement: precip}
  eto: {product: gridmet_pet, measurement: pet}
  ndvi: {product: mod13q1_061, measurement: ndvi, align: interpolate}
  tmin: {product: gridmet_tmmn}
  tmax: {product: gridmet_tmmx, scale: 0.1, offset: -50, units: degC}
  whc: {product: soil_whc, measurement: whc}
  field_capacity: {product: soil_whc, measurement: field_capacity}
  saturation: {product: soil_whc, measurement: saturation}
  interception: {value: 10}
  water: {value: 0}
output: {dir: out}
"#;

    #[test]
    fn a_config_parses_with_defaults_and_relative_output() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("run.yaml");
        std::fs::write(&p, GOOD).unwrap();
        let c = RunConfig::load(&p).unwrap();
        assert_eq!(c.output.dir, d.path().join("out"));
        assert_eq!(c.output.daily.names(), super::super::DAILY_NAMES);
        assert_eq!(c.params().unwrap().melt_factor, 0.05);
        assert_eq!(c.params().unwrap().rf_coeff, 0.35);
        assert_eq!(
            c.inputs.ndvi.alignment("ndvi", true).unwrap(),
            Alignment::Interpolate { fixed16: false }
        );
        assert_eq!(
            c.inputs.whc.alignment("whc", false).unwrap(),
            Alignment::Static
        );
        // Daily outputs: all, none, or a chosen few in the files' order; an S3 folder is kept as is.
        for (daily, names) in [
            ("false", vec![]),
            ("[srf, etasw]", vec!["etasw", "srf"]),
            ("true", super::super::DAILY_NAMES.to_vec()),
        ] {
            let text = GOOD.replace(
                "output: {dir: out}",
                &format!("output: {{dir: \"s3://b/p\", daily: {daily}}}"),
            );
            std::fs::write(&p, text).unwrap();
            let c = RunConfig::load(&p).unwrap();
            assert_eq!(c.output.daily.names(), names, "{daily}");
            assert_eq!(c.output.dir, Path::new("s3://b/p"));
        }
    }

    #[test]
    fn bad_configs_name_the_key() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("run.yaml");
        for (from, to, expect) in [
            ("melt_factor: 0.05", "melt_factr: 0.05", "params.melt_factr"),
            (
                "interception: {value: 10}",
                "interception: {}",
                "inputs.interception",
            ),
            ("end: 2020-01-31", "end: 2019-01-31", "period.end"),
            (
                "output: {dir: out}",
                "output: {dir: out, colour: red}",
                "unknown field",
            ),
            (
                "output: {dir: out}",
                "output: {dir: out, daily: [eta]}",
                "output.daily: \"eta\" is not a daily VegET output",
            ),
            (
                "interception: {value: 10}",
                "interception: {value: 10, scale: 2}",
                "inputs.interception: scale applies to a product",
            ),
            (
                "units: degC",
                "units: furlongs",
                "inputs.tmax: units \"furlongs\"",
            ),
        ] {
            std::fs::write(&p, GOOD.replace(from, to)).unwrap();
            let e = RunConfig::load(&p).unwrap_err().to_string();
            assert!(e.contains(expect), "{to}: {e}");
        }
    }
}
