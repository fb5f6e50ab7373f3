"""Stubs of the extension module: the low-level calls under ``etlake`` (use ``etlake.Index``)."""

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
) -> dict[str, Any]:
    """``etlake veget run --no-index`` on a configuration given as YAML/JSON text (use
    ``etlake.veget_run``); returns the run summary."""
