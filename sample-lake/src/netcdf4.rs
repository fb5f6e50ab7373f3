//! Writing NetCDF-4 (HDF5-based) files through the installed libnetcdf, for fixtures whose real files
//! are NetCDF-4: gridMET's packed `unsigned short` variables are not a NetCDF-3 type. The unsafe FFI
//! stays in this module; callers describe dimensions, variables and attributes as plain values.
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;

#[link(name = "netcdf")]
extern "C" {
    fn nc_create(path: *const c_char, cmode: c_int, ncidp: *mut c_int) -> c_int;
    fn nc_def_dim(ncid: c_int, name: *const c_char, len: usize, idp: *mut c_int) -> c_int;
    fn nc_def_var(
        ncid: c_int,
        name: *const c_char,
        xtype: c_int,
        ndims: c_int,
        dimids: *const c_int,
        varidp: *mut c_int,
    ) -> c_int;
    fn nc_def_var_chunking(
        ncid: c_int,
        varid: c_int,
        storage: c_int,
        chunks: *const usize,
    ) -> c_int;
    fn nc_def_var_deflate(
        ncid: c_int,
        varid: c_int,
        shuffle: c_int,
        deflate: c_int,
        level: c_int,
    ) -> c_int;
    fn nc_put_att(
        ncid: c_int,
        varid: c_int,
        name: *const c_char,
        xtype: c_int,
        len: usize,
        op: *const c_void,
    ) -> c_int;
    fn nc_put_att_text(
        ncid: c_int,
        varid: c_int,
        name: *const c_char,
        len: usize,
        op: *const c_char,
    ) -> c_int;
    fn nc_enddef(ncid: c_int) -> c_int;
    fn nc_put_var(ncid: c_int, varid: c_int, op: *const c_void) -> c_int;
    fn nc_close(ncid: c_int) -> c_int;
    fn nc_strerror(code: c_int) -> *const c_char;
}

const NC_NETCDF4: c_int = 0x1000;
const NC_GLOBAL: c_int = -1;
const NC_CHUNKED: c_int = 0;
const NC_SHORT: c_int = 3;
const NC_INT: c_int = 4;
const NC_FLOAT: c_int = 5;
const NC_DOUBLE: c_int = 6;
const NC_USHORT: c_int = 8;

/// An attribute value.
#[derive(Debug, Clone)]
pub enum Attr {
    /// `char` text.
    Text(String),
    /// `double`.
    Double(f64),
    /// `float`.
    Float(f32),
    /// `unsigned short`.
    UShort(u16),
    /// `short`.
    Short(i16),
}

/// A variable's values, in C order of its dimensions.
#[derive(Debug, Clone)]
pub enum Data {
    /// `double`.
    Double(Vec<f64>),
    /// `float`.
    Float(Vec<f32>),
    /// `int`.
    Int(Vec<i32>),
    /// `short`.
    Short(Vec<i16>),
    /// `unsigned short`.
    UShort(Vec<u16>),
}

/// One variable.
#[derive(Debug, Clone)]
pub struct Var {
    /// Name.
    pub name: String,
    /// Indices into the file's dimensions.
    pub dims: Vec<usize>,
    /// Attributes, written in this order (`_FillValue` must have the variable's type).
    pub attrs: Vec<(String, Attr)>,
    /// Values.
    pub data: Data,
    /// Chunk sizes and deflate level, or `None` for contiguous storage.
    pub chunks: Option<(Vec<usize>, i32)>,
}

/// A libnetcdf error naming the file and the call.
#[derive(Debug)]
pub struct NetCdfError(pub String);
impl std::fmt::Display for NetCdfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for NetCdfError {}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL in NetCDF names")
}

/// Writes a NetCDF-4 file: dimensions `(name, length)`, global attributes, variables.
pub fn write(
    path: &Path,
    dims: &[(&str, usize)],
    global: &[(String, Attr)],
    vars: &[Var],
) -> Result<(), NetCdfError> {
    let _lock = crate::c_library_lock();
    let p = path.display().to_string();
    let check = |code: c_int, what: &str| -> Result<(), NetCdfError> {
        if code == 0 {
            return Ok(());
        }
        // SAFETY: nc_strerror returns a static NUL-terminated string for any code.
        let msg = unsafe { CStr::from_ptr(nc_strerror(code)) }.to_string_lossy();
        Err(NetCdfError(format!("{p}: {what}: {msg}")))
    };
    let mut ncid: c_int = -1;
    // SAFETY: every pointer passed below points into a value that outlives the call; lengths match
    // the buffers (checked against the dimensions for variable data).
    unsafe {
        check(
            nc_create(cstr(&p).as_ptr(), NC_NETCDF4, &mut ncid),
            "nc_create",
        )?;
        let result = (|| {
            let mut dim_ids = Vec::new();
            for (name, len) in dims {
                let mut id = 0;
                check(
                    nc_def_dim(ncid, cstr(name).as_ptr(), *len, &mut id),
                    &format!("dimension {name}"),
                )?;
                dim_ids.push(id);
            }
            for (name, a) in global {
                put_attr(ncid, NC_GLOBAL, name, a)
                    .map_err(|c| check(c, &format!("global attribute {name}")).unwrap_err())?;
            }
            let mut var_ids = Vec::new();
            for v in vars {
                let ids: Vec<c_int> = v.dims.iter().map(|d| dim_ids[*d]).collect();
                let n: usize = v.dims.iter().map(|d| dims[*d].1).product();
                let (xtype, len) = match &v.data {
                    Data::Double(d) => (NC_DOUBLE, d.len()),
                    Data::Float(d) => (NC_FLOAT, d.len()),
                    Data::Int(d) => (NC_INT, d.len()),
                    Data::Short(d) => (NC_SHORT, d.len()),
                    Data::UShort(d) => (NC_USHORT, d.len()),
                };
                assert_eq!(len, n, "variable {}: data size", v.name);
                let mut id = 0;
                check(
                    nc_def_var(
                        ncid,
                        cstr(&v.name).as_ptr(),
                        xtype,
                        ids.len() as c_int,
                        ids.as_ptr(),
                        &mut id,
                    ),
                    &format!("variable {}", v.name),
                )?;
                if let Some((chunks, level)) = &v.chunks {
                    check(
                        nc_def_var_chunking(ncid, id, NC_CHUNKED, chunks.as_ptr()),
                        &format!("chunking of {}", v.name),
                    )?;
                    check(
                        nc_def_var_deflate(ncid, id, 0, 1, *level),
                        &format!("deflate of {}", v.name),
                    )?;
                }
                for (name, a) in &v.attrs {
                    put_attr(ncid, id, name, a).map_err(|c| {
                        check(c, &format!("attribute {}:{name}", v.name)).unwrap_err()
                    })?;
                }
                var_ids.push(id);
            }
            check(nc_enddef(ncid), "nc_enddef")?;
            for (v, id) in vars.iter().zip(var_ids) {
                let ptr = match &v.data {
                    Data::Double(d) => d.as_ptr() as *const c_void,
                    Data::Float(d) => d.as_ptr() as *const c_void,
                    Data::Int(d) => d.as_ptr() as *const c_void,
                    Data::Short(d) => d.as_ptr() as *const c_void,
                    Data::UShort(d) => d.as_ptr() as *const c_void,
                };
                check(nc_put_var(ncid, id, ptr), &format!("values of {}", v.name))?;
            }
            Ok(())
        })();
        let closed = nc_close(ncid);
        result?;
        check(closed, "nc_close")
    }
}

/// # Safety
/// `ncid`/`varid` must be an open file in define mode and one of its variables (or `NC_GLOBAL`).
unsafe fn put_attr(ncid: c_int, varid: c_int, name: &str, a: &Attr) -> Result<(), c_int> {
    let n = cstr(name);
    let code = match a {
        Attr::Text(t) => nc_put_att_text(ncid, varid, n.as_ptr(), t.len(), t.as_ptr().cast()),
        Attr::Double(x) => nc_put_att(
            ncid,
            varid,
            n.as_ptr(),
            NC_DOUBLE,
            1,
            (x as *const f64).cast(),
        ),
        Attr::Float(x) => nc_put_att(
            ncid,
            varid,
            n.as_ptr(),
            NC_FLOAT,
            1,
            (x as *const f32).cast(),
        ),
        Attr::UShort(x) => nc_put_att(
            ncid,
            varid,
            n.as_ptr(),
            NC_USHORT,
            1,
            (x as *const u16).cast(),
        ),
        Attr::Short(x) => nc_put_att(
            ncid,
            varid,
            n.as_ptr(),
            NC_SHORT,
            1,
            (x as *const i16).cast(),
        ),
    };
    if code == 0 {
        Ok(())
    } else {
        Err(code)
    }
}
