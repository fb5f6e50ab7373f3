//! Set-up that every thread opening lake files with GDAL needs, shared by the indexer and the model so
//! that both open files under the same rules.
//!
//! Today that is HDF5's diagnostics: NetCDF-4 and HDF5 files are read through libhdf5, whose
//! thread-safe build keeps its "print every error" switch per thread. libnetcdf turns printing off
//! on the thread that first initialises it, but every other worker thread prints a dozen-line
//! `HDF5-DIAG` trace to stderr each time GDAL probes an attribute a file does not have (a normal,
//! handled event): thousands of lines for a year of gridMET. etlake reports real failures itself,
//! naming the file, so the trace is switched off on each thread before its first open.
#![deny(missing_docs)]

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::sync::OnceLock;

/// `herr_t H5Eset_auto2(hid_t estack_id, H5E_auto2_t func, void *client_data)`; `hid_t` is 64-bit
/// since HDF5 1.10.
type SetAuto = unsafe extern "C" fn(i64, *const c_void, *mut c_void) -> c_int;

extern "C" {
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

/// `H5Eset_auto2` as the process has it (through GDAL's libhdf5), looked up once; `None` when no
/// HDF5 is loaded (then there is nothing to quiet).
fn set_auto() -> Option<SetAuto> {
    static FUNC: OnceLock<Option<SetAuto>> = OnceLock::new();
    *FUNC.get_or_init(|| {
        // SAFETY: dlsym with RTLD_DEFAULT (a null handle on glibc) and a NUL-terminated name only
        // reads the loaded objects' symbol tables.
        let p = unsafe { dlsym(std::ptr::null_mut(), c"H5Eset_auto2".as_ptr()) };
        // SAFETY: the symbol, when present, is HDF5's H5Eset_auto2 with the signature above.
        (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, SetAuto>(p) })
    })
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Switches HDF5's automatic error printing off on the calling thread (once per thread; cheap
/// afterwards). Call before opening a file with GDAL on any thread.
pub fn quiet_hdf5_diagnostics() {
    QUIET.with(|q| {
        if q.get() {
            return;
        }
        q.set(true);
        if let Some(f) = set_auto() {
            // SAFETY: H5E_DEFAULT (0) names the calling thread's default error stack; a null
            // function disables automatic printing. HDF5 errors are still returned to GDAL.
            unsafe {
                f(0, std::ptr::null(), std::ptr::null_mut());
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn quieting_is_idempotent_without_or_with_hdf5() {
        super::quiet_hdf5_diagnostics();
        super::quiet_hdf5_diagnostics();
        std::thread::spawn(super::quiet_hdf5_diagnostics)
            .join()
            .unwrap();
    }
}
