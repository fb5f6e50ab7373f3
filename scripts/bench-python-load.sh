#!/usr/bin/env bash
# Loading from Python: `etlake.load` against `dc.load` (datacube 1.9.20) and, for the families rasterio's
# GDAL reads (not HDF4), `odc.stac.load` (odc-stac 0.5.3) of the stored STAC items, on the same grid in one run — eager in
# the notebook's process, and lazy (`dask_chunks`) computed on a two-worker `LocalCluster`. Prints the
# wall time of each, etlake's ratio, whether every pixel is identical and the workers' peak memory
# (and what of it the load added to the workers' memory before any task).
# Usage: scripts/bench-python-load.sh   (ETLAKE_BENCH_KEEP=1 keeps the scratch directory;
# ETLAKE_BENCH_PROFILE=debug measures debug builds of the CLI and the extension)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-env.sh
# The extension measured is built with the CLI's profile (release unless ETLAKE_BENCH_PROFILE=debug)
# into the scratch directory and put first on PYTHONPATH (also for the cluster's spawned workers):
# `make python-package` installs a dev-profile (unoptimised) build, which is not what `pip install`
# gives users. The project venv is left as it is.
.venv/bin/maturin build -q $profile_flag --auditwheel skip -m python/Cargo.toml -o "$work/wheel" >/dev/null
mkdir -p "$work/py" && (cd "$work/py" && python3 -m zipfile -e "$work"/wheel/*.whl .)
export PYTHONPATH="$work/py${PYTHONPATH:+:$PYTHONPATH}"
cargo build --release -p sample-lake --example sample_lake -q
target/release/examples/sample_lake "$work/lake" 366 >/dev/null
"$etlake" db init >/dev/null
"$etlake" product add product-defs/products >/dev/null
"$etlake" index "$work/lake" >/dev/null 2>&1
url=$("$etlake" db status | sed -n "s/.*Python:  ODC_DEFAULT_DB_URL='\(.*\)'/\1/p")
# A file, not stdin: the LocalCluster's worker processes are spawned and import the main module.
cat >"$work/bench_load.py" <<'PY'
import json, resource, sys, time, warnings

import numpy as np
import psycopg2

warnings.filterwarnings("ignore")
import datacube
import etlake

print(f"etlake extension: {etlake.__file__}")
import odc.stac
import pystac
from dask.distributed import Client, LocalCluster
from distributed.diagnostics import MemorySampler

url = sys.argv[1]
bbox = (-105.5, 39.0, -104.5, 40.0)
# name | product | measurement | time | crs | resolution | dask chunks | odc.stac applies
queries = [
    ("chirps-wy-utm250", "chirps_v2_daily_p05", "precip", ("2019-10-01", "2020-09-30"),
     "EPSG:32613", 250, {"time": 92, "y": 256, "x": 256}, True),
    ("gridmet-wy-native", "gridmet_pr", "pr", ("2019-10-01", "2020-09-30"),
     None, None, {"time": 92, "latitude": 128, "longitude": 128}, True),
    ("mod13q1-ndvi-wy", "mod13q1_061", "ndvi", ("2019-10-01", "2020-09-30"),
     None, None, {"time": 8, "y": 256, "x": 256}, False),
]


def same(a, b):
    """Every pixel equal (NaN equal to NaN), and the same shape."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        return bool(((a == b) | (np.isnan(a) & np.isnan(b))).all())
    return bool((a == b).all())


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def stac_items(product, t):
    """The STAC items etlake stored beside the eo3 documents of a product, over the days of `t`."""
    with psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://")) as conn:
        cur = conn.cursor()
        cur.execute(
            "SELECT s.item FROM etlake.stac_item s JOIN agdc.dataset d ON d.id = s.dataset_ref "
            "JOIN agdc.dataset_type p ON p.id = d.dataset_type_ref "
            "WHERE p.name = %s AND d.archived IS NULL "
            "AND (s.item#>>'{properties,datetime}')::date BETWEEN %s AND %s", (product, t[0], t[1]))
        rows = [r[0] for r in cur.fetchall()]
    return [pystac.Item.from_dict(r if isinstance(r, dict) else json.loads(r)) for r in rows]


def current_rss():
    """This process's resident set size now (bytes)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def peak_mib(client):
    """Largest peak resident set size over the cluster's worker processes (MiB)."""
    peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return max(peaks.values()) / 1024


def main():
    dc = datacube.Datacube()
    index = etlake.Index(url)
    print(f"{'query':<20} {'mode':<6} {'etlake s':>9} {'dc.load s':>10} {'ratio':>7} "
          f"{'odc.stac s':>11}  pixels")
    results = []
    for name, product, m, t, crs, res, chunks, stac in queries:
        kw = dict(measurements=[m], time=t, x=(bbox[0], bbox[2]), y=(bbox[1], bbox[3]))
        if crs:
            kw.update(output_crs=crs, resolution=(-res, res))
        ekw = dict(measurements=[m], index=index, time=t, bbox=bbox)
        if crs:
            ekw.update(crs=crs, resolution=res)
        try:
            ref, dc_s = timed(lambda: dc.load(product=product, **kw))
        except Exception as e:  # noqa: BLE001 - a family datacube cannot read is reported, not fatal
            ref, dc_s = None, None
            print(f"{name:<20} eager  dc.load cannot read it: {type(e).__name__}: {e}"[:160])
        got, e_s = timed(lambda: etlake.load(product, **ekw))
        st_s, st_verdict = None, ""
        if stac and ref is not None:
            items = stac_items(product, t)
            try:
                st, st_s = timed(lambda: odc.stac.load(items, bands=[m], geobox=ref.odc.geobox,
                                                       resampling="nearest").load())
                st_verdict = ("; odc.stac identical" if same(st[m].values, ref[m].values)
                              else "; odc.stac DIFFERS")
            except Exception as e:  # noqa: BLE001 - reported, not fatal
                print(f"{name:<20} eager  odc.stac.load cannot read the stored items: "
                      f"{type(e).__name__}: {e}"[:200], flush=True)
        verdict = "n/a"
        if ref is not None:
            verdict = (f"identical ({got[m].size:,})" if same(got[m].values, ref[m].values)
                       else "DIFFER")
        ratio = f"{dc_s / e_s:6.1f}×" if dc_s else "   -  "
        print(f"{name:<20} eager  {e_s:>9.2f} {dc_s or float('nan'):>10.2f} {ratio} "
              f"{st_s or float('nan'):>11.2f}  {verdict}{st_verdict}", flush=True)
        results.append((name, product, m, t, crs, res, chunks, kw, ekw, ref))

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        for name, product, m, t, crs, res, chunks, kw, ekw, ref in results:
            client.restart()  # fresh workers: the peak below is this load's alone
            # The workers' resident memory now, before any task (the interpreter with this module's
            # imports: spawned workers import the main module), and sampled while the load computes
            # (distributed's MemorySampler, every 0.1 s, summed over the workers): what the load adds.
            # ru_maxrss cannot show it: importing the libraries peaks higher than the load does.
            base = sum(client.run(current_rss).values()) / 2**20
            lazy = etlake.load(product, dask_chunks=chunks, **ekw)
            sampler = MemorySampler()
            with sampler.sample("load", interval=0.1):
                got, e_s = timed(lambda: lazy.compute())
            during = float(sampler.to_pandas()["load"].max()) / 2**20
            # compute() brings every chunk back to this process, so the workers hold their finished
            # chunks until then; a reduction keeps nothing: its growth is what the load itself needs.
            client.restart()
            base_r = sum(client.run(current_rss).values()) / 2**20
            sampler = MemorySampler()
            with sampler.sample("sum", interval=0.1):
                etlake.load(product, dask_chunks=chunks, **ekw)[m].sum().compute()
            during_r = float(sampler.to_pandas()["sum"].max()) / 2**20
            e_peak = peak_mib(client)
            dc_s = None
            if ref is not None:
                dl = dc.load(product=product, dask_chunks=chunks, **kw)
                _, dc_s = timed(lambda: dl.compute())
            verdict = "n/a"
            if ref is not None:
                verdict = (f"identical ({got[m].size:,})" if same(got[m].values, ref[m].values)
                           else "DIFFER")
            chunk_mib = got[m].dtype.itemsize * np.prod([min(v, got.sizes[k])
                                                         for k, v in chunks.items()]) / 2**20
            ratio = f"{dc_s / e_s:6.1f}×" if dc_s else "   -  "
            print(f"{name:<20} dask   {e_s:>9.2f} {dc_s or float('nan'):>10.2f} {ratio} "
                  f"{'':>11}  {verdict}; chunk {chunk_mib:.1f} MiB, worker peak RSS "
                  f"{e_peak:.0f} MiB; both workers {base:.0f} MiB before the load, at most "
                  f"{during:.0f} MiB during it (+{during - base:.0f} MiB = "
                  f"{(during - base) / chunk_mib:.1f} chunks; the result is {got[m].nbytes / 2**20:.0f} MiB); "
                  f"a sum over it: +{during_r - base_r:.0f} MiB = {(during_r - base_r) / chunk_mib:.1f} chunks",
                  flush=True)


if __name__ == "__main__":
    main()
PY
ODC_DEFAULT_DB_URL="$url" .venv/bin/python "$work/bench_load.py" "$url"
