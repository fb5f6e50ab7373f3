//! Aligned stacks: the datasets of a product found in the index, each warped onto one output grid
//! (GeoBox) with GDAL, grouped in time and fused first-valid, as `dc.load` does.
use crate::GeoBox;
use chrono::{DateTime, Utc};
use uuid::Uuid;

mod align;
mod files;
mod fuse;
pub mod grid;
mod load;
mod lookup;
mod nc_cache;
mod physical;
mod portable;
mod shrink;
pub mod source;
pub mod warp;
mod window;
pub mod windows;

pub use align::{to_daily, to_daily_map, Alignment};
pub(crate) use load::measurements;
pub use load::{load, plan, GroupBy, LoadRequest, Plan};
pub use physical::{Packing, Unpacked};
pub use portable::{PortableDataset, PortableGrid, PortablePlan, PortableStep};
pub use warp::Resampling;

/// One measurement of a stack: a (time, y, x) array on the stack's grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Measurement name.
    pub name: String,
    /// eo3 dtype the values are stored in (`int16`, `uint16`, `float32`, …); values are held as f64
    /// (exact for every dtype up to 32 bits) and cast back when written.
    pub dtype: String,
    /// Nodata value (NaN for float products that declare `nodata: NaN`).
    pub nodata: Option<f64>,
    /// Units, when the product declares them.
    pub units: Option<String>,
    /// The product's packing of its stored values (identity when it declares none); the values
    /// are stored values unless `unpacked` says otherwise.
    pub packing: Packing,
    /// Set when the values are physical: unpacked from the stored ones (recorded on output).
    pub unpacked: Option<Unpacked>,
    /// Values, time-major: pixel (row `r`, column `c`) of step `t` at `(t * height + r) * width + c`.
    pub data: Vec<f64>,
}

impl Layer {
    /// The slice of one time step.
    pub fn step(&self, t: usize, pixels: usize) -> &[f64] {
        &self.data[t * pixels..(t + 1) * pixels]
    }

    /// Whether `v` is this layer's nodata (NaN counts as nodata for float layers). Values are held
    /// as the dtype stores them, so a float32 nodata the product writes in decimal (IMERG's −9999.9)
    /// is also matched at float32 (−9999.900390625), as datacube compares it; the product's own value
    /// (what empty pixels are filled with) matches too.
    pub fn is_nodata(&self, v: f64) -> bool {
        self.nodata_test()(v)
    }

    /// `is_nodata` as a value that borrows nothing from the layer, for loops that write its data.
    pub fn nodata_test(&self) -> impl Fn(f64) -> bool + Copy {
        let (nodata, stored) = (
            self.nodata,
            self.nodata.map(|n| load::quantise(&self.dtype, n)),
        );
        move |v: f64| v.is_nan() || nodata == Some(v) || stored == Some(v)
    }
}

/// An assembled stack.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    /// Product the stack was read from (or the name given to a derived stack).
    pub product: String,
    /// The output grid.
    pub geobox: GeoBox,
    /// Time labels, one per step: the time of the group's first dataset, as `dc.load` labels steps.
    pub times: Vec<DateTime<Utc>>,
    /// Source dataset ids of each step (provenance).
    pub sources: Vec<Vec<Uuid>>,
    /// Time span of each step: earliest start and latest end of its datasets (`dtr:start_datetime`,
    /// `dtr:end_datetime`, else the dataset time). Composites are anchored at their start.
    pub spans: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// Measurements.
    pub layers: Vec<Layer>,
}

impl Stack {
    /// Pixels per time step.
    pub fn pixels(&self) -> usize {
        self.geobox.width * self.geobox.height
    }

    /// A measurement by name.
    pub fn layer(&self, name: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.name == name)
    }
}
