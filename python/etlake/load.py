"""``etlake.load``: ``dc.load`` read by etlake's Rust stack engine, eagerly or as a Dask graph.

The index is asked once for a *plan*: the output grid, the measurements and every time step's
datasets (locations and documents), as plain JSON. Eagerly, Rust reads the whole plan in parallel
threads with the GIL released. Lazily, the plan is cut into one plan per chunk, holding only the
steps of its time range and the datasets whose footprint can reach its window, and each Dask task
is ``_read_chunk(chunk_plan)``: a module-level function of a string, so the graph pickles and any
worker with etlake installed reads its chunk (GDAL opened in the task, nothing read before compute).

Coordinates, ``spatial_ref`` and attributes are built with odc-geo as datacube builds them.
"""

from __future__ import annotations

import itertools as _it
import json as _json
import operator as _operator
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as _np

from . import _etlake

if TYPE_CHECKING:
    import xarray

__all__ = ["load"]

# Keys of a product's measurement that datacube leaves out of a variable's attributes
# (datacube.model.Measurement.ATTR_SKIP, datacube 1.9.20).
_ATTR_SKIP = frozenset(
    {"name", "dtype", "aliases", "resampling_method", "fuser", "extra_dim", "dims",
     "extra_dim_index"}
)


def _read_chunk(plan: str) -> dict[str, _np.ndarray]:
    """Reads one chunk plan: {measurement: array (time, y, x)} (a Dask task; picklable)."""
    return dict(_etlake.load_read(plan))


def _odc_geobox(obj: Any, what: str) -> Any:
    from odc.geo.geobox import GeoBox

    if isinstance(obj, GeoBox):
        return obj
    odc = getattr(obj, "odc", None)
    gbox = getattr(odc, "geobox", None) if odc is not None else None
    if gbox is None:
        gbox = getattr(obj, "geobox", None)
    if isinstance(gbox, GeoBox):
        return gbox
    raise TypeError(
        f"{what}: expected an odc.geo GeoBox or an xarray object with .odc.geobox, "
        f"got {type(obj).__name__}"
    )


def _crs_text(crs: Any) -> str:
    epsg = crs.epsg
    return f"EPSG:{epsg}" if epsg is not None else crs.to_wkt()


def _xy(name: str, value: Any, *, resolution: bool) -> tuple[float, float] | None:
    """(x, y) from dc.load's forms: a number (resolution: x, -x), an odc.geo XY, or (y, x)."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        v = float(value)
        return (v, -v) if resolution else (v, v)
    if hasattr(value, "x") and hasattr(value, "y"):
        return (float(value.x), float(value.y))
    pair = [float(v) for v in value]
    if len(pair) != 2:
        raise TypeError(f"{name}: expected a number or (y, x), got {len(pair)} values")
    return (pair[1], pair[0])


def _area(
    bbox: Sequence[float] | None, lon: Sequence[float] | None, lat: Sequence[float] | None
) -> tuple[tuple[float, float, float, float] | None, str | None]:
    if bbox is not None:
        if lon is not None or lat is not None:
            raise TypeError("load: give bbox or lon/lat, not both")
        box = tuple(float(v) for v in bbox)
        if len(box) != 4:
            raise TypeError(f"bbox: expected (west, south, east, north), got {len(box)} values")
        return box, f"bbox={box}"  # type: ignore[return-value]
    if lon is None and lat is None:
        return None, None
    if lon is None or lat is None:
        raise TypeError("load: lon and lat go together (give both ranges, or bbox)")
    (w, e), (s, n) = (sorted(float(v) for v in lon), sorted(float(v) for v in lat))
    return (w, s, e, n), f"lon=({w}, {e}), lat=({s}, {n})"


def _chunk_edges(size: int, step: int | None) -> list[tuple[int, int]]:
    step = size if step is None or step < 0 else max(int(step), 1)
    return [(a, min(a + step, size)) for a in range(0, size, step)]


def _time_labels(steps: list[dict[str, Any]]) -> _np.ndarray:
    return _np.array(
        [_np.datetime64(s["time"].replace("Z", "").replace("+00:00", ""), "ns") for s in steps],
        dtype="datetime64[ns]",
    )


def load(
    product: str,
    measurements: str | Sequence[str] | None = None,
    *,
    index: Any = None,
    time: Any = None,
    bbox: Sequence[float] | None = None,
    lon: Sequence[float] | None = None,
    lat: Sequence[float] | None = None,
    crs: Any = None,
    resolution: Any = None,
    align: Any = None,
    like: Any = None,
    geobox: Any = None,
    resampling: str | Mapping[str, str] = "nearest",
    group_by: str = "time",
    dask_chunks: Mapping[str, int | str | None] | None = None,
    physical: bool = False,
) -> "xarray.Dataset":
    """Loads ``product`` as ``dc.load`` would, read by etlake's Rust stack engine.

    The result is what ``datacube.Datacube().load`` returns for the same query: dimensions
    ``time, y, x`` (``latitude, longitude`` for geographic grids), the ``spatial_ref`` coordinate,
    each variable in its product dtype with the measurement's attributes (``nodata``, ``units``,
    …) plus ``crs`` and ``grid_mapping``, one time step per group (labelled with its first
    dataset's time) and every pixel (nearest: identical; other resamplings: GDAL's).

    Arguments as ``dc.load``: ``measurements`` names or aliases (all when None); ``time`` one
    value or (start, end) as in ``Index.search``; the area as ``bbox=(west, south, east, north)``
    or ``lon=(west, east), lat=(south, north)`` (dc.load's ``x``/``y``) in degrees; ``crs``
    (dc.load's ``output_crs``), ``resolution`` (a number, or (y, x) as dc.load reads a tuple) and
    ``align`` ((y, x)) default to the product's load hints; or the grid of ``like`` (an odc.geo
    GeoBox or an xarray object with ``.odc.geobox``) or ``geobox``, whose footprint is then the area
    searched. ``resampling`` is a method name or {measurement: method, "*": default};
    ``group_by`` is ``"time"`` or ``"solar_day"``. ``index`` is an ``etlake.Index`` (the default
    one, resolved as the CLI resolves it, when None).

    ``dask_chunks={"time": 1, "y": 512, "x": 512}`` returns Dask arrays instead: one task per chunk,
    reading only the datasets whose footprint reaches the chunk, nothing read before compute
    (defaults as dc.load: 1 step in time, whole y/x). ``physical=True`` returns physical values
    (``scale_factor``/``add_offset`` applied, float32, nodata NaN), as ``etlake stack --physical``.

    Raises ``NotFoundError`` for an unknown product, ``InvalidInputError`` for a bad time, an
    empty area, a CRS GDAL does not understand, an unknown measurement or when no dataset matches,
    and ``EtlakeError`` when a file cannot be read (never a silent empty result).
    """
    import xarray as xr
    from affine import Affine
    from odc.geo import CRS
    from odc.geo.geobox import GeoBox
    from odc.geo.xr import xr_coords

    from . import Index, _time

    if index is None:
        index = Index()
    if isinstance(measurements, str):
        measurements = [measurements]
    wanted = None if measurements is None else [str(m) for m in measurements]
    if like is not None and geobox is not None:
        raise TypeError("load: give like or geobox, not both")
    grid_obj = like if like is not None else geobox
    grid_arg = None
    if grid_obj is not None:
        if crs is not None or resolution is not None or align is not None:
            raise TypeError("load: like/geobox fix the grid: crs, resolution and align go without")
        g = _odc_geobox(grid_obj, "like" if like is not None else "geobox")
        a = g.affine
        grid_arg = (_crs_text(g.crs), int(g.width), int(g.height), [a.a, a.b, a.c, a.d, a.e, a.f])
    area, label = _area(bbox, lon, lat)
    if isinstance(resampling, Mapping):
        per = {str(k): str(v) for k, v in resampling.items()}
        default = per.pop("*", "nearest")
    else:
        per, default = {}, str(resampling)
    if crs is not None and not isinstance(crs, str):
        crs = _crs_text(CRS(crs))
    plan_json = _etlake.load_plan(
        index._index,
        product,
        wanted,
        time=_time(time),
        bbox=area,
        bbox_label=label,
        geobox=grid_arg,
        crs=crs,
        resolution=_xy("resolution", resolution, resolution=True),
        align=_xy("align", align, resolution=False),
        resampling=default,
        resampling_of=per or None,
        group_by=group_by,
        physical=physical,
    )
    plan = _json.loads(plan_json)
    grid = plan["grid"]
    t = grid["transform"]
    gbox = GeoBox((grid["height"], grid["width"]), Affine(*t), CRS(grid["crs"]))
    coords = {"time": xr.DataArray(_time_labels(plan["steps"]), dims=("time",),
                                   attrs={"units": "seconds since 1970-01-01 00:00:00"})}
    coords.update({str(k): v for k, v in xr_coords(gbox, "spatial_ref").items()})
    dims = ("time", *gbox.dimensions)
    names = plan["measurements"]
    # Variables are named as asked (an alias stays the alias), as datacube names them.
    out_names = wanted if wanted is not None else names
    defined = {m["name"]: m for m in plan["defined"]}
    crs_attrs = {"crs": str(gbox.crs), "grid_mapping": "spatial_ref"}

    def attrs(name: str) -> dict[str, Any]:
        out = {k: v for k, v in defined[name].items() if k not in _ATTR_SKIP}
        if physical:
            out = {k: v for k, v in out.items() if k not in ("scale_factor", "add_offset")}
            out["nodata"] = float("nan")
        return {**out, **crs_attrs}

    steps = len(plan["steps"])
    if dask_chunks is None:
        arrays = dict(_etlake.load_read(plan_json))
    else:
        arrays = _lazy(plan_json, plan, names, dims, (steps, gbox.height, gbox.width), dask_chunks)
    data_vars = {
        out: xr.Variable(dims, arrays[name], attrs=attrs(name))
        for out, name in zip(out_names, names)
    }
    return xr.Dataset(data_vars, coords=coords, attrs=crs_attrs)


def _lazy(
    plan_json: str,
    plan: dict[str, Any],
    names: list[str],
    dims: tuple[str, ...],
    shape: tuple[int, int, int],
    dask_chunks: Mapping[str, int | str | None],
) -> dict[str, Any]:
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    unknown = set(dask_chunks) - set(dims)
    if unknown:
        raise KeyError(f"Unknown dask_chunk dimension {unknown}. Valid dimensions are: {dims}")

    def size(dim: str, default: int) -> int:
        v = dask_chunks.get(dim)
        if v is None or v == "auto":
            v = default
        if not isinstance(v, int):
            raise ValueError("Chunk should be one of int|'auto'")
        return v

    edges = [
        _chunk_edges(shape[0], size(dims[0], 1)),
        _chunk_edges(shape[1], size(dims[1], -1)),
        _chunk_edges(shape[2], size(dims[2], -1)),
    ]
    index = list(_it.product(*(range(len(e)) for e in edges)))
    windows = [
        (*edges[0][i], *edges[1][j], *edges[2][k]) for i, j, k in index
    ]
    chunk_plans = _etlake.load_chunk_plans(plan_json, windows)
    token = tokenize(plan_json, windows)
    read = f"etlake-load-read-{token}"
    reads = {(read, *ijk): (_read_chunk, p) for ijk, p in zip(index, chunk_plans)}
    chunks = tuple(tuple(b - a for a, b in e) for e in edges)
    dtypes = {m["name"]: m.get("dtype", "float32") for m in plan["defined"]}
    out = {}
    for name in names:
        layer = f"etlake-load-{name}-{token}"
        picks = {(layer, *ijk): (_operator.getitem, (read, *ijk), name) for ijk in index}
        graph = HighLevelGraph({read: reads, layer: picks}, {read: set(), layer: {read}})
        dtype = "float32" if plan["physical"] else dtypes[name]
        out[name] = da.Array(graph, layer, chunks, dtype=dtype)
    return out
