"""`etlake.veget` on synthetic aligned inputs: on a two-process `dask.distributed` cluster it equals
the eager run, spreads over both workers and its graph survives pickling; bad input (time in several
chunks, missing or unknown roles, shapes, coordinates, dtypes, parameters, modes) is refused with a
clear message, the mode's and parameter's as the CLI words them; missing values follow the modes."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import xarray as xr
import yaml

import etlake
from conftest import Lake, run_etlake

T, NY, NX = 20, 24, 30


def inputs(seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    coords = {
        "time": np.datetime64("2020-03-01", "ns") + np.arange(T) * np.timedelta64(1, "D"),
        "y": 4_400_000.0 - 250.0 * np.arange(NY),
        "x": 400_000.0 + 250.0 * np.arange(NX),
    }

    def dynamic(lo, hi):
        return xr.DataArray(rng.uniform(lo, hi, (T, NY, NX)), dims=("time", "y", "x"), coords=coords)

    def static(lo, hi):
        return xr.DataArray(rng.uniform(lo, hi, (NY, NX)), dims=("y", "x"),
                            coords={"y": coords["y"], "x": coords["x"]})

    p = dynamic(0, 12)
    p = p.where(p > 5, 0.0)  # dry days
    tmin = dynamic(-8, 6)
    return {
        "precipitation": p,
        "eto": dynamic(1, 7),
        "ndvi": dynamic(-0.05, 0.9),
        "tmin": tmin,
        "tmax": tmin + dynamic(2, 15),
        "whc": static(20, 150),
        "field_capacity": static(150, 200),
        "saturation": static(200, 260),
        "interception": static(0, 20),
        "water": xr.where(static(0, 1) > 0.95, 1.0, 0.0),
    }


def chunked(inp: dict, **chunks) -> dict:
    return {r: v.chunk({d: c for d, c in chunks.items() if d in v.dims}) for r, v in inp.items()}


def test_dask_on_a_two_process_cluster_equals_eager():
    distributed = pytest.importorskip("distributed")
    inp = inputs()
    eager = etlake.veget(inp)
    assert np.isfinite(eager.etasw.values).mean() > 0.99
    assert (eager.state_snwpk.values > 0).any() and (eager.srf.values > 0).any()
    lazy = etlake.veget(chunked(inp, y=6, x=10, time=-1))
    assert lazy.etasw.data.numblocks == (1, 4, 3)
    # The graph round-trips through pickle (plain module-level functions, no closures).
    lazy2 = pickle.loads(pickle.dumps(lazy))
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as ts:
            result = client.compute(lazy).result()
        xr.testing.assert_identical(result, eager)
        workers = {t["worker"] for t in ts.data if "etlake-veget-" in str(t["key"])}
        assert len(workers) == 2, workers
        xr.testing.assert_identical(client.compute(lazy2).result(), eager)


def test_state_continues_a_run():
    inp = inputs(2)
    whole = etlake.veget(inp, mode="compat")
    cut = 7
    head = {r: v.isel(time=slice(None, cut)) if "time" in v.dims else v for r, v in inp.items()}
    tail = {r: v.isel(time=slice(cut, None)) if "time" in v.dims else v for r, v in inp.items()}
    first = etlake.veget(head, mode="compat")
    second = etlake.veget(chunked(tail, y=12), mode="compat", state=first).compute()
    xr.testing.assert_identical(second.swf, whole.swf.isel(time=slice(cut, None)))
    xr.testing.assert_identical(second.state_snwpk, whole.state_snwpk)
    # swf/snwpk alone (a CLI state file) resume as `resume:` does.
    again = etlake.veget(tail, mode="compat", state={"swf": first.state_swf, "snwpk": first.state_snwpk})
    xr.testing.assert_identical(again.swf, second.swf)


def test_missing_values_follow_the_mode():
    inp = inputs(3)
    p = inp["precipitation"].copy()
    p[5, 2, 3] = np.nan
    inp["precipitation"] = p
    strict = etlake.veget(inp)
    # Strict: no output that day, the state held, the gap counted.
    assert np.isnan(strict.etasw[5, 2, 3]) and np.isfinite(strict.etasw[6, 2, 3])
    assert strict.gap_days[4, 2, 3] == 0 and strict.gap_days[5, 2, 3] == 1
    assert strict.state_gap_days[2, 3] == 1 and bool(strict.state_valid[2, 3])
    # Compat: the NaN persists in the pixel's state for the rest of the run.
    compat = etlake.veget(inp, mode="compat")
    assert np.isnan(compat.swf[5:, 2, 3]).all() and np.isfinite(compat.swf[:5, 2, 3]).all()
    # Negative soil grids are missing (spec 3.0), as in an index-driven run.
    whc = inp["whc"].copy()
    whc[0, 0] = -1
    strict = etlake.veget({**inp, "whc": whc})
    assert np.isnan(strict.etasw[:, 0, 0]).all() and not bool(strict.state_valid[0, 0])


def test_bad_input_is_refused_clearly(tmp_path):
    inp = inputs()
    with pytest.raises(etlake.InvalidInputError, match=r"\.chunk\(time=-1\)") as e:
        etlake.veget(chunked(inp, time=5, y=12))
    assert "time is in 4 chunks" in str(e.value)
    with pytest.raises(etlake.InvalidInputError, match="eto, tmax: missing inputs"):
        etlake.veget({r: v for r, v in inp.items() if r not in ("eto", "tmax")})
    with pytest.raises(etlake.InvalidInputError, match="^pet: not a VegET input"):
        etlake.veget({**inp, "pet": inp["eto"]})
    with pytest.raises(etlake.InvalidInputError, match=r"whc: y has 20 values, the grid 24"):
        etlake.veget({**inp, "whc": inp["whc"].isel(y=slice(0, 20))})
    with pytest.raises(etlake.InvalidInputError, match=r"ndvi: dims \('y', 'x'\), expected"):
        etlake.veget({**inp, "ndvi": inp["whc"]})
    with pytest.raises(etlake.InvalidInputError, match="tmin: x coordinates differ"):
        etlake.veget({**inp, "tmin": inp["tmin"].assign_coords(x=inp["tmin"].x + 1)})
    with pytest.raises(etlake.InvalidInputError, match="water: dtype <U1 is not a number type"):
        etlake.veget({**inp, "water": xr.full_like(inp["water"], "a", dtype="U1")})
    with pytest.raises(etlake.InvalidInputError, match="state: no snwpk"):
        etlake.veget(inp, state={"swf": inp["whc"]})
    # The mode's and a parameter's messages are the CLI's (checked before any graph is built).
    lake = Lake(tmp_path)
    for key, value, call in [
        ("mode", "fast", lambda: etlake.veget(chunked(inp, y=12), mode="fast")),
        ("params", {"k_factr": 1.0}, lambda: etlake.veget(inp, params={"k_factr": 1.0})),
    ]:
        cfg = yaml.safe_load(CONFIG)
        cfg[key] = value
        path = tmp_path / f"{key}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        cli = run_etlake(lake, "veget", "run", str(path), check=False)
        assert cli.returncode == 1, cli.stdout + cli.stderr
        with pytest.raises(etlake.InvalidInputError) as e:
            call()
        assert cli.stderr.strip().splitlines()[-1] == f"etlake: error: {e.value}"


CONFIG = """
period: {start: 2020-01-01, end: 2020-01-31}
area: {bbox: [-105.5, 39.5, -104.5, 40.5]}
grid: {like: mod13q1_061}
inputs:
  precipitation: {product: chirps_v2_daily_p05}
  eto: {product: gridmet_pet}
  ndvi: {product: mod13q1_061, align: interpolate}
  tmin: {product: gridmet_tmmn}
  tmax: {product: gridmet_tmmx}
  whc: {value: 100}
  field_capacity: {value: 150}
  saturation: {value: 200}
  interception: {value: 10}
  water: {value: 0}
output: {dir: out}
"""
