//! A minimal safe writer over the installed HDF-EOS2 library (GD* grid API) and HDF4's multifile SD
//! interface, enough to write one MODIS-style grid file: the grid and its GCTP projection through
//! HDF-EOS (so `StructMetadata.0` is the library's own), then the per-SDS attributes LP DAAC files carry
//! (`long_name`, `units`, `valid_range`, `scale_factor`, …) and the global ECS attributes through `SDsetattr`
//! after the grid file is closed. All `unsafe` of the MODIS writer lives here.
use std::ffi::{c_char, c_int, c_void, CString};
use std::path::Path;

type Int32 = i32;
type Intn = c_int;

#[link(name = "hdfeos")]
extern "C" {
    fn GDopen(name: *const c_char, access: Intn) -> Int32;
    fn GDcreate(
        fid: Int32,
        grid: *const c_char,
        x: Int32,
        y: Int32,
        ul: *const f64,
        lr: *const f64,
    ) -> Int32;
    fn GDdefproj(gid: Int32, proj: Int32, zone: Int32, sphere: Int32, parm: *const f64) -> Intn;
    fn GDdeforigin(gid: Int32, origin: Int32) -> Intn;
    fn GDdefcomp(gid: Int32, code: Int32, parm: *const Intn) -> Intn;
    fn GDdeftile(gid: Int32, code: Int32, rank: Int32, dims: *const Int32) -> Intn;
    fn GDdeffield(
        gid: Int32,
        name: *const c_char,
        dims: *const c_char,
        nt: Int32,
        merge: Int32,
    ) -> Intn;
    fn GDsetfillvalue(gid: Int32, name: *const c_char, fill: *const c_void) -> Intn;
    fn GDwritefield(
        gid: Int32,
        name: *const c_char,
        start: *const Int32,
        stride: *const Int32,
        edge: *const Int32,
        data: *const c_void,
    ) -> Intn;
    fn GDdetach(gid: Int32) -> Intn;
    fn GDclose(fid: Int32) -> Intn;
}

#[link(name = "mfhdfalt")]
extern "C" {
    fn SDstart(name: *const c_char, access: Int32) -> Int32;
    fn SDnametoindex(sd: Int32, name: *const c_char) -> Int32;
    fn SDselect(sd: Int32, index: Int32) -> Int32;
    fn SDsetattr(
        id: Int32,
        name: *const c_char,
        nt: Int32,
        count: Int32,
        data: *const c_void,
    ) -> Intn;
    fn SDendaccess(id: Int32) -> Intn;
    fn SDend(sd: Int32) -> Intn;
}

const DFACC_CREATE: Intn = 4;
const DFACC_WRITE: Int32 = 2;
const HDFE_COMP_DEFLATE: Int32 = 4;
const HDFE_TILE: Int32 = 1;
const HDFE_GD_UL: Int32 = 0;
const HDFE_NOMERGE: Int32 = 0;
/// GCTP projection code of the sinusoidal projection.
pub const GCTP_SNSOID: Int32 = 16;

/// HDF4 number types of the values written.
pub trait HdfValue: Copy {
    const NT: Int32;
}
impl HdfValue for i8 {
    const NT: Int32 = 20;
}
impl HdfValue for u8 {
    const NT: Int32 = 21;
}
impl HdfValue for i16 {
    const NT: Int32 = 22;
}
impl HdfValue for u16 {
    const NT: Int32 = 23;
}
impl HdfValue for i32 {
    const NT: Int32 = 24;
}
impl HdfValue for f64 {
    const NT: Int32 = 6;
}
const DFNT_CHAR8: Int32 = 4;

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL in HDF names")
}

fn ok(rc: Intn, what: &str) -> Result<(), String> {
    if rc < 0 {
        Err(format!("HDF-EOS: {what} failed"))
    } else {
        Ok(())
    }
}

/// One attribute value written with `SDsetattr`.
pub enum Attr {
    Text(String),
    F64(Vec<f64>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    U16(Vec<u16>),
    I32(Vec<i32>),
}

/// A grid file being written; fields first, then [`GridFile::finish`] closes it and sets attributes.
pub struct GridFile {
    path: String,
    fid: Int32,
    gid: Int32,
    x: usize,
    y: usize,
    attrs: Vec<(Option<String>, String, Attr)>,
}

impl GridFile {
    /// Creates the file and one grid of `x` × `y` cells with corners `ul`, `lr` (metres) in the GCTP
    /// projection `proj` with parameters `parm` and sphere code `sphere`.
    pub fn create(
        path: &Path,
        grid: &str,
        (x, y): (usize, usize),
        ul: [f64; 2],
        lr: [f64; 2],
        (proj, sphere, parm): (Int32, Int32, [f64; 13]),
    ) -> Result<GridFile, String> {
        let p = path.display().to_string();
        let _ = std::fs::remove_file(path);
        // SAFETY: valid C strings and arrays of the documented sizes (2 corners, 13 projection parameters).
        unsafe {
            let fid = GDopen(c(&p).as_ptr(), DFACC_CREATE);
            if fid < 0 {
                return Err(format!("HDF-EOS: cannot create {p}"));
            }
            let gid = GDcreate(
                fid,
                c(grid).as_ptr(),
                x as Int32,
                y as Int32,
                ul.as_ptr(),
                lr.as_ptr(),
            );
            if gid < 0 {
                GDclose(fid);
                return Err(format!("HDF-EOS: cannot create grid {grid} in {p}"));
            }
            let mut g = GridFile {
                path: p,
                fid,
                gid,
                x,
                y,
                attrs: vec![],
            };
            ok(GDdefproj(gid, proj, 0, sphere, parm.as_ptr()), "GDdefproj")?;
            ok(GDdeforigin(gid, HDFE_GD_UL), "GDdeforigin")?;
            g.attrs.clear();
            Ok(g)
        }
    }

    /// Defines and writes one `YDim,XDim` field with DEFLATE `level` in tiles of `tile` rows × columns,
    /// with its `_FillValue` (set through HDF-EOS, which writes the SDS attribute).
    pub fn field<T: HdfValue>(
        &mut self,
        name: &str,
        fill: T,
        level: i32,
        tile: [usize; 2],
        data: &[T],
    ) -> Result<(), String> {
        assert_eq!(data.len(), self.x * self.y, "{name}: one value per cell");
        let n = c(name);
        let what = format!("{}: {name}", self.path);
        // SAFETY: ids are open; arrays have the sizes the API reads (rank 2); data holds x*y values.
        unsafe {
            let tiles = [tile[0] as Int32, tile[1] as Int32];
            ok(GDdeftile(self.gid, HDFE_TILE, 2, tiles.as_ptr()), &what)?;
            let parm: [Intn; 5] = [level, 0, 0, 0, 0];
            ok(GDdefcomp(self.gid, HDFE_COMP_DEFLATE, parm.as_ptr()), &what)?;
            ok(
                GDdeffield(
                    self.gid,
                    n.as_ptr(),
                    c("YDim,XDim").as_ptr(),
                    T::NT,
                    HDFE_NOMERGE,
                ),
                &what,
            )?;
            ok(
                GDsetfillvalue(self.gid, n.as_ptr(), &fill as *const T as *const c_void),
                &what,
            )?;
            let start = [0, 0];
            let edge = [self.y as Int32, self.x as Int32];
            ok(
                GDwritefield(
                    self.gid,
                    n.as_ptr(),
                    start.as_ptr(),
                    std::ptr::null(),
                    edge.as_ptr(),
                    data.as_ptr() as *const c_void,
                ),
                &what,
            )?;
        }
        Ok(())
    }

    /// Queues an attribute: on the SDS named `sds`, or on the file (`None`).
    pub fn attr(&mut self, sds: Option<&str>, name: &str, value: Attr) {
        self.attrs
            .push((sds.map(str::to_string), name.to_string(), value));
    }

    /// Closes the grid file, then reopens it with the SD interface to set the queued attributes.
    pub fn finish(mut self) -> Result<(), String> {
        // SAFETY: ids are open and closed once; attribute buffers outlive the calls.
        unsafe {
            ok(GDdetach(self.gid), "GDdetach")?;
            ok(GDclose(self.fid), "GDclose")?;
            self.fid = -1;
            let sd = SDstart(c(&self.path).as_ptr(), DFACC_WRITE);
            if sd < 0 {
                return Err(format!("HDF4: cannot reopen {}", self.path));
            }
            for (sds, name, value) in std::mem::take(&mut self.attrs) {
                let target = match &sds {
                    None => sd,
                    Some(s) => {
                        let i = SDnametoindex(sd, c(s).as_ptr());
                        if i < 0 {
                            SDend(sd);
                            return Err(format!("HDF4: no SDS {s} in {}", self.path));
                        }
                        SDselect(sd, i)
                    }
                };
                let n = c(&name);
                let rc = match &value {
                    Attr::Text(t) => SDsetattr(
                        target,
                        n.as_ptr(),
                        DFNT_CHAR8,
                        t.len() as Int32,
                        t.as_ptr() as *const c_void,
                    ),
                    Attr::F64(v) => SDsetattr(
                        target,
                        n.as_ptr(),
                        f64::NT,
                        v.len() as Int32,
                        v.as_ptr() as *const c_void,
                    ),
                    Attr::I8(v) => SDsetattr(
                        target,
                        n.as_ptr(),
                        i8::NT,
                        v.len() as Int32,
                        v.as_ptr() as *const c_void,
                    ),
                    Attr::I16(v) => SDsetattr(
                        target,
                        n.as_ptr(),
                        i16::NT,
                        v.len() as Int32,
                        v.as_ptr() as *const c_void,
                    ),
                    Attr::U16(v) => SDsetattr(
                        target,
                        n.as_ptr(),
                        u16::NT,
                        v.len() as Int32,
                        v.as_ptr() as *const c_void,
                    ),
                    Attr::I32(v) => SDsetattr(
                        target,
                        n.as_ptr(),
                        i32::NT,
                        v.len() as Int32,
                        v.as_ptr() as *const c_void,
                    ),
                };
                if sds.is_some() {
                    SDendaccess(target);
                }
                if rc < 0 {
                    SDend(sd);
                    return Err(format!("HDF4: cannot set {name} in {}", self.path));
                }
            }
            ok(SDend(sd), "SDend")
        }
    }
}

impl Drop for GridFile {
    fn drop(&mut self) {
        if self.fid >= 0 {
            // SAFETY: still open (finish() sets fid to -1 after closing).
            unsafe {
                GDdetach(self.gid);
                GDclose(self.fid);
            }
        }
    }
}
