"""etlake from Python: the ODC index etlake writes, read by etlake's Rust library.

``etlake.Index`` opens the index the way the ``etlake`` command line does (the same database URL
resolution, the embedded cluster when nothing is configured) and finds the datasets
``datacube.Datacube().find_datasets`` finds for the same product, time and lon/lat query.

``etlake.veget`` runs the VegET kernel on aligned xarray inputs (numpy or Dask) and
``etlake.veget_run`` runs the index-driven model as ``etlake veget run`` does.

Errors are ``etlake.EtlakeError`` (``NotFoundError``, ``InvalidInputError``, ``ConfigError``) with
the message the CLI prints. Work runs in Rust with the GIL released.
"""

from __future__ import annotations

import datetime as _dt
import json as _json
import os as _os
import uuid as _uuid
from dataclasses import dataclass, field
from typing import Any, Sequence

from . import _etlake
from ._etlake import ConfigError, EtlakeError, InvalidInputError, NotFoundError
from .veget import veget, veget_run

__version__: str = _etlake.__version__
__all__ = [
    "load",
    "Index",
    "Dataset",
    "Product",
    "EtlakeError",
    "NotFoundError",
    "InvalidInputError",
    "ConfigError",
    "veget",
    "veget_run",
]

TimeBound = str | _dt.date | _dt.datetime
TimeQuery = TimeBound | tuple[TimeBound, TimeBound] | Sequence[TimeBound]


@dataclass(frozen=True)
class Product:
    """A product in the index: its name, metadata type, active dataset count and definition."""

    name: str
    metadata_type: str
    datasets: int
    definition: dict[str, Any] = field(repr=False)

    @property
    def description(self) -> str | None:
        """The definition's ``description``."""
        return self.definition.get("description")


@dataclass(frozen=True)
class Dataset:
    """A dataset found by ``Index.search``.

    ``time`` is the ``time`` search field's (start, end), what datacube's ``Dataset.time`` holds;
    ``lon`` and ``lat`` are the lon/lat search fields' ranges; ``uris`` its active locations,
    newest first; ``document`` the stored eo3 document.
    """

    id: _uuid.UUID
    product: str
    time: tuple[_dt.datetime, _dt.datetime] | None
    lon: tuple[float, float] | None
    lat: tuple[float, float] | None
    uris: list[str]
    document: dict[str, Any] = field(repr=False)

    @property
    def bbox(self) -> tuple[float, float, float, float] | None:
        """The lon/lat box (west, south, east, north), or None without lon/lat fields."""
        if self.lon is None or self.lat is None:
            return None
        return (self.lon[0], self.lat[0], self.lon[1], self.lat[1])


def _product(row: tuple[str, str, int, str]) -> Product:
    name, metadata_type, datasets, definition = row
    return Product(name, metadata_type, datasets, _json.loads(definition))


def _bound(value: TimeBound) -> str:
    # Written the way etlake's time parser reads it: a date covers its whole day; a naive datetime
    # is UTC, as datacube takes it.
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise TypeError(f"time: expected a str, date or datetime, got {type(value).__name__}")


def _time(time: TimeQuery | None) -> str | None:
    if time is None:
        return None
    if isinstance(time, (str, _dt.date)):
        return _bound(time)
    bounds = list(time)
    if len(bounds) != 2:
        raise TypeError(f"time: expected one value or (start, end), got {len(bounds)} values")
    return f"{_bound(bounds[0])}/{_bound(bounds[1])}"


def _pair(name: str, value: Sequence[float]) -> tuple[float, float]:
    values = tuple(float(v) for v in value)
    if len(values) != 2:
        raise TypeError(f"{name}: expected (min, max), got {len(values)} values")
    return values  # type: ignore[return-value]


from .load import load  # noqa: E402  (load uses the helpers above at call time)


class Index:
    """An open connection to an ODC index.

    The database is resolved exactly as the ``etlake`` CLI resolves it: ``url`` (like ``--db``), then
    ``ODC_<ENV>_DB_URL``, ``DATACUBE_DB_URL``, the datacube config file (``config``, like
    ``--config``; or the default locations), the ``DB_*`` variables, and finally etlake's embedded
    cluster (started on first use). ``env`` is the datacube environment (like ``--env``).

    Raises ``ConfigError`` when the configuration cannot be resolved and ``NotFoundError`` when the
    database holds no ODC index.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        env: str | None = None,
        config: str | _os.PathLike[str] | Sequence[str | _os.PathLike[str]] | None = None,
    ) -> None:
        if isinstance(config, (str, _os.PathLike)):
            config = [config]
        paths = None if config is None else [_os.fspath(p) for p in config]
        self._index = _etlake.Index(url, env=env, config=paths)

    @property
    def source(self) -> str:
        """Where the database URL came from (argument, variable, config file or embedded cluster)."""
        return self._index.source

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self._index.url

    def __repr__(self) -> str:
        return f"etlake.Index({self.url!r}, source={self.source!r})"

    def products(self) -> list[Product]:
        """All products in the index, by name."""
        return [_product(row) for row in self._index.products()]

    def product(self, name: str) -> Product:
        """One product by name; ``NotFoundError`` when the index has none of that name."""
        return _product(self._index.product(name))

    def search(
        self,
        product: str,
        *,
        time: TimeQuery | None = None,
        bbox: Sequence[float] | None = None,
        lon: Sequence[float] | None = None,
        lat: Sequence[float] | None = None,
        limit: int | None = None,
    ) -> list[Dataset]:
        """The datasets of ``product`` that ``dc.find_datasets`` returns for the same query.

        ``time`` is one value or (start, end), both inclusive: a date (``"2023-01-02"`` covers the
        whole day), an ISO datetime, ``"A/B"``, or ``date``/``datetime`` objects (naive means UTC).
        The area is ``bbox=(west, south, east, north)`` or ``lon=(west, east), lat=(south, north)``
        in degrees; footprints that only touch it are not found, as in datacube. ``limit`` caps the
        number of datasets returned.

        Raises ``NotFoundError`` for an unknown product and ``InvalidInputError`` for a bad time or
        an empty area (west >= east or south >= north).
        """
        label = None
        box = None
        if bbox is not None:
            if lon is not None or lat is not None:
                raise TypeError("search: give bbox or lon/lat, not both")
            box = tuple(float(v) for v in bbox)
            if len(box) != 4:
                raise TypeError(f"bbox: expected (west, south, east, north), got {len(box)} values")
            label = f"bbox={box}"
        elif lon is not None or lat is not None:
            if lon is None or lat is None:
                raise TypeError("search: lon and lat go together (give both ranges, or bbox)")
            (w, e), (s, n) = _pair("lon", lon), _pair("lat", lat)
            box = (w, s, e, n)
            label = f"lon=({w}, {e}), lat=({s}, {n})"
        rows = self._index.search(
            product, time=_time(time), bbox=box, bbox_label=label, limit=limit
        )
        return [
            Dataset(
                id=_uuid.UUID(id_),
                product=product,
                time=None
                if span is None
                else (_dt.datetime.fromisoformat(span[0]), _dt.datetime.fromisoformat(span[1])),
                lon=lon_,
                lat=lat_,
                uris=uris,
                document=_json.loads(document),
            )
            for id_, span, lon_, lat_, uris, document in rows
        ]
