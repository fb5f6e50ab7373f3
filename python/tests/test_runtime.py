"""How Rust work runs under Python: with the GIL released, and a panic reaching Python as an
exception instead of aborting the interpreter."""

from __future__ import annotations

import subprocess
import sys

import pytest

import etlake
from etlake import _etlake


def test_panic_becomes_an_exception():
    for _ in range(2):
        with pytest.raises(etlake.EtlakeError, match="internal error in etlake .*deliberate panic"):
            _etlake._panic_for_tests()
    assert etlake.__version__


# A server thread in the same interpreter accepts etlake's connection and hangs up on it. It can only
# run while the main thread is inside Rust if the GIL was released there; otherwise the connection
# waits for an answer forever (the subprocess's timeout then fails the test).
GIL = """
import socket, threading, etlake
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
def serve():
    conn, _ = srv.accept()
    conn.recv(1024)
    conn.close()
threading.Thread(target=serve, daemon=True).start()
try:
    etlake.Index(f"postgresql://nobody@127.0.0.1:{srv.getsockname()[1]}/datacube")
except etlake.EtlakeError as e:
    print("refused:", e)
"""


def test_gil_is_released_while_rust_works():
    out = subprocess.run([sys.executable, "-c", GIL], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("refused: configuration: cannot connect"), out.stdout
