//! Writing genuine HDF-EOS2 grid files (what MODIS tiles are) through the HDF-EOS library, so GDAL
//! lists their fields as `HDF4_EOS:EOS_GRID` subdatasets exactly as it does for LP DAAC granules.
//! The unsafe FFI stays in this module; callers get a small safe API.
use std::ffi::{c_int, c_void, CString};
use std::path::Path;

#[link(name = "hdfeos")]
extern "C" {
    fn GDopen(filename: *const i8, access: c_int) -> i32;
    fn GDcreate(
        fid: i32,
        name: *const i8,
        xdim: i32,
        ydim: i32,
        upleft: *const f64,
        lowright: *const f64,
    ) -> i32;
    fn GDdefproj(
        grid: i32,
        projcode: i32,
        zonecode: i32,
        spherecode: i32,
        projparm: *const f64,
    ) -> c_int;
    fn GDdefpixreg(grid: i32, pixreg: i32) -> c_int;
    fn GDdeforigin(grid: i32, origin: i32) -> c_int;
    fn GDdeffield(
        grid: i32,
        name: *const i8,
        dimlist: *const i8,
        numbertype: i32,
        merge: i32,
    ) -> c_int;
    fn GDdefcomp(grid: i32, compcode: i32, compparm: *const c_int) -> c_int;
    fn GDsetfillvalue(grid: i32, name: *const i8, fill: *const c_void) -> c_int;
    fn GDwritefield(
        grid: i32,
        name: *const i8,
        start: *const i32,
        stride: *const i32,
        edge: *const i32,
        data: *const c_void,
    ) -> c_int;
    fn GDdetach(grid: i32) -> c_int;
    fn GDclose(fid: i32) -> c_int;
}

// The SD interface of the HDF4 library HDF-EOS is built on (Debian's `libhdf4-alt`), for SDS
// attributes HDF-EOS has no call for (`scale_factor`, `add_offset`).
#[link(name = "mfhdfalt")]
extern "C" {
    fn SDstart(name: *const i8, access: i32) -> i32;
    fn SDnametoindex(sd: i32, name: *const i8) -> i32;
    fn SDselect(sd: i32, index: i32) -> i32;
    fn SDsetattr(sds: i32, name: *const i8, nt: i32, count: i32, data: *const c_void) -> c_int;
    fn SDendaccess(sds: i32) -> c_int;
    fn SDend(sd: i32) -> c_int;
}

const DFACC_CREATE: c_int = 4;
const DFACC_WRITE: i32 = 2;
const DFNT_FLOAT64: i32 = 6;
const GCTP_SNSOID: i32 = 16;
const HDFE_CORNER: i32 = 1;
const HDFE_GD_UL: i32 = 0;
const HDFE_NOMERGE: i32 = 0;
const HDFE_COMP_DEFLATE: i32 = 4;

/// MODIS sinusoidal sphere radius (m).
pub const MODIS_SPHERE_RADIUS: f64 = 6371007.181;
/// MODIS tile size (m): 20015109.354 / 18.
pub const MODIS_TILE_SIZE: f64 = 1111950.5196666666;

/// Upper-left corner of MODIS tile (h, v) in sinusoidal metres.
pub fn modis_tile_upper_left(h: u32, v: u32) -> (f64, f64) {
    (
        -20015109.354 + h as f64 * MODIS_TILE_SIZE,
        10007554.677 - v as f64 * MODIS_TILE_SIZE,
    )
}

/// Writes a MOD13Q1-style granule of tile (h, v) at `size` × `size` pixels: every SDS of the
/// `MODIS_Grid_16DAY_250m_500m_VI` grid, NDVI as given (EVI half of it), constant QA and reflectances.
pub fn mod13q1_tile(
    path: &Path,
    h: u32,
    v: u32,
    size: usize,
    ndvi: &[i16],
    doy: u32,
) -> Result<(), HdfEosError> {
    let n = size * size;
    let mut g = GridWriter::modis_tile(path, "MODIS_Grid_16DAY_250m_500m_VI", h, v, size, size)?;
    // The 12 SDS in LP DAAC's order (the MeasuredParameter list of a real MOD13Q1.061 .hdf.xml).
    g.field("250m 16 days NDVI", -3000i16, ndvi)?;
    let evi: Vec<i16> = ndvi.iter().map(|x| x / 2).collect();
    g.field("250m 16 days EVI", -3000i16, &evi)?;
    g.field("250m 16 days VI Quality", 65535u16, &vec![2116u16; n])?;
    for sds in ["red", "NIR", "blue", "MIR"] {
        g.field(
            &format!("250m 16 days {sds} reflectance"),
            -1000i16,
            &vec![900i16; n],
        )?;
    }
    // Zenith angles in hundredths of a degree, the relative azimuth in tenths (valid ±3600).
    g.field(
        "250m 16 days view zenith angle",
        -10000i16,
        &vec![1200i16; n],
    )?;
    g.field(
        "250m 16 days sun zenith angle",
        -10000i16,
        &vec![3500i16; n],
    )?;
    g.field(
        "250m 16 days relative azimuth angle",
        -4000i16,
        &vec![-900i16; n],
    )?;
    g.field(
        "250m 16 days composite day of the year",
        -1i16,
        &vec![(doy + 7) as i16; n],
    )?;
    g.field("250m 16 days pixel reliability", -1i8, &vec![0i8; n])?;
    // MODIS land's divide convention (stored ÷ 10000) [unverified for MOD13Q1 itself].
    for sds in [
        "NDVI",
        "EVI",
        "red reflectance",
        "NIR reflectance",
        "blue reflectance",
        "MIR reflectance",
    ] {
        g.packing(&format!("250m 16 days {sds}"), 10000.0, 0.0);
    }
    g.finish()
}

/// Pixel types HDF-EOS can store.
pub trait Pixel: Copy {
    /// The HDF number type code.
    const NUMBER_TYPE: i32;
}
impl Pixel for i8 {
    const NUMBER_TYPE: i32 = 20;
}
impl Pixel for u8 {
    const NUMBER_TYPE: i32 = 21;
}
impl Pixel for i16 {
    const NUMBER_TYPE: i32 = 22;
}
impl Pixel for u16 {
    const NUMBER_TYPE: i32 = 23;
}

/// An error from the HDF-EOS library, naming the file and call.
#[derive(Debug)]
pub struct HdfEosError(pub String);
impl std::fmt::Display for HdfEosError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for HdfEosError {}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL in HDF-EOS names")
}

/// One grid being written into a new file. Fields are written with [`GridWriter::field`]; the file
/// is complete when the writer is finished.
pub struct GridWriter {
    fid: i32,
    grid: i32,
    width: usize,
    height: usize,
    path: String,
    /// `(field, scale_factor, add_offset)` written as SDS attributes once HDF-EOS has closed the file.
    packing: Vec<(String, f64, f64)>,
    /// Held from creation to close (the field's drop comes after `Drop::drop` closed the file).
    _lock: std::sync::MutexGuard<'static, ()>,
}

impl GridWriter {
    /// Creates `path` with one sinusoidal grid of `width` × `height` pixels covering MODIS tile (h, v).
    pub fn modis_tile(
        path: &Path,
        grid_name: &str,
        h: u32,
        v: u32,
        width: usize,
        height: usize,
    ) -> Result<GridWriter, HdfEosError> {
        let lock = crate::c_library_lock();
        let p = path.display().to_string();
        let err = |call: &str| HdfEosError(format!("{p}: {call} failed"));
        let (x0, y0) = modis_tile_upper_left(h, v);
        let ul = [x0, y0];
        let lr = [x0 + MODIS_TILE_SIZE, y0 - MODIS_TILE_SIZE];
        let mut parms = [0.0f64; 13];
        parms[0] = MODIS_SPHERE_RADIUS;
        // SAFETY: all pointers are valid for the duration of each call; ids are checked.
        unsafe {
            let fid = GDopen(cstr(&p).as_ptr(), DFACC_CREATE);
            if fid < 0 {
                return Err(err("GDopen"));
            }
            let grid = GDcreate(
                fid,
                cstr(grid_name).as_ptr(),
                width as i32,
                height as i32,
                ul.as_ptr(),
                lr.as_ptr(),
            );
            if grid < 0 {
                GDclose(fid);
                return Err(err("GDcreate"));
            }
            let w = GridWriter {
                fid,
                grid,
                width,
                height,
                path: p.clone(),
                packing: Vec::new(),
                _lock: lock,
            };
            if GDdefproj(grid, GCTP_SNSOID, 0, -1, parms.as_ptr()) < 0 {
                return Err(err("GDdefproj"));
            }
            if GDdefpixreg(grid, HDFE_CORNER) < 0 || GDdeforigin(grid, HDFE_GD_UL) < 0 {
                return Err(err("GDdefpixreg/GDdeforigin"));
            }
            Ok(w)
        }
    }

    /// Defines and writes one field (row-major, `height` × `width`) with its fill value.
    pub fn field<T: Pixel>(&mut self, name: &str, fill: T, data: &[T]) -> Result<(), HdfEosError> {
        assert_eq!(
            data.len(),
            self.width * self.height,
            "field {name}: data size"
        );
        let err =
            |call: &str| HdfEosError(format!("{}: {call} of field {name:?} failed", self.path));
        let n = cstr(name);
        let start = [0i32, 0];
        let edge = [self.height as i32, self.width as i32];
        // SAFETY: as above; `data` outlives the call and matches `edge`.
        unsafe {
            // Deflate, as LP DAAC's granules are compressed.
            let level: [c_int; 5] = [6, 0, 0, 0, 0];
            if GDdefcomp(self.grid, HDFE_COMP_DEFLATE, level.as_ptr()) < 0 {
                return Err(err("GDdefcomp"));
            }
            if GDdeffield(
                self.grid,
                n.as_ptr(),
                cstr("YDim,XDim").as_ptr(),
                T::NUMBER_TYPE,
                HDFE_NOMERGE,
            ) < 0
            {
                return Err(err("GDdeffield"));
            }
            if GDsetfillvalue(self.grid, n.as_ptr(), &fill as *const T as *const c_void) < 0 {
                return Err(err("GDsetfillvalue"));
            }
            if GDwritefield(
                self.grid,
                n.as_ptr(),
                start.as_ptr(),
                std::ptr::null(),
                edge.as_ptr(),
                data.as_ptr() as *const c_void,
            ) < 0
            {
                return Err(err("GDwritefield"));
            }
        }
        Ok(())
    }

    /// Gives field `name` the SDS attributes `scale_factor` and `add_offset` (float64), as MODIS land
    /// products carry them (MOD13Q1 NDVI: 10000 and 0, meaning stored ÷ 10000).
    pub fn packing(&mut self, name: &str, scale_factor: f64, add_offset: f64) {
        self.packing
            .push((name.to_string(), scale_factor, add_offset));
    }

    /// Closes the grid and the file, then writes the fields' packing attributes.
    pub fn finish(mut self) -> Result<(), HdfEosError> {
        self.close()?;
        if self.packing.is_empty() {
            return Ok(());
        }
        let err = |what: String| HdfEosError(format!("{}: {what} failed", self.path));
        // SAFETY: the file was closed by HDF-EOS; ids are checked and released once.
        unsafe {
            let sd = SDstart(cstr(&self.path).as_ptr(), DFACC_WRITE);
            if sd < 0 {
                return Err(err("SDstart".into()));
            }
            let mut result = Ok(());
            for (name, scale, offset) in &self.packing {
                let index = SDnametoindex(sd, cstr(name).as_ptr());
                let sds = if index < 0 { -1 } else { SDselect(sd, index) };
                let ok = sds >= 0
                    && SDsetattr(
                        sds,
                        cstr("scale_factor").as_ptr(),
                        DFNT_FLOAT64,
                        1,
                        (scale as *const f64).cast(),
                    ) >= 0
                    && SDsetattr(
                        sds,
                        cstr("add_offset").as_ptr(),
                        DFNT_FLOAT64,
                        1,
                        (offset as *const f64).cast(),
                    ) >= 0;
                if sds >= 0 {
                    SDendaccess(sds);
                }
                if !ok {
                    result = Err(err(format!("packing attributes of field {name:?}")));
                    break;
                }
            }
            if SDend(sd) < 0 && result.is_ok() {
                result = Err(err("SDend".into()));
            }
            result
        }
    }

    fn close(&mut self) -> Result<(), HdfEosError> {
        if self.fid < 0 {
            return Ok(());
        }
        // SAFETY: ids come from GDopen/GDcreate and are closed once.
        let ok = unsafe { GDdetach(self.grid) >= 0 && GDclose(self.fid) >= 0 };
        self.fid = -1;
        if ok {
            Ok(())
        } else {
            Err(HdfEosError(format!("{}: closing failed", self.path)))
        }
    }
}

impl Drop for GridWriter {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
