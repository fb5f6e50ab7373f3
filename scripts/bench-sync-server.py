#!/usr/bin/env python3
"""A loopback imitation of CHIRPS's file server (data.chc.ucsb.edu: Apache httpd with mod_autoindex)
for scripts/bench-sync.sh, made to behave like a remote server rather than a loopback copy.

Serves the files under ROOT at their relative paths (ROOT/products/CHIRPS-2.0/... →
/products/CHIRPS-2.0/...), with
- Apache-style "Index of" listing pages for folders (a path ending in `/`); 404 for what is absent;
- Content-Length, Last-Modified (the file's mtime), ETag (Apache's "size-mtime" in hex),
  Accept-Ranges: bytes; `Range: bytes=N-` / `bytes=N-M` answered 206, or 416 past the end;
  `If-Range` (ETag or HTTP date) honoured;
- HTTP/1.1 keep-alive, one thread per connection (so concurrent clients are served concurrently);
- a delay before every response's first byte (`latency`), and one more when a connection opens
  (`connect_latency`: the TCP handshake's round trip a remote server costs; TLS would add more);
- a bandwidth cap per connection (`rate`, bytes/s) and one over all connections (`total_rate`),
  paced in 64 KiB chunks; 0 means no cap. Bodies go by sendfile.

It counts requests by method, kind (file, listing, other) and status, and the body bytes of files
sent. Control paths (not counted): GET /__bench/stats (JSON), GET /__bench/reset,
GET /__bench/config?latency=S&connect_latency=S&rate=B&total_rate=B.

With --tls-port and --cert/--key it also answers GET /profile over TLS with 200: the stand-in for the
Earthdata Login host that earthaccess's Store asks once when it is created (see bench-sync.sh).

Usage: bench-sync-server.py ROOT --port-file FILE [--latency S] [--connect-latency S] [--rate B]
       [--total-rate B] [--tls-port-file FILE --cert PEM --key PEM]
"""
import argparse
import email.utils
import http.server
import json
import os
import socketserver
import ssl
import threading
import time
import urllib.parse
from collections import Counter

CHUNK = 64 * 1024


class Settings:
    def __init__(self, latency, connect_latency, rate, total_rate):
        self.latency = latency
        self.connect_latency = connect_latency
        self.rate = rate
        self.total_rate = total_rate


class Pacer:
    """The shared link: each chunk takes its slot of `total_rate` after the previous one."""

    def __init__(self):
        self.lock = threading.Lock()
        self.next_free = 0.0

    def wait(self, nbytes, total_rate):
        if total_rate <= 0:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_free)
            self.next_free = start + nbytes / total_rate
        if start > now:
            time.sleep(start - now)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests, self.body_bytes, self.connections = Counter(), 0, 0

    def reset(self):
        with self.lock:
            self.requests, self.body_bytes, self.connections = Counter(), 0, 0

    def count(self, method, kind, status, body=0):
        with self.lock:
            self.requests[f"{method} {kind} {status}"] += 1
            self.body_bytes += body

    def connection(self):
        with self.lock:
            self.connections += 1

    def snapshot(self):
        with self.lock:
            return {"requests": dict(self.requests), "file_body_bytes": self.body_bytes,
                    "connections": self.connections}


def etag_of(st):
    # Apache's default FileETag (MTime Size): "<size hex>-<mtime µs hex>".
    return '"%x-%x"' % (st.st_size, int(st.st_mtime * 1_000_000))


def listing_page(urlpath, fspath):
    rows = []
    for name in sorted(os.listdir(fspath)):
        full = os.path.join(fspath, name)
        st = os.stat(full)
        is_dir = os.path.isdir(full)
        href = urllib.parse.quote(name) + ("/" if is_dir else "")
        shown = name + ("/" if is_dir else "")
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(st.st_mtime))
        size = "-" if is_dir else f"{st.st_size / 1048576:.1f}M"
        icon = "folder.gif" if is_dir else "unknown.gif"
        alt = "[DIR]" if is_dir else "[   ]"
        rows.append(f'<tr><td valign="top"><img src="/icons/{icon}" alt="{alt}"></td>'
                    f'<td><a href="{href}">{shown}</a></td><td align="right">{when}  </td>'
                    f'<td align="right">{size}</td><td>&nbsp;</td></tr>')
    parent = urlpath.rstrip("/").rsplit("/", 1)[0] + "/"
    return ('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n<html>\n <head>\n'
            f'  <title>Index of {urlpath}</title>\n </head>\n <body>\n<h1>Index of {urlpath}</h1>\n'
            '  <table>\n   <tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th>'
            '<th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th>'
            '<th><a href="?C=S;O=A">Size</a></th><th><a href="?C=D;O=A">Description</a></th></tr>\n'
            '   <tr><th colspan="5"><hr></th></tr>\n'
            f'<tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td>'
            f'<td><a href="{parent}">Parent Directory</a></td><td>&nbsp;</td>'
            '<td align="right">  - </td><td>&nbsp;</td></tr>\n'
            + "\n".join(rows) +
            '\n   <tr><th colspan="5"><hr></th></tr>\n</table>\n'
            '<address>Apache/2.4.37 (Rocky Linux) Server</address>\n</body></html>\n').encode("latin-1")


def make_handler(root, settings, stats, pacer):
    root = os.path.realpath(root)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def version_string(self):
            return "Apache/2.4.37 (Rocky Linux)"

        def setup(self):
            super().setup()
            stats.connection()
            if settings.connect_latency > 0:
                time.sleep(settings.connect_latency)

        def log_message(self, *args):
            pass

        def send_body(self, f, start, length):
            """`length` bytes of file `f` from `start` (sendfile), paced by the caps in 64 KiB chunks."""
            sent = 0
            began = time.monotonic()
            paced = settings.rate > 0 or settings.total_rate > 0
            while sent < length:
                n = min(CHUNK, length - sent) if paced else length - sent
                pacer.wait(n, settings.total_rate)
                n = self.connection.sendfile(f, start + sent, n)
                if not n:
                    break
                sent += n
                if settings.rate > 0:
                    ahead = began + sent / settings.rate - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
            return sent

        def control(self, url):
            q = urllib.parse.parse_qs(url.query)
            if url.path == "/__bench/reset":
                stats.reset()
            elif url.path == "/__bench/config":
                for k in ("latency", "connect_latency", "rate", "total_rate"):
                    if k in q:
                        setattr(settings, k, float(q[k][0]))
            body = json.dumps({**stats.snapshot(), "settings": vars(settings)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def respond(self, head_only):
            url = urllib.parse.urlsplit(self.path)
            if url.path.startswith("/__bench/"):
                return self.control(url)
            if settings.latency > 0:
                time.sleep(settings.latency)
            method = "HEAD" if head_only else "GET"
            if self.server.tls_stub:
                # The Earthdata Login stand-in: earthaccess's Store asks /profile once.
                self.send_response(200 if url.path == "/profile" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return stats.count(method, "login", 200)
            rel = urllib.parse.unquote(url.path).lstrip("/")
            fspath = os.path.realpath(os.path.join(root, rel))
            if not (fspath == root or fspath.startswith(root + os.sep)) or not os.path.exists(fspath):
                return self.not_found(method)
            if os.path.isdir(fspath):
                if not url.path.endswith("/"):
                    self.send_response(301)
                    self.send_header("Location", url.path + "/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return stats.count(method, "listing", 301)
                page = listing_page(url.path, fspath)
                self.send_response(200)
                self.send_header("Content-Type", "text/html;charset=ISO-8859-1")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                if not head_only:
                    self.wfile.write(page)
                return stats.count(method, "listing", 200)
            st = os.stat(fspath)
            size, etag = st.st_size, etag_of(st)
            last_modified = email.utils.formatdate(st.st_mtime, usegmt=True)
            start, end = 0, size - 1
            status = 200
            rng = self.headers.get("Range")
            if_range = self.headers.get("If-Range")
            if rng and rng.startswith("bytes=") and "," not in rng and \
                    (if_range is None or if_range in (etag, last_modified)):
                a, _, b = rng[6:].strip().partition("-")
                try:
                    if a:
                        start = int(a)
                        end = min(int(b), size - 1) if b else size - 1
                    elif b:  # the last b bytes
                        start = max(size - int(b), 0)
                    if start >= size:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return stats.count(method, "file", 416)
                    status = 206
                except ValueError:
                    start, end = 0, size - 1
            length = end - start + 1
            self.send_response(status)
            self.send_header("Last-Modified", last_modified)
            self.send_header("ETag", etag)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(length))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.send_header("Content-Type", "application/x-gzip")
            self.end_headers()
            sent = 0
            if not head_only:
                with open(fspath, "rb") as f:
                    sent = self.send_body(f, start, length)
            stats.count(method, "file", status, sent)

        def not_found(self, method):
            body = b"<html><body><h1>Not Found</h1></body></html>\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if method == "GET":
                self.wfile.write(body)
            stats.count(method, "other", 404)

        def do_GET(self):
            self.respond(False)

        def do_HEAD(self):
            self.respond(True)

    return Handler


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True
    tls_stub = False


def main():
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("--port-file", required=True)
    p.add_argument("--latency", type=float, default=0.04)
    p.add_argument("--connect-latency", type=float, default=0.04)
    p.add_argument("--rate", type=float, default=0)
    p.add_argument("--total-rate", type=float, default=0)
    p.add_argument("--tls-port-file")
    p.add_argument("--cert")
    p.add_argument("--key")
    a = p.parse_args()
    settings = Settings(a.latency, a.connect_latency, a.rate, a.total_rate)
    stats, pacer = Stats(), Pacer()
    handler = make_handler(a.root, settings, stats, pacer)
    srv = Server(("127.0.0.1", 0), handler)
    servers = [srv]
    if a.tls_port_file:
        tls = Server(("127.0.0.1", 0), handler)
        tls.tls_stub = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
        servers.append(tls)
        threading.Thread(target=tls.serve_forever, daemon=True).start()
        with open(a.tls_port_file + ".tmp", "w") as f:
            f.write(str(tls.server_address[1]))
        os.rename(a.tls_port_file + ".tmp", a.tls_port_file)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
