"""etlake as an odc-loader reader driver: ``dc.load(..., driver="etlake")`` (datacube 1.9's
driver-based load) and ``odc.stac.load(..., driver="etlake")`` read each source band with etlake's
Rust warp (the one ``etlake.load`` uses) instead of rasterio.

odc-loader's protocol (odc-loader 0.6.5, ``odc.loader.types.ReaderDriver``) is per band and per
file: the loader plans chunks, groups and fuses in Python and asks the driver's reader for one
source band warped onto one chunk's GeoBox. So this driver replaces rasterio's reads only; the
parallel, fused stack engine is ``etlake.load``. ``import etlake`` registers the name ``"etlake"``;
the dotted path ``"etlake.odc_driver.EtlakeDriver"`` works in any process without that import
(odc-loader imports it), e.g. on Dask workers.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

from . import _etlake

__all__ = ["EtlakeDriver", "EtlakeReader"]

_CONTAINERS = {".nc": "NetCDF", ".nc4": "NetCDF", ".h5": "HDF5", ".he5": "HDF5",
               ".hdf": "HDF4_EOS:EOS_GRID"}


def _crs_text(crs: Any) -> str:
    return f"EPSG:{crs.epsg}" if crs.epsg is not None else crs.to_wkt()


class EtlakeReader:
    """Reads one band of one file (an ``odc.loader.types.RasterReader``)."""

    def __init__(self, src: Any) -> None:
        self.src = src

    def read(self, cfg: Any, dst_geobox: Any, *, dst: Any = None, selection: Any = None):
        """The band warped onto ``dst_geobox``: ((y slice, x slice), pixels in ``cfg.dtype``),
        ``cfg``'s fill value where no source pixel lands (odc-loader's nodata fuser then fuses)."""
        from odc.loader._reader import resolve_dst_fill_value, resolve_src_nodata

        if selection is not None:
            raise ValueError("the etlake reader driver reads 2-D bands only (no band selection)")
        src = self.src
        meta_nodata = src.meta.nodata if src.meta is not None else None
        src_nodata = resolve_src_nodata(meta_nodata, cfg)
        dtype = np.dtype(cfg.dtype or (src.meta.data_type if src.meta is not None else "float32"))
        fill = resolve_dst_fill_value(dtype, cfg, src_nodata)
        uri = src.uri
        suffix = "." + uri.rsplit(".", 1)[-1].lower() if "." in uri else ""
        layer = src.subdataset
        fmt = _CONTAINERS.get(suffix, "GeoTIFF") if layer else "GeoTIFF"
        a = dst_geobox.affine
        grid = (_crs_text(dst_geobox.crs), int(dst_geobox.width), int(dst_geobox.height),
                [a.a, a.b, a.c, a.d, a.e, a.f])
        if uri.startswith("file://"):
            uri = uri[len("file://"):]
        values = _etlake.warp_source(
            uri, int(src.band or 1), layer, fmt, grid, resampling=str(cfg.resampling),
            src_nodata=None if src_nodata is None else float(src_nodata),
            dst_nodata=float(fill),
        )
        pix = values.astype(dtype)
        roi = (slice(0, pix.shape[0]), slice(0, pix.shape[1]))
        if dst is not None:
            dst[roi] = pix
            return roi, dst[roi]
        return roi, pix


class EtlakeDriver:
    """An ``odc.loader.types.ReaderDriver`` reading with etlake (no state, picklable)."""

    def new_load(self, geobox: Any, *, chunks: Any = None) -> dict[str, Any]:
        return {}

    def finalise_load(self, load_state: Any) -> Any:
        return load_state

    def capture_env(self) -> dict[str, Any]:
        return {}

    @contextlib.contextmanager
    def restore_env(self, env: dict[str, Any], load_state: Any) -> Iterator[dict[str, Any]]:
        yield {}

    def open(self, src: Any, ctx: Any) -> EtlakeReader:
        return EtlakeReader(src)

    @property
    def md_parser(self) -> None:
        return None

    @property
    def dask_reader(self) -> None:
        return None

    @property
    def aux_reader(self) -> None:
        return None


def register() -> bool:
    """Registers the ``"etlake"`` driver name with odc-loader when it is installed."""
    try:
        from odc.loader import register_driver
    except ImportError:
        return False
    register_driver("etlake", EtlakeDriver)
    return True
