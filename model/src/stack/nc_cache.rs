//! netCDF's chunk cache, made large enough for day-by-day reads of yearly files. A NetCDF-4 variable
//! chunked over many days (gridMET: 61 days × 98 rows × 231 columns, deflate) is read a day (a GDAL
//! band) at a time; each read decompresses every chunk its window touches unless the chunk cache
//! still holds them from the day before. netCDF's default cache (16 MiB a variable) holds five such
//! chunks; a day of CONUS touches 36 (99 MB), so every chunk was decompressed once a day, 61 times
//! over: a year of one CONUS gridMET variable read day by day took 119 s, 2.7 s with a 256 MiB cache
//! (measured on a generated file of the real layout, README "Performance").
use std::sync::Once;

#[link(name = "netcdf")]
extern "C" {
    fn nc_set_chunk_cache(size: usize, nelems: usize, preemption: f32) -> i32;
    fn nc_get_chunk_cache(size: *mut usize, nelems: *mut usize, preemption: *mut f32) -> i32;
}

/// The chunk cache each NetCDF-4 variable opened from now on gets, at most (filled only by the
/// chunks read: ~100 MB for a day of a CONUS gridMET variable).
pub const CHUNK_CACHE_BYTES: usize = 128 << 20;

/// Raises netCDF's default chunk cache to [`CHUNK_CACHE_BYTES`] (once per process; a larger one set
/// by someone else is kept). Applies to files opened afterwards, through GDAL's netCDF driver too.
pub fn ensure_chunk_cache() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let (mut size, mut nelems, mut preemption) = (0usize, 0usize, 0f32);
        // SAFETY: plain out-parameters, then plain values; netCDF keeps these as process globals.
        unsafe {
            if nc_get_chunk_cache(&mut size, &mut nelems, &mut preemption) != 0 {
                tracing::debug!("netCDF chunk cache: cannot read the default");
                return;
            }
            if size < CHUNK_CACHE_BYTES
                && nc_set_chunk_cache(CHUNK_CACHE_BYTES, nelems, preemption) != 0
            {
                tracing::debug!("netCDF chunk cache: cannot set {CHUNK_CACHE_BYTES} bytes");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_chunk_cache_is_raised() {
        super::ensure_chunk_cache();
        let (mut size, mut nelems, mut preemption) = (0usize, 0usize, 0f32);
        // SAFETY: out-parameters only.
        let rc = unsafe { super::nc_get_chunk_cache(&mut size, &mut nelems, &mut preemption) };
        assert_eq!(rc, 0);
        assert!(size >= super::CHUNK_CACHE_BYTES, "{size}");
    }
}
