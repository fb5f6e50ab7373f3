"""`etlake.load` on the CHIRPS lake of conftest.py: `like=`/`geobox=` grids from odc-geo equal
`dc.load(like=…)`, a load across two tiles fuses as dc.load does, bad input raises the CLI's
errors, and a lazy load runs as a plain-data Dask graph — on a two-process LocalCluster, spread over
both workers, and unchanged through pickle."""

from __future__ import annotations

import pickle
import warnings

import cloudpickle
import dask
import numpy as np
import pytest
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.geom import box
from odc.geo.xr import xr_coords

import etlake
from conftest import PRODUCT, run_etlake

AREA = dict(lon=(-104.5, -102.6), lat=(40.2, 40.9))


def dc_load(lake, monkeypatch, **kw) -> xr.Dataset:
    import datacube

    monkeypatch.setenv("ODC_DEFAULT_DB_URL", lake.url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return datacube.Datacube(app="etlake-pytest").load(product=PRODUCT, **kw)


def test_across_tiles_and_aliases_equal_dc_load(lake, monkeypatch):
    # Tiles A and B meet at -103 degrees; day 3 of place C is archived and far away.
    theirs = dc_load(lake, monkeypatch, time=("2023-01-01", "2023-01-03"), **AREA)
    ours = etlake.load(PRODUCT, index=etlake.Index(lake.url), time=("2023-01-01", "2023-01-03"),
                       **AREA)
    xr.testing.assert_identical(ours, theirs)
    assert ours.sizes["time"] == 3 and set(np.unique(ours.precip.values)) >= {1.0, 2.0, 3.0}


@pytest.mark.parametrize("how", ["geobox", "like-geobox", "like-xarray"])
def test_like_and_geobox(lake, monkeypatch, how):
    area = box(-104.3, 40.3, -102.8, 40.8, crs="EPSG:4326").to_crs("EPSG:32613")
    gbox = GeoBox.from_geopolygon(area, resolution=2000)
    like = {"geobox": gbox, "like-geobox": gbox,
            "like-xarray": xr.Dataset(coords=xr_coords(gbox))}[how]
    theirs = dc_load(lake, monkeypatch, time="2023-01-02", like=gbox)
    kw = {"geobox": like} if how == "geobox" else {"like": like}
    ours = etlake.load(PRODUCT, index=etlake.Index(lake.url), time="2023-01-02", **kw)
    xr.testing.assert_identical(ours, theirs)
    assert ours.odc.geobox == gbox
    assert (ours.precip.values == 2.0).any()


def cli_error(lake, *args: str) -> str:
    out = run_etlake(lake, "--db", lake.url, "stack", "--out", str(lake.home / "x.nc"), *args,
                     check=False)
    assert out.returncode != 0, out.stdout
    return out.stderr


def test_errors_are_the_clis(lake):
    index = etlake.Index(lake.url)
    with pytest.raises(etlake.NotFoundError) as e:
        etlake.load("no_such_product", index=index, bbox=(-104.5, 40.2, -103.5, 40.8))
    assert str(e.value) in cli_error(lake, "--product", "no_such_product",
                                     "--bbox", "-104.5,40.2,-103.5,40.8")
    with pytest.raises(etlake.InvalidInputError, match="W < E") as e:
        etlake.load(PRODUCT, index=index, bbox=(-103.5, 40.2, -104.5, 40.8))
    with pytest.raises(etlake.InvalidInputError) as e:
        etlake.load(PRODUCT, index=index, bbox=(-104.5, 40.2, -103.5, 40.8), crs="EPSG:999999",
                    resolution=1000)
    assert "EPSG:999999" in str(e.value)
    assert str(e.value) in cli_error(lake, "--product", PRODUCT, "--bbox", "-104.5,40.2,-103.5,40.8",
                                     "--crs", "EPSG:999999", "--resolution", "1000")
    with pytest.raises(etlake.InvalidInputError, match="no dataset of product") as e:
        etlake.load(PRODUCT, index=index, time="2030-01-01", bbox=(-104.5, 40.2, -103.5, 40.8))
    with pytest.raises(etlake.InvalidInputError, match="no measurement"):
        etlake.load(PRODUCT, "nope", index=index, bbox=(-104.5, 40.2, -103.5, 40.8))
    with pytest.raises(KeyError, match="Unknown dask_chunk dimension"):
        etlake.load(PRODUCT, index=index, bbox=(-104.5, 40.2, -103.5, 40.8),
                    dask_chunks={"y": 4})


def test_unreadable_file_fails_the_chunk(lake, tmp_path):
    """A lazy load reads nothing before compute; a file gone by then fails the compute with the
    file named, never nodata."""
    import shutil

    lazy = etlake.load(PRODUCT, index=etlake.Index(lake.url), time="2023-01-01",
                       lon=(-104.5, -103.5), lat=(40.2, 40.8), dask_chunks={"latitude": 4})
    src = lake.home / "lake/a/global_daily/tifs/p05/2023/chirps-v2.0.2023.01.01.tif"
    moved = tmp_path / "moved.tif"
    shutil.move(src, moved)
    try:
        with pytest.raises(etlake.EtlakeError, match="chirps-v2.0.2023.01.01.tif"):
            lazy.compute(scheduler="sync")
    finally:
        shutil.move(moved, src)
    assert (lazy.compute(scheduler="sync").precip.values == 1.0).all()


def lists(parts):
    return [lists(p) for p in parts] if isinstance(parts, (list, tuple)) else parts


def test_lazy_on_a_local_cluster(lake):
    from dask.distributed import Client, LocalCluster

    kw = dict(index=etlake.Index(lake.url), time=("2023-01-01", "2023-01-03"), **AREA)
    eager = etlake.load(PRODUCT, **kw)
    lazy = etlake.load(PRODUCT, dask_chunks={"time": 1, "latitude": 5, "longitude": 13}, **kw)
    arr = lazy.precip.data
    assert arr.npartitions >= 12
    # The graph is plain data: pickled and unpickled, it computes the same pixels (in this process).
    graph = dict(arr.__dask_graph__())
    for dumps in (pickle.dumps, cloudpickle.dumps):
        again = pickle.loads(dumps(graph))
        parts = dask.get(again, arr.__dask_keys__())
        np.testing.assert_array_equal(np.block(lists(parts)), eager.precip.values)
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) \
            as cluster, Client(cluster) as client:
        with __import__("distributed").get_task_stream(client) as ts:
            computed = lazy.compute()
        xr.testing.assert_identical(computed, eager)
        reads = [t for t in ts.data if t["key"][0].startswith("etlake-load-read-")]
        assert len(reads) == arr.npartitions
        workers = {t["worker"] for t in reads}
        assert len(workers) == 2, workers
