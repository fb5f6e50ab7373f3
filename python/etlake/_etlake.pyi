"""Stubs of the extension module: the low-level calls under ``etlake`` (use ``etlake.Index``)."""

import os
from typing import Any

__version__: str

class EtlakeError(Exception): ...
class NotFoundError(EtlakeError): ...
class InvalidInputError(EtlakeError): ...
class ConfigError(EtlakeError): ...

class Index:
    """An open connection to an ODC index, resolved as the etlake CLI resolves it."""

    def __init__(
        self, url: str | None = None, *, env: str | None = None, config: list[str] | None = None
    ) -> None: ...
    @property
    def source(self) -> str:
        """Where the database URL came from."""
    @property
    def url(self) -> str:
        """The database URL, password hidden."""
    def products(self) -> list[tuple[str, str, int, str]]:
        """All products: (name, metadata type, active datasets, definition JSON)."""
    def product(self, name: str) -> tuple[str, str, int, str]:
        """One product as ``products`` gives it; ``NotFoundError`` when unknown."""
    def search(
        self,
        product: str,
        *,
        time: str | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        bbox_label: str | None = None,
        limit: int | None = None,
    ) -> list[
        tuple[
            str,
            tuple[str, str] | None,
            tuple[float, float] | None,
            tuple[float, float] | None,
            list[str],
            str,
        ]
    ]:
        """Datasets found: (id, (start, end) RFC 3339, (west, east), (south, north), uris, document JSON).

        ``time`` is ``A/B`` or one value; ``bbox_label`` names the area in error messages.
        """

def _panic_for_tests() -> None:
    """Panics in Rust; raises ``EtlakeError`` (for the tests, not part of the API)."""

def _veget(
    dynamic: dict[str, Any],
    statics: dict[str, Any],
    days: int,
    pixels: int,
    *,
    params: dict[str, float] | None = None,
    mode: str | None = None,
    state: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """The VegET kernel on flat float64 arrays (use ``etlake.veget``).

    ``dynamic`` roles hold days × pixels values (time-major), ``statics`` and ``state`` pixels.
    Returns (daily outputs by name, gap_days, end state by name), flat numpy arrays.
    """

def _veget_run(
    index: Index,
    text: str,
    object: str,
    base: str,
    *,
    max_memory: float | None = None,
    memory_source: str | None = None,
    no_index: bool = False,
    defs: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """``etlake veget run [--no-index] [--defs DEFS]`` on a configuration given as YAML/JSON text
    (use ``etlake.veget_run``); returns the run summary, with the indexing's account under
    ``indexed`` (None with ``no_index``)."""
def load_plan(
    index: Index,
    product: str,
    measurements: list[str] | None = None,
    *,
    time: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    bbox_label: str | None = None,
    geobox: tuple[str, int, int, list[float]] | None = None,
    crs: str | None = None,
    resolution: tuple[float, float] | None = None,
    align: tuple[float, float] | None = None,
    resampling: str = "nearest",
    resampling_of: dict[str, str] | None = None,
    group_by: str = "time",
    physical: bool = False,
) -> str:
    """Plans a load (grid, measurements, each time step's datasets) as JSON; see ``etlake.load``.

    ``geobox`` is (crs, width, height, affine a..f); else the grid is built over ``bbox`` from
    ``crs``, ``resolution`` (x, y) and ``align`` (x, y), defaulting to the product's load hints.
    """

def load_chunk_plans(
    plan: str, chunks: list[tuple[int, int, int, int, int, int]]
) -> list[str]:
    """The plans of chunks (t0, t1, y0, y1, x0, x1) of a plan, each with only the datasets whose
    footprint can reach its window."""

def load_read(plan: str) -> list[tuple[str, Any]]:
    """Reads a plan's window: (measurement, numpy array (time, y, x) in its dtype) pairs."""

def warp_source(
    uri: str,
    band: int,
    layer: str | None,
    format: str,
    grid: tuple[str, int, int, list[float]],
    resampling: str = "nearest",
    src_nodata: float | None = None,
    dst_nodata: float | None = None,
) -> Any:
    """One file's band warped onto a grid (crs, width, height, affine a..f): float64 (height, width),
    ``dst_nodata`` (NaN when None) where no source pixel lands (the odc-loader driver's read)."""
