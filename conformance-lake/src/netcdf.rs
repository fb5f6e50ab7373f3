//! A minimal safe writer over the installed libnetcdf (C API), enough to write NetCDF-4/HDF5 files with
//! groups, unsigned types, chunked DEFLATE and typed attributes exactly as a provider's file has them.
//! Kept here so no `unsafe` leaks into the family modules.
use std::ffi::{c_char, c_int, c_void, CString};
use std::path::Path;

#[link(name = "netcdf")]
extern "C" {
    fn nc_create(path: *const c_char, cmode: c_int, ncidp: *mut c_int) -> c_int;
    fn nc_def_grp(parent: c_int, name: *const c_char, ncid: *mut c_int) -> c_int;
    fn nc_def_dim(ncid: c_int, name: *const c_char, len: usize, idp: *mut c_int) -> c_int;
    fn nc_def_var(
        ncid: c_int,
        name: *const c_char,
        xtype: c_int,
        ndims: c_int,
        dimids: *const c_int,
        varidp: *mut c_int,
    ) -> c_int;
    fn nc_def_var_deflate(
        ncid: c_int,
        varid: c_int,
        shuffle: c_int,
        deflate: c_int,
        level: c_int,
    ) -> c_int;
    fn nc_def_var_chunking(
        ncid: c_int,
        varid: c_int,
        storage: c_int,
        chunks: *const usize,
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
const NC_CLOBBER: c_int = 0;
const NC_CHUNKED: c_int = 0;
/// Attribute or variable target meaning "the group itself".
pub const GLOBAL: c_int = -1;

/// NetCDF external types used by the providers' files.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NcType {
    Byte = 1,
    Short = 3,
    Int = 4,
    Float = 5,
    Double = 6,
    UShort = 8,
}

/// Rust element types that map to a NetCDF type.
pub trait NcValue: Copy {
    const TYPE: NcType;
}
impl NcValue for i8 {
    const TYPE: NcType = NcType::Byte;
}
impl NcValue for i16 {
    const TYPE: NcType = NcType::Short;
}
impl NcValue for i32 {
    const TYPE: NcType = NcType::Int;
}
impl NcValue for f32 {
    const TYPE: NcType = NcType::Float;
}
impl NcValue for f64 {
    const TYPE: NcType = NcType::Double;
}
impl NcValue for u16 {
    const TYPE: NcType = NcType::UShort;
}

fn check(code: c_int, what: &str) -> Result<(), String> {
    if code == 0 {
        return Ok(());
    }
    // SAFETY: nc_strerror returns a static NUL-terminated string for any code.
    let msg = unsafe { std::ffi::CStr::from_ptr(nc_strerror(code)) };
    Err(format!("netCDF: {what}: {}", msg.to_string_lossy()))
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL in netCDF names")
}

/// An open NetCDF-4 file in define mode (then data mode after [`File::enddef`]).
pub struct File {
    ncid: c_int,
    path: String,
    closed: bool,
}

/// A group (the root group is the file's ncid).
#[derive(Clone, Copy)]
pub struct Group(c_int);

/// A dimension and its length.
#[derive(Clone, Copy)]
pub struct Dim {
    id: c_int,
    len: usize,
}

/// A variable in a group.
#[derive(Clone, Copy)]
pub struct Var {
    grp: c_int,
    id: c_int,
    ty: NcType,
    len: usize,
}

impl File {
    /// Creates (clobbers) a NetCDF-4 (HDF5-based) file.
    pub fn create(path: &Path) -> Result<File, String> {
        let p = path.display().to_string();
        let mut ncid = 0;
        // SAFETY: valid C string and out-pointer.
        check(
            unsafe { nc_create(cstr(&p).as_ptr(), NC_NETCDF4 | NC_CLOBBER, &mut ncid) },
            &p,
        )?;
        Ok(File {
            ncid,
            path: p,
            closed: false,
        })
    }

    pub fn root(&self) -> Group {
        Group(self.ncid)
    }

    pub fn group(&self, parent: Group, name: &str) -> Result<Group, String> {
        let mut id = 0;
        // SAFETY: valid ids, C string and out-pointer.
        check(
            unsafe { nc_def_grp(parent.0, cstr(name).as_ptr(), &mut id) },
            name,
        )?;
        Ok(Group(id))
    }

    pub fn dim(&self, g: Group, name: &str, len: usize) -> Result<Dim, String> {
        let mut id = 0;
        // SAFETY: as above.
        check(
            unsafe { nc_def_dim(g.0, cstr(name).as_ptr(), len, &mut id) },
            name,
        )?;
        Ok(Dim { id, len })
    }

    /// Defines a variable; `deflate` = Some((level, chunk sizes)) for chunked DEFLATE storage.
    pub fn var(
        &self,
        g: Group,
        name: &str,
        ty: NcType,
        dims: &[Dim],
        deflate: Option<(i32, &[usize])>,
    ) -> Result<Var, String> {
        let len = dims.iter().map(|d| d.len).product();
        let dims: Vec<c_int> = dims.iter().map(|d| d.id).collect();
        let mut id = 0;
        // SAFETY: dims points at dims.len() ids.
        check(
            unsafe {
                nc_def_var(
                    g.0,
                    cstr(name).as_ptr(),
                    ty as c_int,
                    dims.len() as c_int,
                    dims.as_ptr(),
                    &mut id,
                )
            },
            name,
        )?;
        if let Some((level, chunks)) = deflate {
            assert_eq!(
                chunks.len(),
                dims.len(),
                "{name}: one chunk size per dimension"
            );
            // SAFETY: chunks has one entry per dimension.
            check(
                unsafe { nc_def_var_chunking(g.0, id, NC_CHUNKED, chunks.as_ptr()) },
                name,
            )?;
            // SAFETY: plain ints.
            check(unsafe { nc_def_var_deflate(g.0, id, 1, 1, level) }, name)?;
        }
        Ok(Var {
            grp: g.0,
            id,
            ty,
            len,
        })
    }

    /// A text attribute on a variable (`None` = the group's own attribute).
    pub fn text(&self, g: Group, v: Option<Var>, name: &str, value: &str) -> Result<(), String> {
        let target = v.map(|v| v.id).unwrap_or(GLOBAL);
        // SAFETY: value's bytes are passed with their length.
        check(
            unsafe {
                nc_put_att_text(
                    g.0,
                    target,
                    cstr(name).as_ptr(),
                    value.len(),
                    value.as_ptr() as *const c_char,
                )
            },
            name,
        )
    }

    /// A numeric attribute of the element type `T` (one or more values).
    pub fn num<T: NcValue>(
        &self,
        g: Group,
        v: Option<Var>,
        name: &str,
        values: &[T],
    ) -> Result<(), String> {
        let target = v.map(|v| v.id).unwrap_or(GLOBAL);
        // SAFETY: values points at values.len() elements of the declared type.
        check(
            unsafe {
                nc_put_att(
                    g.0,
                    target,
                    cstr(name).as_ptr(),
                    T::TYPE as c_int,
                    values.len(),
                    values.as_ptr() as *const c_void,
                )
            },
            name,
        )
    }

    /// Leaves define mode.
    pub fn enddef(&self) -> Result<(), String> {
        // SAFETY: valid ncid.
        check(unsafe { nc_enddef(self.ncid) }, &self.path)
    }

    /// Writes a whole variable; `data.len()` must equal the product of its dimensions.
    pub fn put<T: NcValue>(&self, v: Var, data: &[T]) -> Result<(), String> {
        assert_eq!(T::TYPE, v.ty, "element type of the data written");
        assert_eq!(data.len(), v.len, "{}: elements written", self.path);
        // SAFETY: data holds exactly the variable's element count of its type (asserted above).
        check(
            unsafe { nc_put_var(v.grp, v.id, data.as_ptr() as *const c_void) },
            &self.path,
        )
    }

    pub fn close(mut self) -> Result<(), String> {
        self.closed = true;
        // SAFETY: valid ncid, closed once.
        check(unsafe { nc_close(self.ncid) }, &self.path)
    }
}

impl Drop for File {
    fn drop(&mut self) {
        if !self.closed {
            // SAFETY: valid ncid, closed once.
            unsafe { nc_close(self.ncid) };
        }
    }
}
