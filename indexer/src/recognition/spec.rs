//! The recognition spec as written in `product-defs/recognition/*.yaml`: the serde types, so that the
//! file format reads in one place. Checking a spec's rules is the `Recogniser`'s, when it loads one.
use serde::Deserialize;
use std::collections::BTreeMap;

/// One recognition file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Product name (a file in `product-defs/products`).
    pub product: String,
    /// `odc:file_format` of the product's files.
    pub file_format: String,
    /// Filename templates.
    pub templates: Vec<String>,
    /// Time derivation.
    pub time: TimeRule,
    /// Region code built from fields, e.g. `h{h}v{v}`.
    #[serde(default)]
    pub region_code: Option<String>,
    /// A literal maturity, or `{field}` looked up in `maturity_map`.
    #[serde(default)]
    pub maturity: Option<String>,
    /// Field value → maturity (`final`, `interim`, `nrt`).
    #[serde(default)]
    pub maturity_map: BTreeMap<String, String>,
    /// Product measurement → where it lives in the file.
    pub measurements: BTreeMap<String, MeasurementSource>,
    /// The grid of every file, for files whose georeferencing GDAL cannot use (IMERG: no CRS, axes
    /// stored as (lon, lat)); the CRS then comes from the product's `load.crs`.
    #[serde(default)]
    pub grid: Option<StatedGrid>,
    /// Rules that route STAC items carrying no `odc:product` to this product by their collection and
    /// properties (`crate::routing`).
    #[serde(default)]
    pub stac: Vec<StacRule>,
}

/// One STAC routing rule: an item whose collection is one of `collection` and whose every listed
/// property has one of the listed values belongs to the spec's product. Values compare without regard
/// to case, `-`, `_` or spaces (`LANDSAT_8` = `landsat-8`); STAC 0.x names stand in for current ones
/// (`eo:platform` for `platform`, `eo:instrument` for `instruments`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StacRule {
    /// The item's `collection`: one id or a list.
    pub collection: OneOrMany,
    /// Property name → accepted value(s).
    #[serde(default)]
    pub properties: BTreeMap<String, OneOrMany>,
}

/// A YAML string or list of strings.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One value.
    One(String),
    /// Several values, any of which matches.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values.
    pub fn values(&self) -> &[String] {
        match self {
            OneOrMany::One(s) => std::slice::from_ref(s),
            OneOrMany::Many(v) => v,
        }
    }
}

/// A grid stated by the recognition spec: GDAL's (rows, cols) of the file and the eo3 affine from
/// (col, row) to the CRS's (x, y), which may swap axes.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StatedGrid {
    /// `[rows, cols]` as GDAL reads the file; a file of another shape is refused.
    pub shape: [usize; 2],
    /// `[a, b, c, d, e, f]`: x = a·col + b·row + c, y = d·col + e·row + f.
    pub transform: [f64; 6],
}

/// How a dataset's time range follows from the captured fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRule {
    /// `{year}-{month}-{day}`, `{year}-{doy}`, `{year}-{month}` or `{year}`, built from fields,
    /// optionally followed by a time of day `T{h}:{m}[:{s}]` (UTC), e.g. IMERG's half hours.
    pub start: String,
    /// ISO-8601 duration of each dataset: `P1D`, `P8D`, `P16D`, `P1M`, `P1Y`, or with a time of day
    /// `PT30M`, `PT1H`, `PT1S`.
    pub period: String,
    /// The dataset's last second, when the file name states it (IMERG `-E002959`): built like
    /// `start`; the dataset then ends at that second's end, whatever `period` says.
    #[serde(default)]
    pub end: Option<String>,
    /// One dataset per time step of a multi-time file (`band` = 1-based step).
    #[serde(default)]
    pub per_band: bool,
}

/// Where a measurement lives: a band, a NetCDF/HDF layer, or a sibling file (Landsat, user statics).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MeasurementSource {
    /// 1-based band.
    #[serde(default)]
    pub band: Option<u32>,
    /// Subdataset / variable name.
    #[serde(default)]
    pub layer: Option<String>,
    /// File-name suffix in the same directory.
    #[serde(default)]
    pub suffix: Option<String>,
    /// A sibling file's name in the same directory: literal (`fc_conus_250m_v2.tif`) or with the
    /// template's fields (`fc_{region}.tif`).
    #[serde(default)]
    pub file: Option<String>,
    /// A sibling (`suffix` or `file`) that may be absent: the dataset is indexed without this
    /// measurement, with a note in the report.
    #[serde(default)]
    pub optional: bool,
}

impl MeasurementSource {
    /// Whether the measurement lives in a sibling file rather than in the recognised file.
    pub fn is_sibling(&self) -> bool {
        self.suffix.is_some() || self.file.is_some()
    }
}
