//! Whole objects through GDAL's virtual file systems (`/vsis3/…`, `/vsimem/…`): read, write, remove.
//! A run writing to `s3://` keeps its outputs and its ledger there through the same GDAL S3 client
//! (endpoint, credentials, retries) that reads the lake, so nothing else needs configuring; GDAL's
//! S3 writer sends an object in one PUT, or as a multipart upload beyond `VSIS3_CHUNK_SIZE` (50 MB by
//! default).
use crate::{Error, Result};
use std::ffi::CString;

/// The GDAL path of an `s3://bucket/key` URL (`/vsis3/bucket/key`); None for anything else.
pub fn gdal_s3(url: &str) -> Option<String> {
    url.strip_prefix("s3://")
        .map(|rest| format!("/vsis3/{rest}"))
}

fn c(path: &str) -> Result<CString> {
    CString::new(path).map_err(|e| Error::Request(format!("{path}: {e}")))
}

fn last_error() -> String {
    // SAFETY: GDAL returns a pointer to its thread-local message (never freed by us), or null.
    let msg = unsafe { gdal_sys::CPLGetLastErrorMsg() };
    if msg.is_null() {
        return String::new();
    }
    // SAFETY: non-null, NUL-terminated by GDAL.
    unsafe { std::ffi::CStr::from_ptr(msg) }
        .to_string_lossy()
        .into_owned()
}

/// Forgets what GDAL cached about objects under `prefix` (their existence, size, listing), so that a
/// read sees what another process wrote since.
pub fn forget(prefix: &str) {
    if let Ok(p) = c(prefix) {
        // SAFETY: a NUL-terminated string GDAL only reads.
        unsafe { gdal_sys::VSICurlPartialClearCache(p.as_ptr()) };
    }
}

/// The bytes of `path`, or None when there is no such object.
pub fn read(path: &str) -> Result<Option<Vec<u8>>> {
    let p = c(path)?;
    // SAFETY: `stat` is plain data GDAL fills; the path is NUL-terminated.
    let exists = unsafe {
        let mut stat: gdal_sys::VSIStatBufL = std::mem::zeroed();
        gdal_sys::VSIStatL(p.as_ptr(), &mut stat) == 0
    };
    if !exists {
        return Ok(None);
    }
    let mut buf: *mut u8 = std::ptr::null_mut();
    let mut len: gdal_sys::vsi_l_offset = 0;
    // SAFETY: GDAL allocates `buf` (freed below with VSIFree) and sets `len`; a null handle makes it
    // open the path itself.
    let ok = unsafe {
        gdal_sys::VSIIngestFile(std::ptr::null_mut(), p.as_ptr(), &mut buf, &mut len, -1)
    };
    if ok == 0 || buf.is_null() {
        return Err(Error::Read {
            object: path.to_string(),
            message: format!("cannot read: {}", last_error()),
        });
    }
    // SAFETY: `buf` holds `len` bytes GDAL wrote; copied out before it is freed.
    let bytes = unsafe { std::slice::from_raw_parts(buf, len as usize) }.to_vec();
    // SAFETY: allocated by GDAL's VSIMalloc family.
    unsafe { gdal_sys::VSIFree(buf.cast()) };
    Ok(Some(bytes))
}

/// Writes `bytes` as the whole of `path` (an S3 object is there once this returns: GDAL completes
/// the upload when the file is closed, and reports a failed one there).
pub fn write(path: &str, bytes: &[u8]) -> Result<()> {
    let fail = |message: String| Error::Write {
        path: path.to_string(),
        message,
    };
    let p = c(path)?;
    let mode = c("wb")?;
    // SAFETY: the handle is checked for null and closed on every path; `bytes` outlives the write.
    unsafe {
        let fp = gdal_sys::VSIFOpenL(p.as_ptr(), mode.as_ptr());
        if fp.is_null() {
            return Err(fail(format!("cannot create: {}", last_error())));
        }
        let written = gdal_sys::VSIFWriteL(bytes.as_ptr().cast(), 1, bytes.len(), fp);
        let closed = gdal_sys::VSIFCloseL(fp);
        if written != bytes.len() || closed != 0 {
            return Err(fail(format!(
                "upload failed ({written} of {} bytes written): {}",
                bytes.len(),
                last_error()
            )));
        }
    }
    Ok(())
}

/// Takes the bytes of an in-memory file (`/vsimem/…`) and removes it.
pub fn take_mem(path: &str) -> Result<Vec<u8>> {
    let p = c(path)?;
    let mut len: gdal_sys::vsi_l_offset = 0;
    // SAFETY: with bUnlinkAndSeize the buffer becomes ours (freed with VSIFree) and the file is gone.
    let buf = unsafe { gdal_sys::VSIGetMemFileBuffer(p.as_ptr(), &mut len, 1) };
    if buf.is_null() {
        return Err(Error::Write {
            path: path.to_string(),
            message: "no such in-memory file".into(),
        });
    }
    // SAFETY: `buf` holds `len` bytes; copied before it is freed.
    let bytes = unsafe { std::slice::from_raw_parts(buf, len as usize) }.to_vec();
    // SAFETY: seized from GDAL's allocator.
    unsafe { gdal_sys::VSIFree(buf.cast()) };
    Ok(bytes)
}

/// Removes `dir` and everything under it (nothing to do when it is not there).
pub fn remove_tree(dir: &str) -> Result<()> {
    let p = c(dir)?;
    // SAFETY: NUL-terminated path GDAL only reads.
    let rc = unsafe { gdal_sys::VSIRmdirRecursive(p.as_ptr()) };
    forget(dir);
    if rc != 0 && read_dir_nonempty(dir) {
        return Err(Error::Write {
            path: dir.to_string(),
            message: format!("cannot remove: {}", last_error()),
        });
    }
    Ok(())
}

fn read_dir_nonempty(dir: &str) -> bool {
    let Ok(p) = c(dir) else { return false };
    // SAFETY: the list GDAL returns is freed with CSLDestroy.
    unsafe {
        let list = gdal_sys::VSIReadDir(p.as_ptr());
        let any = !list.is_null() && !(*list).is_null();
        gdal_sys::CSLDestroy(list);
        any
    }
}
