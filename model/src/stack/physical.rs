//! Physical values: a product's stored values unpacked with its measurements' `scale_factor` and
//! `add_offset` (CF packing) to float32, nodata becoming NaN. `dc.load` returns stored values, so a
//! stack stays stored unless asked (`etlake stack --physical`); models take physical values.
use crate::{Error, Layer, Result};
use serde_json::Value;

/// How stored values map to physical ones: physical = stored × `scale_factor` + `add_offset`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Packing {
    /// Multiplier.
    pub scale_factor: f64,
    /// Then added.
    pub add_offset: f64,
}

impl Packing {
    /// No packing: stored values are physical.
    pub const NONE: Packing = Packing {
        scale_factor: 1.0,
        add_offset: 0.0,
    };

    /// The packing a measurement definition declares (`scale_factor`, `add_offset`; 1 and 0 when
    /// absent). A value that is not a finite number is an error naming the product and measurement.
    pub fn of_measurement(product: &str, m: &Value) -> Result<Packing> {
        let name = m["name"].as_str().unwrap_or("?");
        let get = |key: &str, default: f64| -> Result<f64> {
            match &m[key] {
                Value::Null => Ok(default),
                v => v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| {
                    Error::Request(format!(
                        "product {product} measurement {name}: {key} {v} is not a finite number"
                    ))
                }),
            }
        };
        Ok(Packing {
            scale_factor: get("scale_factor", 1.0)?,
            add_offset: get("add_offset", 0.0)?,
        })
    }

    /// Whether this is no packing at all.
    pub fn is_none(&self) -> bool {
        *self == Packing::NONE
    }

    /// The physical value of a stored one.
    pub fn apply(&self, v: f64) -> f64 {
        v * self.scale_factor + self.add_offset
    }
}

/// What turned a layer's stored values into physical ones (recorded on output).
#[derive(Debug, Clone, PartialEq)]
pub struct Unpacked {
    /// The packing applied.
    pub packing: Packing,
    /// The stored dtype.
    pub dtype: String,
    /// The stored nodata (now NaN).
    pub nodata: Option<f64>,
}

/// `layer` with physical values: float32, nodata NaN, the packing applied and recorded. A layer
/// already physical is returned as it is.
pub fn unpack(mut layer: Layer) -> Layer {
    if layer.unpacked.is_some() {
        return layer;
    }
    let p = layer.packing;
    let nodata = layer.nodata;
    let missing = layer.nodata_test();
    for v in &mut layer.data {
        *v = if missing(*v) {
            f64::NAN
        } else {
            p.apply(*v) as f32 as f64
        };
    }
    layer.unpacked = Some(Unpacked {
        packing: p,
        dtype: std::mem::replace(&mut layer.dtype, "float32".into()),
        nodata,
    });
    layer.nodata = Some(f64::NAN);
    layer.packing = Packing::NONE;
    layer
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn packing_defaults_to_none_and_bad_values_name_the_measurement() {
        let m = json!({"name": "ndvi", "dtype": "int16", "scale_factor": 0.0001});
        let p = Packing::of_measurement("mod13q1_061", &m).unwrap();
        assert_eq!((p.scale_factor, p.add_offset), (0.0001, 0.0));
        assert!(Packing::of_measurement("x", &json!({"name": "a"}))
            .unwrap()
            .is_none());
        let e = Packing::of_measurement("x", &json!({"name": "a", "add_offset": "lots"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("product x measurement a: add_offset"), "{e}");
    }

    #[test]
    fn unpacking_scales_to_float32_and_turns_nodata_into_nan() {
        let l = Layer {
            name: "red".into(),
            dtype: "uint16".into(),
            nodata: Some(0.0),
            units: Some("1".into()),
            packing: Packing {
                scale_factor: 2.75e-05,
                add_offset: -0.2,
            },
            unpacked: None,
            data: vec![0.0, 7273.0, 43636.0, 65535.0],
        };
        let u = unpack(l);
        assert_eq!(u.dtype, "float32");
        assert!(u.nodata.unwrap().is_nan() && u.data[0].is_nan());
        assert_eq!(u.data[2], (43636.0f64 * 2.75e-05 - 0.2) as f32 as f64);
        assert_eq!(u.data[3], (65535.0f64 * 2.75e-05 - 0.2) as f32 as f64);
        let rec = u.unpacked.as_ref().unwrap();
        assert_eq!((rec.dtype.as_str(), rec.nodata), ("uint16", Some(0.0)));
        assert!(u.packing.is_none());
        // Unpacking twice changes nothing.
        let again = unpack(u.clone());
        assert_eq!((again.data[2], again.unpacked), (u.data[2], u.unpacked));
    }

    #[test]
    fn a_float32_nodata_written_in_decimal_is_nodata_at_float32() {
        // IMERG's product says −9999.9; a float32 file (and the stack) hold −9999.900390625.
        let stored = -9999.9f32 as f64;
        let l = Layer {
            name: "precipitation".into(),
            dtype: "float32".into(),
            nodata: Some(-9999.9),
            units: Some("mm/day".into()),
            packing: Packing::NONE,
            unpacked: None,
            data: vec![stored, 1.5],
        };
        assert!(l.is_nodata(stored) && !l.is_nodata(1.5));
        let u = unpack(l);
        assert!(u.data[0].is_nan(), "{:?}", u.data);
        assert_eq!(u.data[1], 1.5);
    }
}
