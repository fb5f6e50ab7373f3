"""`odc.stac.load(items, driver=…)` (odc-stac 0.5.3, odc-loader 0.6.5) with etlake's reader driver
equals odc-stac's own rasterio read of the same items.

The items describe the CHIRPS files of conftest's lake as the STAC specification says an item does
(https://github.com/radiantearth/stac-spec/blob/v1.0.0/item-spec/item-spec.md: id, geometry, bbox,
datetime, assets with href and media type) with the projection extension v1.1.0 for the grid
(https://github.com/stac-extensions/projection/tree/v1.1.0: proj:epsg, proj:shape, proj:transform as the
file's affine) and the raster extension v1.1.0 for nodata and data type
(https://github.com/stac-extensions/raster/tree/v1.1.0: raster:bands). They are written from the
files' known layout (conftest.PLACES), not by etlake: what is tested is the reading.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from conftest import PLACES

pystac = pytest.importorskip("pystac")
odc_stac = pytest.importorskip("odc.stac")

PROJ = "https://stac-extensions.github.io/projection/v1.1.0/schema.json"
RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"


def items(root: Path) -> list:
    out = []
    for place, west, north in PLACES:
        east, south = west + 40 * 0.05, north - 20 * 0.05
        for day in (1, 2, 3):
            path = root / place / f"global_daily/tifs/p05/2023/chirps-v2.0.2023.01.{day:02}.tif"
            assert path.is_file(), path
            ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
            item = pystac.Item(
                id=f"{place}-2023-01-{day:02}",
                geometry={"type": "Polygon", "coordinates": [ring]},
                bbox=[west, south, east, north],
                datetime=dt.datetime(2023, 1, day, tzinfo=dt.timezone.utc),
                properties={
                    "proj:epsg": 4326,
                    "proj:shape": [20, 40],
                    "proj:transform": [0.05, 0.0, west, 0.0, -0.05, north, 0.0, 0.0, 1.0],
                },
                stac_extensions=[PROJ, RASTER],
                collection="chirps_v2_daily_p05",
            )
            item.add_asset("precip", pystac.Asset(
                href=str(path), media_type=pystac.MediaType.GEOTIFF, roles=["data"],
                extra_fields={"raster:bands": [{"nodata": -9999.0, "data_type": "float32"}]},
            ))
            out.append(item)
    return out


def test_odc_stac_load_with_the_etlake_driver_equals_rasterio(lake):
    import etlake
    from etlake import odc_driver

    found = items(lake.home / "lake")
    # Places a and b (b touches a's east edge), every day; place c lies far away and is not read.
    kw = dict(bands=["precip"], bbox=(-105.0, 40.0, -101.0, 41.0), crs="EPSG:4326",
              resolution=0.05, resampling="nearest")
    rio = odc_stac.load(found, **kw)
    assert rio.precip.shape == (3, 20, 80), rio.precip.shape
    # Each day's file holds the day number in every pixel: the read is not all fill.
    assert [float(v) for v in rio.precip.max(dim=("latitude", "longitude")).values] == [1, 2, 3]
    ours = odc_stac.load(found, driver="etlake.odc_driver.EtlakeDriver", **kw)
    xr.testing.assert_identical(ours, rio)
    # The registered name, lazily on Dask chunks; a grid offset by half a pixel (resampled).
    assert odc_driver.register()
    lazy = odc_stac.load(found, driver="etlake", chunks={"time": 1, "latitude": 10}, **kw)
    assert lazy.precip.chunks is not None
    xr.testing.assert_identical(lazy.compute(), rio)
    shifted = dict(kw, bbox=(-104.975, 40.025, -101.025, 40.975))
    xr.testing.assert_identical(odc_stac.load(found, driver="etlake", **shifted),
                                odc_stac.load(found, **shifted))
    # etlake.load reads the same pixels from the index (its own time labels and attributes aside).
    eager = etlake.load("chirps_v2_daily_p05", index=etlake.Index(lake.url), time=("2023-01-01", "2023-01-03"),
                        bbox=(-105.0, 40.0, -101.0, 41.0))
    np.testing.assert_array_equal(eager.precip.values, rio.precip.values)
