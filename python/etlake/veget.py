"""VegET on xarray: the daily soil-water-balance kernel ``etlake veget run`` uses, on inputs you have
already aligned (numpy- or Dask-backed), and the index-driven run itself.

``veget(inputs)`` runs the Rust kernel (with the GIL released) on DataArrays aligned on
(time, y, x) — static inputs on (y, x) — and returns the daily outputs and the final state as one
``xarray.Dataset``. With Dask-backed inputs it builds a graph of one task per spatial chunk (time
must be one chunk): chunks run in parallel on threads, processes or a ``dask.distributed`` cluster.

``veget_run(config)`` is ``etlake veget run CONFIG --no-index``: inputs from the index, outputs
written as the CLI writes them, the run's summary returned.
"""

from __future__ import annotations

import json as _json
import os as _os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as _np

from . import _etlake
from ._etlake import InvalidInputError

__all__ = ["veget", "veget_run", "INPUTS", "DAILY_OUTPUTS", "STATE"]

#: Dynamic input roles (daily, on time × y × x): mm/day, mm/day, unitless, °C, °C, °C.
DYNAMIC = ("precipitation", "eto", "ndvi", "tmin", "tmax", "tavg")
#: Static input roles (on y × x): mm, mm, mm, %, 1 = inland water.
STATIC = ("whc", "field_capacity", "saturation", "interception", "water")
#: Every input role; all but ``tavg`` are required (``tavg`` defaults to (tmin + tmax) / 2).
INPUTS = DYNAMIC + STATIC
#: Daily output variables (mm or mm/day), named as in the ``veget_daily`` files.
DAILY_OUTPUTS = (
    "etasw", "etasw5", "etc", "netet", "swi", "swf", "snwpk", "swe", "snowmelt", "rain",
    "intercept", "srf", "dd",
)
#: The state carried between days; in a result as ``state_<name>`` variables on (y, x).
STATE = ("swf", "snwpk", "started", "gap_days", "gap_run", "valid")

_LONG_NAMES = {
    "etasw": "actual evapotranspiration",
    "etasw5": "land actual ET before the water rule",
    "etc": "potential ET",
    "netet": "ET deficit (etc - etasw, at least 0)",
    "swi": "soil water before ET",
    "swf": "soil water at the end of the day",
    "snwpk": "snowpack water equivalent",
    "swe": "snowfall (water equivalent)",
    "snowmelt": "snow melt",
    "rain": "rain",
    "intercept": "interception",
    "srf": "surface runoff",
    "dd": "deep drainage",
}


def _fail(message: str) -> InvalidInputError:
    return InvalidInputError(message)


def _is_dask(a: Any) -> bool:
    try:
        import dask.array as da
    except ImportError:  # pragma: no cover - dask is optional
        return False
    return isinstance(getattr(a, "data", None), da.Array)


def _numeric(role: str, a: Any) -> None:
    dtype = _np.dtype(a.dtype)
    if not (dtype.kind in "fiub"):
        raise _fail(
            f"{role}: dtype {dtype} is not a number type (VegET takes float or integer values in "
            "the role's units, NaN where missing)"
        )


def _check(inputs: Mapping[str, Any]):
    """The inputs by role, checked: (arrays by role, constants by role, time dim, y dim, x dim,
    template DataArray)."""
    import xarray as xr

    if not isinstance(inputs, Mapping):
        raise TypeError(f"inputs: expected a mapping of role to DataArray, got {type(inputs).__name__}")
    unknown = [r for r in inputs if r not in INPUTS]
    if unknown:
        raise _fail(f"{unknown[0]}: not a VegET input (inputs are {', '.join(INPUTS)})")
    missing = [r for r in INPUTS if r != "tavg" and r not in inputs]
    if missing:
        raise _fail(f"{', '.join(missing)}: missing input{'s' if len(missing) > 1 else ''} "
                    f"(inputs are {', '.join(INPUTS)}; tavg is optional)")
    template = next(
        (inputs[r] for r in DYNAMIC if isinstance(inputs.get(r), xr.DataArray)), None
    )
    if template is None:
        raise _fail("no dynamic input is a DataArray: at least one of "
                    f"{', '.join(DYNAMIC)} must give the (time, y, x) grid")
    if template.ndim != 3:
        raise _fail(f"dynamic inputs are on (time, y, x): {template.name or 'the first'} has dims "
                    f"{template.dims}")
    tdim, ydim, xdim = template.dims
    arrays: dict[str, Any] = {}
    constants: dict[str, float] = {}
    for role, a in inputs.items():
        if a is None:
            raise _fail(f"{role}: None (give a DataArray or a number)")
        if isinstance(a, (int, float)) and not isinstance(a, bool):
            constants[role] = float(a)
            continue
        if not isinstance(a, xr.DataArray):
            raise TypeError(f"{role}: expected an xarray.DataArray or a number, got {type(a).__name__}")
        want = (tdim, ydim, xdim) if role in DYNAMIC else (ydim, xdim)
        if set(a.dims) != set(want):
            raise _fail(f"{role}: dims {a.dims}, expected {want} (as "
                        f"{'the dynamic inputs' if role in DYNAMIC else 'static inputs on the grid'})")
        a = a.transpose(*want)
        _numeric(role, a)
        for d in want:
            if a.sizes[d] != template.sizes[d]:
                raise _fail(f"{role}: {d} has {a.sizes[d]} values, the grid {template.sizes[d]} "
                            f"(shape {tuple(a.shape)} vs {tuple(template.shape)})")
            if d in a.indexes and d in template.indexes and not a.indexes[d].equals(template.indexes[d]):
                raise _fail(f"{role}: {d} coordinates differ from the grid's (align the inputs first, "
                            "e.g. load them onto one grid and the same days)")
        arrays[role] = a
    return arrays, constants, (tdim, ydim, xdim), template


def _state_arrays(state: Any, dims: tuple[str, str], template) -> dict[str, Any]:
    """The state's arrays by name (``swf``, ``snwpk`` and, from a previous result, the rest)."""
    import xarray as xr

    if state is None:
        return {}
    if not isinstance(state, (Mapping, xr.Dataset)):
        raise TypeError(f"state: expected a Dataset or mapping, got {type(state).__name__}")
    out = {}
    for name in STATE:
        a = None
        for key in (f"state_{name}", name):
            if key in state:
                a = state[key]
                break
        if a is None:
            continue
        if not isinstance(a, xr.DataArray):
            a = xr.DataArray(_np.asarray(a), dims=dims)
        if a.ndim == 3 and a.sizes.get(template.dims[0]) == 1:
            a = a.isel({template.dims[0]: 0})  # a one-day veget_state file
        if set(a.dims) != set(dims):
            raise _fail(f"state {name}: dims {a.dims}, expected {dims}")
        a = a.transpose(*dims)
        for d in dims:
            if a.sizes[d] != template.sizes[d]:
                raise _fail(f"state {name}: {d} has {a.sizes[d]} values, the grid {template.sizes[d]}")
        out[name] = a
    for name in ("swf", "snwpk"):
        if name not in out:
            raise _fail(f"state: no {name} (a state holds swf and snwpk, as a previous result's "
                        "state_* variables or a veget_state file)")
    return out


def _flat(a: Any) -> _np.ndarray:
    # Aligned too: blocks a Dask worker received over the network may sit at any byte offset.
    return _np.require(_np.asarray(a), dtype=_np.float64, requirements=["C", "A"]).ravel()


def _kernel(arrays, constants, state, shape, params, mode):
    """The Rust kernel on numpy blocks: daily outputs, gap_days and state, shaped."""
    days, ny, nx = shape
    pixels = ny * nx
    dynamic, statics = {}, {}
    for role in INPUTS:
        if role in arrays:
            v = _flat(arrays[role])
        elif role in constants:
            v = _np.full(days * pixels if role in DYNAMIC else pixels, constants[role])
        else:
            continue
        (dynamic if role in DYNAMIC else statics)[role] = v
    st = None if not state else {k: _flat(v) for k, v in state.items()}
    daily, gaps, end = _etlake._veget(
        dynamic, statics, days, pixels, params=params, mode=mode, state=st
    )
    daily = {k: v.reshape(shape) for k, v in daily.items()}
    end = {k: v.reshape(ny, nx) for k, v in end.items()}
    return daily, gaps.reshape(shape), end


def _dataset(daily, gaps, end, dims, coords, params, mode):
    import xarray as xr

    tdim, ydim, xdim = dims
    data = {}
    for name in DAILY_OUTPUTS:
        data[name] = xr.Variable(dims, daily[name], {"units": "mm", "long_name": _LONG_NAMES[name]})
    data["gap_days"] = xr.Variable(
        dims, gaps, {"units": "day", "long_name": "days with a missing dynamic input so far (strict)"}
    )
    for name in STATE:
        attrs = {"long_name": f"final state: {name}"}
        if name in ("swf", "snwpk"):
            attrs["units"] = "mm"
        data[f"state_{name}"] = xr.Variable((ydim, xdim), end[name], attrs)
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(
        {"model": "VegET (etlake)", "mode": mode, "params": _json.dumps(params or {}, sort_keys=True)}
    )
    return ds


def _coords(template, dims):
    return {k: v for k, v in template.coords.items() if set(v.dims) <= set(dims)}


def _block(blocks, roles, constants, state_names, days, params, mode):
    """One spatial chunk (a Dask task): the kernel on the chunk's numpy arrays (``blocks``: the
    roles' then the state's, in order); every output of the chunk by name. Module-level, so that
    a graph of it pickles."""
    arrays = dict(zip(roles, blocks))
    state = dict(zip(state_names, blocks[len(roles):]))
    ny, nx = blocks[0].shape[-2:]
    daily, gaps, end = _kernel(arrays, constants, state, (days, ny, nx), params, mode)
    return {**daily, "gap_days": gaps, **{f"state_{k}": v for k, v in end.items()}}


def veget(
    inputs: Mapping[str, Any],
    *,
    params: Mapping[str, float] | None = None,
    mode: str = "strict",
    state: Any = None,
):
    """Runs the VegET kernel on aligned inputs and returns its daily outputs and final state.

    ``inputs`` maps each role to an ``xarray.DataArray`` (or a number, a constant everywhere), in
    the role's units with NaN where missing — what ``etlake veget run`` hands its kernel after
    loading, scaling and converting:

    - dynamic, on (time, y, x) (any names; the first dynamic DataArray sets them): ``precipitation``
      (mm/day), ``eto`` (grass reference ET, mm/day), ``ndvi``, ``tmin``, ``tmax`` (°C) and
      optionally ``tavg`` (°C; (tmin + tmax) / 2 when absent);
    - static, on (y, x): ``whc``, ``field_capacity``, ``saturation`` (mm; negative values are
      missing), ``interception`` (%), ``water`` (1 = inland water).

    All must share the grid's coordinates exactly. Integer inputs are taken as values (convert
    nodata to NaN first).

    ``params`` overrides VegET's parameters by name (``melt_factor``, ``rf_coeff``, …; the defaults
    are the reference's, as the CLI's ``params:``). ``mode`` is ``"strict"`` (gaps hold the state
    and are counted, quirks fixed) or ``"compat"`` (the reference's NaN behaviour). ``state``
    continues a run: a previous result (its ``state_*`` variables) or a CLI state file
    (``veget_state_*.nc``: ``swf`` and ``snwpk``, resumed as the CLI's ``resume:`` does); without
    it every pixel starts on its first day (soil water at half the WHC).

    Returns an ``xarray.Dataset`` with the inputs' coordinates: the daily outputs
    (``DAILY_OUTPUTS``: etasw, etasw5, etc, netet, swi, swf, snwpk, swe, snowmelt, rain, intercept,
    srf, dd; float64, NaN where a pixel-day has no output) and ``gap_days`` on (time, y, x), and the
    state at the end of the last day as ``state_swf``, ``state_snwpk``, ``state_started``,
    ``state_gap_days``, ``state_gap_run``, ``state_valid`` on (y, x) — pass the result as ``state=``
    to the next period's call.

    With Dask-backed inputs the result is lazy: one task per (y, x) chunk runs all days of the
    chunk, so time must be a single chunk (``.chunk(time=-1)``); y/x chunks of different inputs are
    unified. Results equal the eager ones exactly.

    Raises ``InvalidInputError`` for an unknown or missing role, mismatched dims, shapes or
    coordinates, a non-numeric dtype, time in several chunks, an unknown parameter or mode.
    """
    params = dict(params or {})
    arrays, constants, dims, template = _check(inputs)
    st = _state_arrays(state, dims[1:], template)
    # Parameters and mode are checked now (the Rust messages), not when a graph computes.
    params = {k: float(v) for k, v in params.items()}
    none = _np.empty(0)
    _etlake._veget(
        {r: none for r in DYNAMIC[:5]}, {r: none for r in STATIC}, 0, 0, params=params, mode=mode
    )
    lazy = any(_is_dask(a) for a in [*arrays.values(), *st.values()])
    if not lazy:
        shape = tuple(template.sizes[d] for d in dims)
        daily, gaps, end = _kernel(
            {r: a.values for r, a in arrays.items()}, constants,
            {n: a.values for n, a in st.items()}, shape, params, mode,
        )
        return _dataset(daily, gaps, end, dims, _coords(template, dims), params, mode)
    return _lazy(arrays, constants, st, dims, template, params, mode)


def _lazy(arrays, constants, st, dims, template, params, mode):
    """One task per (y, x) chunk computing every output of the chunk, and a cheap selection task
    per output variable and chunk: a graph of module-level functions that pickles."""
    import operator

    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph
    import xarray as xr

    tdim, ydim, xdim = dims
    for role, a in arrays.items():
        if _is_dask(a) and tdim in a.dims:
            n = len(a.chunks[a.dims.index(tdim)])
            if n > 1:
                raise _fail(
                    f"{role}: {tdim} is in {n} chunks; VegET carries each pixel's state from day to "
                    f"day, so a task needs all days of its pixels: rechunk with "
                    f".chunk({tdim}=-1) (chunk y and x instead)"
                )
    named = [*arrays.items(), *((f"state {n}", a) for n, a in st.items())]
    # Spatial chunks of the first Dask input; the others (and numpy inputs) follow them.
    first = next(a for _, a in named if _is_dask(a))
    ych = first.chunks[first.dims.index(ydim)]
    xch = first.chunks[first.dims.index(xdim)]
    days = template.sizes[tdim]
    blocks = []
    for _, a in named:
        chunks = ((days,), ych, xch) if a.ndim == 3 else (ych, xch)
        data = a.data
        blocks.append(data.rechunk(chunks) if _is_dask(a) else da.from_array(data, chunks=chunks))
    roles, state_names = tuple(arrays), tuple(st)
    token = tokenize(blocks, roles, constants, state_names, params, mode)
    name = f"etlake-veget-{token}"
    layer = {}
    for i in range(len(ych)):
        for j in range(len(xch)):
            keys = [(b.name, 0, i, j) if b.ndim == 3 else (b.name, i, j) for b in blocks]
            layer[(name, i, j)] = (
                _block, keys, roles, constants, state_names, days, params, mode,
            )
    layers, deps = {}, {}
    for b in blocks:
        layers.update(b.dask.layers)
        deps.update(b.dask.dependencies)
    layers[name], deps[name] = layer, {b.name for b in blocks}
    outputs = [(n, "float64", True) for n in DAILY_OUTPUTS] + [("gap_days", "uint32", True)]
    outputs += [
        (f"state_{n}", t, False)
        for n, t in zip(STATE, ("float64", "float64", "bool", "uint32", "uint32", "bool"))
    ]
    variables = {}
    for var, dtype, daily in outputs:
        vname = f"{var}-{token}"
        pick = {}
        for i in range(len(ych)):
            for j in range(len(xch)):
                key = (vname, 0, i, j) if daily else (vname, i, j)
                pick[key] = (operator.getitem, (name, i, j), var)
        layers[vname], deps[vname] = pick, {name}
        chunks = ((days,), ych, xch) if daily else (ych, xch)
        variables[var] = (dims if daily else (ydim, xdim), vname, chunks, dtype)
    graph = HighLevelGraph(layers, deps)
    variables = {
        var: (vdims, da.Array(graph, vname, chunks, dtype=dtype))
        for var, (vdims, vname, chunks, dtype) in variables.items()
    }
    result = xr.Dataset(variables, coords=_coords(template, dims))
    # The variables' and dataset's attributes, as an eager result has them.
    eager_like = _dataset(
        {n: _np.empty((0, 0, 0)) for n in DAILY_OUTPUTS}, _np.empty((0, 0, 0), "uint32"),
        {n: _np.empty((0, 0)) for n in STATE}, dims, {}, params, mode,
    )
    for name_, v in eager_like.data_vars.items():
        result[name_].attrs.update(v.attrs)
    result.attrs.update(eager_like.attrs)
    return result


def _available_mib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def veget_run(
    config: str | _os.PathLike[str] | Mapping[str, Any],
    *,
    index: Any = None,
    max_memory: float | None = None,
    no_index: bool = False,
    defs: str | _os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Runs VegET from the index as ``etlake veget run CONFIG`` does (the same library calls) and
    returns the run's summary.

    ``config`` is a run configuration file (YAML, as ``examples/veget-demo.yaml``) or the same as a
    dict (dates as ``"2019-10-01"`` strings or ``date`` objects; relative paths are then relative to
    the working directory). ``index`` is an ``etlake.Index``, a database URL, or None for the one
    the CLI would use. ``max_memory`` (MiB) caps the run's memory (default: what the system reports
    available); a grid needing more is refused before anything is read.

    Writes the daily, monthly and annual NetCDF files, the state and quicklooks under
    ``output.dir`` as the CLI does, then indexes the NetCDF files back as the ``veget_daily``,
    ``veget_monthly`` and ``veget_annual`` products (which must have been added to the index), as
    the CLI does without ``--no-index``: afterwards ``Index.search`` and ``dc.find_datasets`` find
    them. ``no_index=True`` skips that step, as ``--no-index`` does. ``defs`` is the product-defs
    folder whose ``recognition/`` specs recognise the files (as ``--defs``; default
    ``$ETLAKE_PRODUCT_DEFS``, else ``./product-defs``, else the one etlake was built from).

    The summary holds ``period``, ``mode``, the grid (``crs``, ``shape``, ``transform``),
    ``days``, ``gap_pixel_days``, ``invalid_pixels``, ``outside_pixels``, ``months`` (area means in
    mm: p, eta, srf, dd, intercept, swf, snwpk), ``balance`` (checked, failed, max_residual,
    not_checked), ``output_dir``, ``files`` and ``indexed``: None with ``no_index``, else the
    indexing run's ``run`` id, ``counts`` (outcome → files: ``indexed``, ``unchanged``,
    ``failed``, …), ``problems`` ((file, reason) pairs) and ``ok`` (nothing failed). A failed
    file is also reported as a ``RuntimeWarning`` (the CLI exits 1 then).

    Raises ``InvalidInputError`` (with the CLI's message) for a bad configuration, a missing input
    day or product, or a grid too large for the memory; ``EtlakeError`` when indexing cannot run
    (e.g. no recognition specs in ``defs``).
    """
    from . import Index

    if isinstance(config, Mapping):
        text = _json.dumps(config, default=str)
        obj, base = "veget_run config", _os.getcwd()
    else:
        path = Path(config)
        try:
            text = path.read_text()
        except OSError as e:
            raise InvalidInputError(f"{path}: {e.strerror or e}") from None
        obj, base = str(path), str(path.parent)
    if index is None:
        index = Index()
    elif isinstance(index, str):
        index = Index(index)
    if max_memory is not None:
        memory, source = float(max_memory), "max_memory"
    else:
        memory, source = _available_mib(), "available on this machine"
    summary = _etlake._veget_run(
        index._index, text, obj, base, max_memory=memory, memory_source=source,
        no_index=no_index, defs=None if defs is None else _os.fspath(defs),
    )
    indexed = summary["indexed"]
    if indexed is not None and not indexed["ok"]:
        import warnings

        failed = "; ".join(f"{o}: {r}" for o, r in indexed["problems"])
        warnings.warn(
            f"indexing the outputs: {indexed['counts'].get('failed', 0)} files failed ({failed})",
            RuntimeWarning, stacklevel=2,
        )
    return summary
