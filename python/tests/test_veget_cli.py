"""`etlake.veget` on numpy and on Dask equals `etlake veget run` on the sample lake for the same
inputs, and `etlake.veget_run` is the CLI's run.

The lake is the demo's (`sample_lake`, written from CHIRPS v2.0's, gridMET's and the soil grids'
published layouts, see sample-lake/src/lake.rs). The run's grid is CHIRPS's own (EPSG:4326, 0.05°),
so the precipitation is read as stored; gridMET (1/24°) and the UTM soil grids are resampled by
nearest neighbour, which `dc.load` (datacube 1.9.20) reproduces: the inputs fed to `etlake.veget`
are `dc.load`'s, scaled and converted as the products' definitions say.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
import yaml

import etlake
from conftest import WORKSPACE, Lake, run_etlake

START, END = dt.date(2019, 10, 1), dt.date(2019, 10, 8)
DAYS = (END - START).days + 1
BBOX = [-105.5, 39.0, -104.5, 40.0]
PRODUCTS = ["chirps_v2_daily_p05", "gridmet_pet", "gridmet_pr", "gridmet_tmmn", "gridmet_tmmx", "soil_whc",
            "veget_daily", "veget_monthly", "veget_annual"]
DAILY = ("etasw", "etasw5", "etc", "netet", "swi", "swf", "snwpk", "swe", "snowmelt", "rain",
         "intercept", "srf", "dd")
CONSTANTS = {"ndvi": 0.55, "interception": 10.0, "water": 0.0}


def config(out: str) -> dict:
    return {
        "period": {"start": START, "end": END},
        "area": {"bbox": BBOX},
        "grid": {"crs": "EPSG:4326", "resolution": 0.05},
        "inputs": {
            "precipitation": {"product": "chirps_v2_daily_p05", "measurement": "precip"},
            "eto": {"product": "gridmet_pet"},
            "tmin": {"product": "gridmet_tmmn"},
            "tmax": {"product": "gridmet_tmmx"},
            "whc": {"product": "soil_whc", "measurement": "whc"},
            "field_capacity": {"product": "soil_whc", "measurement": "field_capacity"},
            "saturation": {"product": "soil_whc", "measurement": "saturation"},
            **{role: {"value": v} for role, v in CONSTANTS.items()},
        },
        "output": {"dir": out, "daily": True},
    }


@pytest.fixture(scope="module")
def veget_lake(tmp_path_factory: pytest.TempPathFactory):
    """The sample lake indexed into its own embedded cluster, and the CLI's run over it."""
    home = tmp_path_factory.mktemp("etlake-veget")
    for p in [home, *home.parents]:
        if str(p) == "/":
            break
        p.chmod(p.stat().st_mode | 0o055)
    lake = Lake(home)
    writer = WORKSPACE / "target/debug/examples/sample_lake"
    if not writer.is_file():
        pytest.fail(f"the sample lake writer is missing at {writer}: cargo build --examples -p sample-lake")
    subprocess.run([str(writer), str(home / "lake"), str(DAYS)], check=True, capture_output=True)
    run_etlake(lake, "db", "init")
    for p in PRODUCTS:
        run_etlake(lake, "product", "add", str(WORKSPACE / f"product-defs/products/{p}.odc-product.yaml"))
    run_etlake(lake, "index", *(str(home / "lake" / d) for d in ("CHIRPS-2.0", "gridmet", "soil")))
    status = run_etlake(lake, "db", "status").stdout
    lake.url = re.search(r"ODC_DEFAULT_DB_URL='([^']+)'", status).group(1)
    cfg = home / "cli.yaml"
    cfg.write_text(yaml.safe_dump(config("cli-out"), sort_keys=False))
    lake.cli_printed = run_etlake(lake, "veget", "run", "--no-index", str(cfg)).stdout
    lake.cli_out = home / "cli-out"
    yield lake
    run_etlake(lake, "db", "stop", check=False)


DC_LOAD = r"""
import sys, json, numpy as np, xarray as xr, datacube
from affine import Affine
from odc.geo.geobox import GeoBox
args = json.loads(sys.argv[1])
dc = datacube.Datacube()
gb = GeoBox(tuple(args["shape"]), Affine(*args["transform"]), "EPSG:4326")
out = {}
for role, product, measurement, dynamic in args["inputs"]:
    kw = {"time": (args["start"], args["end"])} if dynamic else {}
    d = dc.load(product=product, measurements=[measurement], like=gb, resampling="nearest", **kw)
    m = dc.index.products.get_by_name(product).measurements[measurement]
    v = d[measurement].values.astype("float64")
    v[d[measurement].values == m["nodata"]] = np.nan
    # The product's packing, then kelvin to degrees C, composed as one linear map.
    scale, offset = m.get("scale_factor", 1.0), m.get("add_offset", 0.0)
    if m["units"] == "K":
        offset = offset - 273.15
    v = v * scale + offset
    out[role] = (("time", "y", "x") if dynamic else ("y", "x"), v if dynamic else v[0])
xr.Dataset(out).to_netcdf(args["path"])
"""


def dc_inputs(lake, cli: xr.Dataset) -> dict:
    """The run's inputs as `dc.load` reads them onto the CLI's grid, in the roles' units, with the
    CLI's coordinates; the config's constants as numbers."""
    lon, lat = cli.longitude.values, cli.latitude.values
    res = 0.05
    args = {
        "shape": [lat.size, lon.size],
        "transform": [res, 0.0, lon[0] - res / 2, 0.0, -res, lat[0] + res / 2],
        "start": str(START), "end": str(END),
        "path": str(lake.home / "dc-inputs.nc"),
        "inputs": [
            ["precipitation", "chirps_v2_daily_p05", "precip", True],
            ["eto", "gridmet_pet", "pet", True],
            ["tmin", "gridmet_tmmn", "tmmn", True],
            ["tmax", "gridmet_tmmx", "tmmx", True],
            ["whc", "soil_whc", "whc", False],
            ["field_capacity", "soil_whc", "field_capacity", False],
            ["saturation", "soil_whc", "saturation", False],
        ],
    }
    import json

    out = subprocess.run(
        [sys.executable, "-c", DC_LOAD, json.dumps(args)],
        env=dict(lake.env, ODC_DEFAULT_DB_URL=lake.url), cwd=lake.home, capture_output=True,
        text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    loaded = xr.open_dataset(args["path"]).load()
    coords = {"time": cli.time.values, "latitude": lat, "longitude": lon}
    inputs: dict = dict(CONSTANTS)
    for role, v in loaded.data_vars.items():
        dims = ("time", "latitude", "longitude") if v.ndim == 3 else ("latitude", "longitude")
        inputs[role] = xr.DataArray(v.values, dims=dims, coords={d: coords[d] for d in dims})
    assert np.isfinite(inputs["precipitation"]).all() and np.isfinite(inputs["whc"]).all()
    return inputs


def cli_daily(lake) -> xr.Dataset:
    files = sorted((lake.cli_out / "daily").glob("veget_daily_*.nc"))
    assert len(files) == DAYS, files
    return xr.concat([xr.open_dataset(f).load() for f in files], dim="time", data_vars="all")


def cli_state(out) -> xr.Dataset:
    return xr.open_dataset(out / f"state/veget_state_{END:%Y%m%d}.nc").load().isel(time=0)


def test_numpy_and_dask_equal_the_cli_run(veget_lake):
    cli = cli_daily(veget_lake)
    inputs = dc_inputs(veget_lake, cli)
    eager = etlake.veget(inputs)
    assert eager.etasw.dims == ("time", "latitude", "longitude")
    assert (eager.time.values == cli.time.values).all()
    # The CLI writes daily values as float32 and computes in float64, as etlake.veget returns them;
    # it feeds the kernel f32 inputs (an index-driven run's), where etlake.veget takes the arrays as
    # given (float64 here): the same within the README's 1e-4 mm, missing values in the same places.
    valid = np.isfinite(cli.etasw.values).sum()
    assert valid == DAYS * 400, valid
    assert [v for v in eager.data_vars if v in cli.data_vars] == [*DAILY, "gap_days"]
    for name in DAILY:
        np.testing.assert_allclose(
            eager[name].values.astype("float32"), cli[name].values, rtol=0, atol=1e-4, err_msg=name
        )
    np.testing.assert_array_equal(eager.gap_days.values, cli.gap_days.values)
    state = cli_state(veget_lake.cli_out)
    np.testing.assert_allclose(eager.state_swf.values, state.swf.values, rtol=0, atol=1e-4)
    np.testing.assert_allclose(eager.state_snwpk.values, state.snwpk.values, rtol=0, atol=1e-4)

    assert (eager.state_snwpk.values > 0).any(), "the period has snow: melt is exercised"

    lazy = etlake.veget({r: v.chunk(latitude=7, longitude=6) if isinstance(v, xr.DataArray) else v
                         for r, v in inputs.items()})
    assert lazy.etasw.data.numblocks == (1, 3, 4)
    xr.testing.assert_identical(lazy.compute(), eager)

    # Resuming from the state half-way equals the whole run.
    first = etlake.veget({r: v.isel(time=slice(0, 3)) if "time" in getattr(v, "dims", ()) else v
                          for r, v in inputs.items()})
    second = etlake.veget({r: v.isel(time=slice(3, None)) if "time" in getattr(v, "dims", ()) else v
                           for r, v in inputs.items()}, state=first)
    xr.testing.assert_identical(second.etasw, eager.etasw.isel(time=slice(3, None)))
    xr.testing.assert_identical(second.state_swf, eager.state_swf)


FIND_DATASETS = r"""
import datacube
dc = datacube.Datacube()
for p in ("veget_daily", "veget_monthly", "veget_annual"):
    for d in dc.find_datasets(product=p):
        print(p, d.id, d.uri)
"""


def test_veget_run_is_the_cli_run(veget_lake, monkeypatch):
    monkeypatch.chdir(veget_lake.home)
    index = etlake.Index(veget_lake.url)
    defs = WORKSPACE / "product-defs"
    # no_index, as --no-index: the outputs are written and nothing is indexed.
    skipped = etlake.veget_run(config("py-out"), index=index, no_index=True, defs=defs)
    assert skipped["indexed"] is None
    assert index.search("veget_daily") == [] and veget_lake.python(FIND_DATASETS) == ""
    # By default the outputs are indexed back, as the CLI does.
    summary = etlake.veget_run(config("py-out"), index=index, defs=defs)
    indexed = summary["indexed"]
    # The daily, monthly and annual files; the state file and quicklooks are no product's.
    assert indexed["ok"] and indexed["counts"] == {"indexed": DAYS + 2, "skipped": 3}, indexed
    py_out = veget_lake.home / "py-out"
    found = {p: index.search(p) for p in ("veget_daily", "veget_monthly", "veget_annual")}
    assert [len(found[p]) for p in found] == [DAYS, 1, 1], found
    daily = sorted(d.uris[0] for d in found["veget_daily"])
    assert daily == sorted((py_out / "daily").resolve().as_uri() + f"/veget_daily_{day:%Y%m%d}.nc"
                           for day in (START + dt.timedelta(days=i) for i in range(DAYS)))
    ours = sorted(f"{p} {d.id} {d.uris[0]}" for p, ds in found.items() for d in ds)
    assert sorted(veget_lake.python(FIND_DATASETS).splitlines()) == ours
    # A run over unchanged files indexes nothing again, as the CLI's re-run.
    again = etlake.veget_run(config("py-out"), index=index, defs=defs)
    assert again["indexed"]["counts"] == {"unchanged": DAYS + 2, "skipped": 3}, again["indexed"]
    assert len(index.search("veget_daily")) == DAYS
    printed = veget_lake.cli_printed
    assert f"{summary['days']} days on a {summary['shape'][1]}×{summary['shape'][0]} grid" in printed
    b = summary["balance"]
    assert f"water balance: {b['checked']} pixels checked, {b['failed']} failed" in printed
    assert b["checked"] == 400 and summary["crs"] == "EPSG:4326"
    assert [m["month"] for m in summary["months"]] == ["2019-10"]
    assert f"{summary['months'][0]['eta']:7.1f}" in printed
    assert sorted(p.relative_to(py_out) for p in py_out.rglob("*.nc")) == sorted(
        p.relative_to(veget_lake.cli_out) for p in veget_lake.cli_out.rglob("*.nc"))
    assert len(summary["files"]) == 13 and all(py_out.as_posix() in f for f in summary["files"])
    a, b = cli_state(veget_lake.cli_out), cli_state(py_out)
    xr.testing.assert_identical(a, b)
    day = f"daily/veget_daily_{END:%Y%m%d}.nc"
    xr.testing.assert_identical(xr.open_dataset(veget_lake.cli_out / day).load(),
                                xr.open_dataset(py_out / day).load())
    # The same config from a file; a bad one fails with the CLI's message.
    path = veget_lake.home / "bad.yaml"
    bad = config("bad-out")
    bad["params"] = {"melt_factr": 0.05}
    path.write_text(yaml.safe_dump(bad, sort_keys=False))
    cli = run_etlake(veget_lake, "veget", "run", "--no-index", str(path), check=False)
    assert cli.returncode == 1
    with pytest.raises(etlake.InvalidInputError) as e:
        etlake.veget_run(path, index=veget_lake.url)
    assert cli.stderr.strip().splitlines()[-1] == f"etlake: error: {e.value}"
    grid = xr.DataArray(np.zeros((2, 3, 4)), dims=("time", "y", "x"))
    inputs = {r: grid for r in ("precipitation", "eto", "tmin", "tmax")}
    inputs.update(whc=100, field_capacity=150, saturation=200, **CONSTANTS)
    assert etlake.veget(inputs).etasw.shape == (2, 3, 4)
    with pytest.raises(etlake.InvalidInputError) as e2:
        etlake.veget(inputs, params={"melt_factr": 0.05})
    assert str(e2.value) == str(e.value) == "params.melt_factr: not a VegET parameter"
