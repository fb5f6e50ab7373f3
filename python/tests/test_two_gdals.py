"""`datacube` (through the PyPI rasterio wheel, which bundles its own GDAL) and `etlake` (linked to
the system's GDAL) in one interpreter, imported in either order: a read through datacube, a search
and a load through etlake all work, and give the same answers whichever module came first. Both
GDALs are in the process, each used by its own module (each extension resolves its own libgdal)."""

from __future__ import annotations

import json

import pytest

from conftest import PRODUCT

SCRIPT = """
import json, sys
{imports}
dc = datacube.Datacube(app="etlake-pytest")
ds = dc.load(product={product!r}, time="2023-01-02", lon=(-104.5, -103.5), lat=(40.2, 40.8))
found = etlake.Index(sys.argv[1]).search({product!r}, time="2023-01-02", lon=(-104.5, -103.5), lat=(40.2, 40.8))
ours = etlake.load({product!r}, index=etlake.Index(sys.argv[1]), time="2023-01-02",
                  lon=(-104.5, -103.5), lat=(40.2, 40.8))
maps = open("/proc/self/maps").read()
gdals = sorted({{line.split()[-1].rsplit("/", 1)[-1] for line in maps.splitlines() if "libgdal" in line}})
print(json.dumps({{
    "dims": dict(ds.sizes),
    "values": sorted(set(ds.precip.values.ravel().tolist())),
    "found": sorted(str(d.id) for d in found),
    "dc_found": sorted(str(d.id) for d in dc.find_datasets(product={product!r}, time="2023-01-02",
                                                            lon=(-104.5, -103.5), lat=(40.2, 40.8))),
    "gdals": gdals,
    "load_identical": ours.identical(ds),
}}))
"""


@pytest.mark.parametrize("imports", ["import datacube, etlake", "import etlake, datacube"])
def test_both_orders(lake, imports):
    code = SCRIPT.format(imports=imports, product=PRODUCT)
    out = json.loads(lake.python(f"import sys; sys.argv.append({lake.url!r})\n" + code))
    assert out["dims"]["time"] == 1 and out["dims"]["latitude"] > 0, out
    # Day 2 everywhere: the pixels read through rasterio's GDAL are the file's.
    assert out["values"] == [2.0], out
    assert out["found"] == out["dc_found"] and len(out["found"]) == 1, out
    # etlake.load through the system GDAL returns what dc.load read through rasterio's.
    assert out["load_identical"] is True, out
    # Two GDALs in the process: rasterio's bundled copy (renamed libgdal-<hash>) and the system's.
    assert len(out["gdals"]) == 2, out
    assert any(g.startswith("libgdal-") for g in out["gdals"]), out
    assert any(g.startswith("libgdal.so") for g in out["gdals"]), out
