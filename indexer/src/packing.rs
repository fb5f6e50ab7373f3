//! Does a file store a measurement the way its product says? Compares the stored type, nodata and
//! packing (scale, offset) GDAL reports for a band with the product's measurement definition, and
//! explains a mismatch with both sides' values in one sentence.
//!
//! Conventions: CF files (NetCDF, HDF5) and GeoTIFF mean `physical = stored × scale + offset`, as
//! datacube's `scale_factor`/`add_offset` do. HDF4 SDS attributes are reported by GDAL as written, and
//! MODIS land products use them two ways: MOD13/MOD09 write `scale_factor = 10000` meaning
//! `physical = stored ÷ 10000` (MODIS land's "divide" reading), MOD11 writes `0.02` meaning
//! `stored × 0.02`, and its offsets add (`Emis_31`: `stored × 0.002 + 0.49` in the MOD11 user guide's
//! SDS table [secondary]), as in CF. A HDF4 scale above 1 is read as a divisor, anything else as a
//! CF multiplier: that is what tells those products apart.
//!
//! A file that declares no packing (Landsat's GeoTIFFs, a bare SDS) takes the product's, as a band
//! without nodata takes the product's nodata; only a declared packing that differs is refused.
//!
//! A packing that changes from file to file (a provider repacking a year) is refused file by file with
//! the same error: a product has one packing, so a second packing needs a product of its own.
use crate::extract::MeasurementDef;
use crate::raster::BandInfo;

/// A band's packing as `physical = stored × scale + offset`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Packing {
    /// Multiplier.
    pub scale: f64,
    /// Added after scaling.
    pub offset: f64,
}

impl Packing {
    /// No packing: stored values are physical.
    pub const IDENTITY: Packing = Packing {
        scale: 1.0,
        offset: 0.0,
    };

    /// The product's packing (`scale_factor`, `add_offset`; absent means 1 and 0).
    pub fn of_product(def: &MeasurementDef) -> Packing {
        Packing {
            scale: def.scale_factor.unwrap_or(1.0),
            offset: def.add_offset.unwrap_or(0.0),
        }
    }

    /// The file's packing from GDAL's band scale/offset, read in the file format's convention;
    /// `None` when the file declares neither (GeoTIFFs such as Landsat's carry none: the product's
    /// packing then applies, as its nodata does for a band that declares none).
    pub fn of_band(band: &BandInfo, file_format: &str) -> Option<Packing> {
        if band.scale.is_none() && band.offset.is_none() {
            return None;
        }
        let (s, o) = (band.scale.unwrap_or(1.0), band.offset.unwrap_or(0.0));
        // `+ 0.0` turns −0 into 0 for messages.
        Some(if file_format.starts_with("HDF4") && s > 1.0 {
            // MODIS land: physical = (stored − offset) ÷ scale.
            Packing {
                scale: 1.0 / s,
                offset: -o / s + 0.0,
            }
        } else {
            Packing {
                scale: s,
                offset: o,
            }
        })
    }

    /// Equal within what float32 attributes keep (0.1f32 is 0.10000000149…).
    fn same(&self, other: &Packing) -> bool {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1e-12);
        close(self.scale, other.scale)
            && (self.offset - other.offset).abs()
                <= 1e-6 * self.offset.abs().max(other.offset.abs()).max(1.0)
    }
}

/// numpy dtype name of a GDAL data type name.
pub fn numpy_dtype(gdal: &str) -> &str {
    match gdal {
        "Byte" => "uint8",
        "Int8" => "int8",
        "UInt16" => "uint16",
        "Int16" => "int16",
        "UInt32" => "uint32",
        "Int32" => "int32",
        "UInt64" => "uint64",
        "Int64" => "int64",
        "Float32" => "float32",
        "Float64" => "float64",
        other => other,
    }
}

/// What the comparison concluded when it accepted the band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// The file declares nodata, equal to the product's.
    Declared,
    /// The file declares no nodata: the product's applies (e.g. MOD13Q1 `pixel_reliability`).
    ProductNodata,
}

/// Compares one band with the product's measurement; `Err` is the whole message, starting with the
/// measurement name.
pub fn check(
    measurement: &str,
    band: &BandInfo,
    file_format: &str,
    product: &str,
    def: &MeasurementDef,
) -> Result<Accepted, String> {
    let dtype = numpy_dtype(&band.data_type);
    // GDAL < 3.7 has no Int8 type: it reads HDF4 int8 (MODIS pixel reliability) as Byte, with the
    // fill as its unsigned twin (-1 → 255). Accept exactly that combination.
    let gdal_int8 = def.dtype == "int8"
        && dtype == "uint8"
        && band
            .nodata
            .is_none_or(|n| n == (def.nodata as i8 as u8) as f64);
    let type_ok = dtype == def.dtype || gdal_int8;
    let nodata_ok = match band.nodata.filter(|_| !gdal_int8) {
        None => true,
        // A float32 band's nodata is the product's value rounded to float32 (-9999.9 → -9999.900390625).
        Some(nd) => {
            (nd.is_nan() && def.nodata.is_nan())
                || nd == def.nodata
                || (dtype == "float32" && nd as f32 == def.nodata as f32)
        }
    };
    let wanted = Packing::of_product(def);
    let file = Packing::of_band(band, file_format);
    if type_ok && nodata_ok && file.is_none_or(|f| f.same(&wanted)) {
        return Ok(if band.nodata.is_some() && !gdal_int8 {
            Accepted::Declared
        } else {
            Accepted::ProductNodata
        });
    }
    let nodata = band
        .nodata
        .map(|n| if gdal_int8 { n as u8 as i8 as f64 } else { n })
        .map_or("none".to_string(), fmt);
    let file = file.unwrap_or(Packing::IDENTITY);
    let mut message = format!(
        "{measurement}: the file stores {dtype} scale {} offset {} nodata {nodata}, product {product} says {} scale {} offset {} nodata {}",
        fmt(file.scale),
        fmt(file.offset),
        def.dtype,
        fmt(wanted.scale),
        fmt(wanted.offset),
        fmt(def.nodata),
    );
    if type_ok && nodata_ok {
        message.push_str(
            "; a product has one packing: define a product of its own for files packed this way",
        );
    }
    Err(message)
}

/// A number as a person writes it: `0.1`, `220`, `-9999.9`, `NaN`.
fn fmt(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    // Attributes are often float32 (0.1f32 = 0.100000001490116…): print them as written.
    if (v as f32 as f64 - v).abs() <= 1e-7 * v.abs() {
        format!("{}", v as f32)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn band(t: &str, nodata: Option<f64>, scale: Option<f64>, offset: Option<f64>) -> BandInfo {
        BandInfo {
            data_type: t.into(),
            nodata,
            scale,
            offset,
        }
    }

    fn def(dtype: &str, nodata: f64, scale: Option<f64>, offset: Option<f64>) -> MeasurementDef {
        MeasurementDef {
            dtype: dtype.into(),
            nodata,
            scale_factor: scale,
            add_offset: offset,
        }
    }

    #[test]
    fn gridmet_packing_matches_its_product_and_names_both_sides_when_not() {
        let file = band("UInt16", Some(32767.0), Some(0.1), None);
        let packed = def("uint16", 32767.0, Some(0.1), Some(0.0));
        assert_eq!(
            check("pr", &file, "NetCDF", "gridmet_pr", &packed),
            Ok(Accepted::Declared)
        );
        let float = def("float32", f64::NAN, None, None);
        assert_eq!(
            check("pr", &file, "NetCDF", "gridmet_pr", &float).unwrap_err(),
            "pr: the file stores uint16 scale 0.1 offset 0 nodata 32767, product gridmet_pr says float32 scale 1 offset 0 nodata NaN"
        );
        // Temperatures: a non-zero offset must match too.
        let tmmx = def("uint16", 32767.0, Some(0.1), Some(220.0));
        let file_t = band("UInt16", Some(32767.0), Some(0.1), Some(220.0));
        assert!(check("tmmx", &file_t, "NetCDF", "gridmet_tmmx", &tmmx).is_ok());
        let e = check("tmmx", &file, "NetCDF", "gridmet_tmmx", &tmmx).unwrap_err();
        assert!(
            e.contains(
                "offset 0 nodata 32767, product gridmet_tmmx says uint16 scale 0.1 offset 220"
            ) && e.contains("define a product of its own"),
            "{e}"
        );
        // Nodata differs.
        let e = check(
            "pr",
            &band("UInt16", Some(65535.0), Some(0.1), None),
            "NetCDF",
            "gridmet_pr",
            &packed,
        )
        .unwrap_err();
        assert!(
            e.contains(
                "nodata 65535, product gridmet_pr says uint16 scale 0.1 offset 0 nodata 32767"
            ),
            "{e}"
        );
    }

    #[test]
    fn float32_attributes_match_their_double_product_values() {
        let file = band("UInt16", Some(32767.0), Some(0.1f32 as f64), Some(220.0));
        let d = def("uint16", 32767.0, Some(0.1), Some(220.0));
        assert!(check("tmmn", &file, "NetCDF", "gridmet_tmmn", &d).is_ok());
    }

    fn d_ndvi() -> MeasurementDef {
        def("int16", -3000.0, Some(0.0001), None)
    }

    #[test]
    fn modis_hdf4_scale_is_read_in_its_own_convention() {
        // GDAL 3.6 reports MOD13Q1's SDS scale_factor 10000 as written (checked with gdalinfo on an
        // HDF-EOS grid field carrying scale_factor 10000, add_offset 0).
        let ndvi = band("Int16", Some(-3000.0), Some(10000.0), None);
        let d = def("int16", -3000.0, Some(0.0001), None);
        assert!(check("ndvi", &ndvi, "HDF4_EOS:EOS_GRID", "mod13q1_061", &d).is_ok());
        // The same attribute in a CF file would mean ×10000: refused.
        assert!(check("ndvi", &ndvi, "NetCDF", "mod13q1_061", &d).is_err());
        // MOD11-style multiplier.
        let lst = band("UInt16", Some(0.0), Some(0.02), None);
        let d = def("uint16", 0.0, Some(0.02), None);
        assert!(check("lst", &lst, "HDF4_EOS:EOS_GRID", "mod11a1_061", &d).is_ok());
        // ... whose offsets add: Emis_31 is stored × 0.002 + 0.49.
        let emis = band("Byte", Some(0.0), Some(0.002), Some(0.49));
        let d = def("uint8", 0.0, Some(0.002), Some(0.49));
        assert!(check("emis_31", &emis, "HDF4_EOS:EOS_GRID", "mod11a1_061", &d).is_ok());
        // An SDS declaring another packing: refused with both values, convention applied.
        let e = check(
            "ndvi",
            &band("Int16", Some(-3000.0), Some(1000.0), None),
            "HDF4_EOS:EOS_GRID",
            "mod13q1_061",
            &def("int16", -3000.0, Some(0.0001), None),
        )
        .unwrap_err();
        assert!(
            e.contains("scale 0.001 offset 0") && e.contains("scale 0.0001"),
            "{e}"
        );
        // An SDS (or a Landsat GeoTIFF) declaring no packing: the product's applies.
        let bare = band("Int16", Some(-3000.0), None, None);
        assert!(check("ndvi", &bare, "HDF4_EOS:EOS_GRID", "mod13q1_061", &d_ndvi()).is_ok());
    }

    #[test]
    fn gdal_36_int8_and_undeclared_nodata() {
        let d = def("int8", -1.0, None, None);
        // pixel_reliability: no _FillValue in the file.
        assert_eq!(
            check(
                "pixel_reliability",
                &band("Byte", None, None, None),
                "HDF4_EOS:EOS_GRID",
                "mod13q1_061",
                &d
            ),
            Ok(Accepted::ProductNodata)
        );
        assert!(check(
            "pixel_reliability",
            &band("Byte", Some(255.0), None, None),
            "HDF4_EOS:EOS_GRID",
            "mod13q1_061",
            &d
        )
        .is_ok());
        assert!(check(
            "pixel_reliability",
            &band("Byte", Some(7.0), None, None),
            "HDF4_EOS:EOS_GRID",
            "mod13q1_061",
            &d
        )
        .is_err());
        let f = def("float32", -9999.9, None, None);
        assert!(check(
            "precipitation",
            &band("Float32", Some(-9999.900390625), None, None),
            "NetCDF",
            "imerg",
            &f
        )
        .is_ok());
    }
}
