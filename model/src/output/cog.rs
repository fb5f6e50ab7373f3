//! One Cloud-Optimized GeoTIFF per time step of a stack layer, in the layer's dtype with its nodata,
//! built in memory and copied with GDAL's COG driver (DEFLATE).
use crate::{Error, Result, Stack};
use gdal::raster::{Buffer, GdalType};
use gdal::{Dataset, DriverManager};
use std::path::{Path, PathBuf};

fn mem<T: GdalType + Copy>(
    stack: &Stack,
    values: &[f64],
    cast: impl Fn(f64) -> T,
) -> gdal::errors::Result<Dataset> {
    let g = &stack.geobox;
    let (w, h) = (g.width, g.height);
    let mut ds =
        DriverManager::get_driver_by_name("MEM")?.create_with_band_type::<T, _>("", w, h, 1)?;
    ds.set_geo_transform(&g.gdal_transform())?;
    ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_definition(&g.crs)?)?;
    let mut b = ds.rasterband(1)?;
    b.write(
        (0, 0),
        (w, h),
        &mut Buffer::new((w, h), values.iter().map(|&v| cast(v)).collect()),
    )?;
    Ok(ds)
}

/// `{product}_{layer}_{YYYYMMDD}.tif`, with `THHMMSS` when the time is not midnight.
fn cog_name(stack: &Stack, layer: &str, time: &chrono::DateTime<chrono::Utc>) -> String {
    let stamp = if time.format("%H%M%S").to_string() == "000000" {
        time.format("%Y%m%d").to_string()
    } else {
        time.format("%Y%m%dT%H%M%S").to_string()
    };
    format!("{}_{layer}_{stamp}.tif", stack.product)
}

fn cog_driver(dir: &Path) -> Result<gdal::Driver> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Write {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    DriverManager::get_driver_by_name("COG").map_err(|e| Error::Write {
        path: dir.display().to_string(),
        message: e.to_string(),
    })
}

/// One COG per step of `layer`, converted by GDAL from the CF NetCDF `nc` that etlake wrote for the
/// stack `header` describes (the file is streamed: for stacks assembled band by band).
pub fn cogs_from_netcdf(
    dir: &Path,
    nc: &Path,
    header: &Stack,
    layer: &str,
) -> Result<Vec<PathBuf>> {
    let cog = cog_driver(dir)?;
    let mut out = Vec::with_capacity(header.times.len());
    for (t, time) in header.times.iter().enumerate() {
        let path = dir.join(cog_name(header, layer, time));
        let fail = |e: gdal::errors::GdalError| Error::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let step = Dataset::open(format!(
            "vrt://NETCDF:\"{}\":{layer}?bands={}",
            nc.display(),
            t + 1
        ))
        .map_err(fail)?;
        // GDAL derives the NetCDF's geotransform from its coordinate arrays (rounded in the last
        // bits): a virtual copy carries the grid's exact one, as the in-memory COGs do.
        let mut step = DriverManager::get_driver_by_name("VRT")
            .and_then(|vrt| step.create_copy(&vrt, "", &gdal::cpl::CslStringList::new()))
            .map_err(fail)?;
        step.set_geo_transform(&header.geobox.gdal_transform())
            .map_err(fail)?;
        copy_to_cog(&step, &cog, &path).map_err(fail)?;
        out.push(path);
    }
    Ok(out)
}

/// Copies a one-band dataset to a DEFLATE-compressed COG at `path`.
fn copy_to_cog(ds: &Dataset, cog: &gdal::Driver, path: &Path) -> gdal::errors::Result<()> {
    ds.create_copy(
        cog,
        path,
        &gdal::cpl::CslStringList::from_iter(["COMPRESS=DEFLATE"]),
    )
    .map(|_| ())
}

/// Step `t` of layer `l` of `stack` as an in-memory one-band dataset in the layer's dtype, with its
/// nodata.
fn step_dataset(stack: &Stack, l: &crate::Layer, t: usize) -> gdal::errors::Result<Dataset> {
    let v = l.step(t, stack.pixels());
    let whole = |x: f64| if x.is_nan() { 0.0 } else { x.round() };
    // GDAL 3.6 has no Int8 band type: int8 is written as Int16.
    let ds = match l.dtype.as_str() {
        "uint8" | "bool" => mem::<u8>(stack, v, |x| whole(x) as u8),
        "int8" | "int16" => mem::<i16>(stack, v, |x| whole(x) as i16),
        "uint16" => mem::<u16>(stack, v, |x| whole(x) as u16),
        "int32" => mem::<i32>(stack, v, |x| whole(x) as i32),
        "uint32" => mem::<u32>(stack, v, |x| whole(x) as u32),
        "float64" => mem::<f64>(stack, v, |x| x),
        _ => mem::<f32>(stack, v, |x| x as f32),
    }?;
    if let Some(nd) = l.nodata {
        ds.rasterband(1)?.set_no_data_value(Some(nd))?;
    }
    Ok(ds)
}

/// Writes step `t` of `layer` of `stack` as a DEFLATE COG at the GDAL path `path` (a file, or an
/// object under `/vsis3/`): made in memory by the COG driver, then written whole (see
/// [`super::vsi::write`]).
pub fn write_cog_at(path: &str, stack: &Stack, layer: &str, t: usize) -> Result<()> {
    let fail = |e: String| Error::Write {
        path: path.to_string(),
        message: e,
    };
    let l = stack.layer(layer).ok_or_else(|| {
        Error::Request(format!("stack of {} has no layer {layer:?}", stack.product))
    })?;
    let ds = step_dataset(stack, l, t).map_err(|e| fail(e.to_string()))?;
    let cog = DriverManager::get_driver_by_name("COG").map_err(|e| fail(e.to_string()))?;
    let mem = format!("/vsimem/etlake-cog-{}.tif", uuid::Uuid::new_v4());
    copy_to_cog(&ds, &cog, Path::new(&mem)).map_err(|e| fail(e.to_string()))?;
    drop(ds);
    let bytes = super::vsi::take_mem(&mem)?;
    super::vsi::write(path, &bytes)
}

/// Writes one COG per step of `layer` (named by [`cog_name`]) from a stack held in memory.
pub fn write_cogs(dir: &Path, stack: &Stack, layer: &str) -> Result<Vec<PathBuf>> {
    let l = stack.layer(layer).ok_or_else(|| {
        Error::Request(format!("stack of {} has no layer {layer:?}", stack.product))
    })?;
    let cog = cog_driver(dir)?;
    let mut out = Vec::with_capacity(stack.times.len());
    for (t, time) in stack.times.iter().enumerate() {
        let path = dir.join(cog_name(stack, layer, time));
        let fail = |e: gdal::errors::GdalError| Error::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let ds = step_dataset(stack, l, t).map_err(fail)?;
        copy_to_cog(&ds, &cog, &path).map_err(fail)?;
        out.push(path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::Packing;
    use crate::{GeoBox, Layer};
    use chrono::{TimeZone, Utc};

    #[test]
    fn one_cog_per_step_with_grid_and_nodata() {
        let g = GeoBox::from_bbox(
            "EPSG:32613",
            [499_980.0, 4_399_980.0, 500_280.0, 4_400_280.0],
            30.0,
            -30.0,
            None,
        )
        .unwrap();
        let n = g.width * g.height;
        let t = |h| Utc.with_ymd_and_hms(2020, 1, 2, h, 0, 0).unwrap();
        let s = Stack {
            product: "p".into(),
            geobox: g.clone(),
            times: vec![t(0), t(10)],
            sources: vec![vec![], vec![]],
            spans: vec![(t(0), t(0)), (t(10), t(10))],
            layers: vec![Layer {
                name: "qa".into(),
                dtype: "uint16".into(),
                nodata: Some(1.0),
                units: None,
                packing: Packing::NONE,
                unpacked: None,
                data: (0..2 * n).map(|i| i as f64).collect(),
            }],
        };
        let dir = tempfile::tempdir().unwrap();
        let files = write_cogs(dir.path(), &s, "qa").unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["p_qa_20200102.tif", "p_qa_20200102T100000.tif"]);
        let ds = Dataset::open(&files[1]).unwrap();
        assert_eq!(ds.raster_size(), (10, 10));
        assert_eq!(ds.geo_transform().unwrap(), g.gdal_transform());
        let b = ds.rasterband(1).unwrap();
        assert_eq!(b.no_data_value(), Some(1.0));
        let v = b
            .read_as::<u16>((0, 0), (10, 10), (10, 10), None)
            .unwrap()
            .into_shape_and_vec()
            .1;
        assert_eq!(v[0], n as u16);
        assert!(write_cogs(dir.path(), &s, "nope").is_err());
    }
}
