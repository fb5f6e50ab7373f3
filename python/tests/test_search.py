"""`etlake.Index.search` finds what datacube 1.9.20's `dc.find_datasets` finds for the same query,
with the same time ranges, lon/lat ranges, locations and documents; products come back as the
index holds them; the database is resolved as the CLI resolves it, embedded cluster included."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

import etlake
from conftest import PRODUCT

# (etlake search kwargs, datacube find_datasets kwargs): edges included — a footprint that only
# touches the box, an empty corner of the map, an archived dataset, single days and ranges.
QUERIES = [
    ({}, {}),
    ({"time": "2023-01-02"}, {"time": "2023-01-02"}),
    ({"time": ("2023-01-01", "2023-01-02")}, {"time": ("2023-01-01", "2023-01-02")}),
    ({"time": (dt.date(2023, 1, 2), dt.date(2023, 1, 3))}, {"time": ("2023-01-02", "2023-01-03")}),
    ({"time": dt.datetime(2023, 1, 2, 12)}, {"time": "2023-01-02T12:00:00"}),
    ({"bbox": (-104.0, 40.2, -103.5, 40.8)}, {"lon": (-104.0, -103.5), "lat": (40.2, 40.8)}),
    ({"lon": (-103.5, -102.5), "lat": (40.2, 40.8)}, {"lon": (-103.5, -102.5), "lat": (40.2, 40.8)}),
    # Touches A's east edge only: A is not found, B is.
    ({"bbox": (-103.0, 40.2, -102.5, 40.8)}, {"lon": (-103.0, -102.5), "lat": (40.2, 40.8)}),
    ({"bbox": (-101.0, 40.0, -100.0, 41.0)}, {"lon": (-101.0, -100.0), "lat": (40.0, 41.0)}),
    (
        {"time": ("2023-01-01", "2023-01-02"), "bbox": (-104.0, 40.0, -102.0, 41.0)},
        {"time": ("2023-01-01", "2023-01-02"), "lon": (-104.0, -102.0), "lat": (40.0, 41.0)},
    ),
    # Only the archived dataset matches: nothing is found.
    ({"time": "2023-01-03", "bbox": (9.0, -6.0, 13.0, -3.0)},
     {"time": "2023-01-03", "lon": (9.0, 13.0), "lat": (-6.0, -3.0)}),
]

DATACUBE = """
import datacube, json, sys
dc = datacube.Datacube(app="etlake-pytest")
out = []
for q in json.loads(sys.argv[1]):
    q = {k: tuple(v) if isinstance(v, list) else v for k, v in q.items()}
    out.append(sorted(
        [str(d.id), d.time.begin.isoformat(), d.time.end.isoformat(),
         [d.metadata.lon.begin, d.metadata.lon.end], [d.metadata.lat.begin, d.metadata.lat.end],
         list(d.uris), d.metadata_doc]
        for d in dc.find_datasets(product=%r, **q)
    ))
print(json.dumps(out))
"""


def test_search_equals_find_datasets(lake):
    expected = json.loads(
        lake.python(
            f"import sys; sys.argv.append({json.dumps(json.dumps([q[1] for q in QUERIES]))})\n"
            + DATACUBE % PRODUCT
        )
    )
    index = etlake.Index(lake.url)
    nonempty = 0
    for (query, _), want in zip(QUERIES, expected):
        found = index.search(PRODUCT, **query)
        got = sorted(
            [str(d.id), d.time[0], d.time[1], list(d.lon), list(d.lat), d.uris, d.document]
            for d in found
        )
        assert [g[0] for g in got] == [w[0] for w in want], query
        for g, w in zip(got, want):
            assert g[1] == dt.datetime.fromisoformat(w[1]), (query, g[0])
            assert g[2] == dt.datetime.fromisoformat(w[2]), (query, g[0])
            assert g[3:] == w[3:], (query, g[0])
        assert all(d.product == PRODUCT and d.bbox == (d.lon[0], d.lat[0], d.lon[1], d.lat[1])
                   for d in found)
        assert lake.archived not in {g[0] for g in got}
        nonempty += bool(got)
    assert nonempty >= 7, "the queries should exercise real matches"


def test_limit_caps_the_datasets(lake):
    index = etlake.Index(lake.url)
    everything = {d.id for d in index.search(PRODUCT)}
    assert len(everything) == 8
    two = index.search(PRODUCT, limit=2)
    assert len(two) == 2 and {d.id for d in two} <= everything
    assert index.search(PRODUCT, limit=0) == []


def test_products(lake):
    index = etlake.Index(lake.url)
    products = index.products()
    assert [p.name for p in products] == [PRODUCT]
    p = index.product(PRODUCT)
    assert p == products[0]
    assert (p.metadata_type, p.datasets) == ("eo3", 8)
    assert p.definition["name"] == PRODUCT and p.description


def test_embedded_default(lake, monkeypatch):
    # Nothing configured: the index is the embedded cluster, as for `etlake` commands.
    for k in list(os.environ):
        if k.startswith(("ODC_", "DATACUBE_", "DB_", "PG", "ETLAKE_HOME", "ETLAKE_PG")):
            monkeypatch.delenv(k)
    monkeypatch.setenv("HOME", str(lake.home))
    monkeypatch.setenv("ETLAKE_PG_DIR", lake.env["ETLAKE_PG_DIR"])
    index = etlake.Index()
    assert "embedded" in index.source.lower(), index.source
    assert len(index.search(PRODUCT, time="2023-01-01")) == 3
    # An explicit URL wins, and env=… picks ODC_<ENV>_DB_URL, as --db and --env do.
    monkeypatch.setenv("ODC_OTHER_DB_URL", lake.url)
    other = etlake.Index(env="other")
    assert "ODC_OTHER_DB_URL" in other.source, other.source
    assert other.product(PRODUCT).datasets == 8
