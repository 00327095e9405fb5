"""Load generator for the sign-up benchmark: a small asyncio HTTP/1.1 client, stdlib only.

Run by bench/signup_load.py in its own process. Each virtual user opens one keep-alive
connection (reopened whenever the server closes it, as gunicorn's sync workers always do),
GETs `/` once for the session cookie and the hidden csrf_token, then POSTs sign-ups
`csrf_token=..&email=unique-N@example.org&topics=SLUG` until the time is up.

Two modes:
- closed loop (default): every virtual user sends its next sign-up as soon as the last one
  answers, so the server runs flat out at that concurrency;
- open loop (`--rate R`): sign-ups are due at a fixed rate R per second whatever the server
  does; a virtual user takes the next due one, and latency is counted from when it was due,
  so a server that falls behind shows it in p99 (no coordinated omission).

Progress markers go to stdout one per line (`setup-done`, `measure-start`, `measure-end`,
`done`) so the orchestrator can sample CPU use over exactly the measured window; the figures go
to a JSON file, the addresses that signed up successfully to a text file, one per line.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import resource
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

CSRF_PATTERN = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"')
SUCCESS_MARKER = b"Check your email"


class HTTPError(Exception):
    """The server broke the HTTP exchange (closed early, sent garbage)."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    cookies: dict[str, str]
    body: bytes


class Connection:
    """One HTTP/1.1 connection with keep-alive, reopened after the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.opened = 0

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.opened += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> Response:
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        try:
            response = await self._read_response()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as error:
            self.close()
            raise HTTPError(f"{type(error).__name__}: {error}") from error
        if response.headers.get("connection", "").lower() == "close":
            self.close()
        return response

    async def _read_response(self) -> Response:
        assert self.reader is not None
        status_line = await self.reader.readuntil(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ValueError(f"bad status line {status_line!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        cookies: dict[str, str] = {}
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                cookie_name, _, rest = value.partition("=")
                cookies[cookie_name.strip()] = rest.split(";", 1)[0]
            else:
                headers[name] = value
        if parts[0] == b"HTTP/1.0":
            headers.setdefault("connection", "close")
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked()
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return Response(status, headers, cookies, body)

    async def _read_chunked(self) -> bytes:
        assert self.reader is not None
        chunks = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await self.reader.readuntil(b"\r\n") != b"\r\n":
                    pass
                return b"".join(chunks)
            chunks.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)


@dataclass
class Stats:
    """Everything the virtual users record, shared (asyncio is single-threaded)."""

    measure_start: float = 0.0
    measure_end: float = float("inf")
    latencies: list[float] = field(default_factory=list)  # measured POSTs that succeeded, s
    get_latencies: list[float] = field(default_factory=list)
    measured_ok: int = 0
    measured_errors: int = 0
    total_ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    ok_addresses: list[str] = field(default_factory=list)
    failed_addresses: list[str] = field(default_factory=list)
    connections_opened: int = 0

    def error(self, kind: str, address: str | None, measured: bool) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if address is not None:
            self.failed_addresses.append(address)
        if measured:
            self.measured_errors += 1


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


class LoadGenerator:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stats = Stats()
        self.numbers = itertools.count(args.first_number)
        self.stop_at = float("inf")
        self.due: asyncio.Queue[float] | None = asyncio.Queue() if args.rate else None
        self.setups_left = args.concurrency

    def _in_window(self, started: float) -> bool:
        """A sign-up counts when it was sent (or due) inside the measured window."""
        return self.stats.measure_start <= started < self.stats.measure_end

    async def virtual_user(self, ready: asyncio.Event) -> None:
        """GET the form once, then POST sign-ups until the end."""
        args, stats = self.args, self.stats
        connection = Connection(args.host, args.port)
        base = {"User-Agent": "updates-bench/1", "Accept": "text/html"}
        try:
            started = time.perf_counter()
            page = await asyncio.wait_for(connection.request("GET", "/", base), args.timeout)
            stats.get_latencies.append(time.perf_counter() - started)
            found = CSRF_PATTERN.search(page.body)
            if page.status != 200 or found is None or "session" not in page.cookies:
                raise HTTPError(f"GET / answered {page.status} without a form and session")
        except (TimeoutError, OSError, HTTPError) as error:
            stats.error(f"GET {type(error).__name__}: {error}"[:120], None, False)
            connection.close()
            return
        finally:
            self.setups_left -= 1
            if self.setups_left == 0:
                ready.set()
        cookies = dict(page.cookies)
        token = found.group(1).decode()
        slugs = args.topics
        await self.go.wait()
        while True:
            if self.due is not None:
                due = await self.due.get()
                if due < 0:
                    break
            else:
                due = time.perf_counter()
                if due >= self.stop_at:
                    break
            n = next(self.numbers)
            address = f"unique-{n}@example.org"
            form = [("csrf_token", token), ("email", address), ("topics", slugs[n % len(slugs)])]
            if args.all_topics:
                form = form[:2] + [("topics", slug) for slug in slugs]
            headers = {
                **base,
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items()),
            }
            body = urlencode(form).encode()
            try:
                response = await asyncio.wait_for(
                    connection.request("POST", "/", headers, body), args.timeout
                )
            except TimeoutError:
                connection.close()
                stats.error("timeout", address, self._in_window(due))
                continue
            except (OSError, HTTPError) as error:
                connection.close()
                kind = f"{type(error).__name__}: {error}"[:120]
                stats.error(kind, address, self._in_window(due))
                continue
            finished = time.perf_counter()
            measured = self._in_window(due)
            cookies.update(response.cookies)
            if response.status != 200 or SUCCESS_MARKER not in response.body:
                stats.error(f"HTTP {response.status}", address, measured)
                continue
            stats.total_ok += 1
            stats.ok_addresses.append(address)
            if measured:
                stats.measured_ok += 1
                stats.latencies.append(finished - due)
        stats.connections_opened += connection.opened
        connection.close()

    async def schedule(self) -> None:
        """Open loop: put the due time of each sign-up on the queue, on time."""
        assert self.due is not None
        interval = 1.0 / self.args.rate
        start = time.perf_counter()
        for k in itertools.count():
            due = start + k * interval
            if due >= self.stop_at:
                break
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            self.due.put_nowait(due)
        for _ in range(self.args.concurrency):
            self.due.put_nowait(-1.0)

    async def run(self) -> dict[str, object]:
        args, stats = self.args, self.stats
        self.go = asyncio.Event()
        ready = asyncio.Event()
        users = [asyncio.create_task(self.virtual_user(ready)) for _ in range(args.concurrency)]
        await asyncio.wait_for(ready.wait(), args.timeout + 5)
        print("setup-done", flush=True)
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        begin = time.perf_counter()
        stats.measure_start = begin + args.warmup
        stats.measure_end = stats.measure_start + args.seconds
        self.stop_at = stats.measure_end
        self.go.set()
        scheduler = asyncio.create_task(self.schedule()) if self.due is not None else None
        await asyncio.sleep(max(0.0, stats.measure_start - time.perf_counter()))
        print("measure-start", flush=True)
        await asyncio.sleep(max(0.0, stats.measure_end - time.perf_counter()))
        print("measure-end", flush=True)
        if scheduler is not None:
            await scheduler
        await asyncio.gather(*users)
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        latencies = sorted(stats.latencies)
        gets = sorted(stats.get_latencies)
        ms = 1000.0
        return {
            "mode": f"open loop at {args.rate}/s" if args.rate else "closed loop",
            "concurrency": args.concurrency,
            "warmup_seconds": args.warmup,
            "measured_seconds": args.seconds,
            "measured_ok": stats.measured_ok,
            "measured_errors": stats.measured_errors,
            "rps": stats.measured_ok / args.seconds,
            "p50_ms": percentile(latencies, 0.50) * ms,
            "p90_ms": percentile(latencies, 0.90) * ms,
            "p99_ms": percentile(latencies, 0.99) * ms,
            "max_ms": (latencies[-1] if latencies else 0.0) * ms,
            "mean_ms": (sum(latencies) / len(latencies) if latencies else 0.0) * ms,
            "get_p50_ms": percentile(gets, 0.50) * ms,
            "get_p99_ms": percentile(gets, 0.99) * ms,
            "total_ok": stats.total_ok,
            "total_errors": sum(stats.errors.values()),
            "errors": stats.errors,
            "connections_opened": stats.connections_opened,
            "client_cpu_seconds": (cpu_after.ru_utime - cpu_before.ru_utime)
            + (cpu_after.ru_stime - cpu_before.ru_stime),
            "wall_seconds": time.perf_counter() - begin,
        }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--topics", nargs="+", required=True, help="topic slugs to sign up for")
    parser.add_argument("--all-topics", action="store_true", help="every sign-up takes them all")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: sign-ups per second")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--first-number", type=int, default=1)
    parser.add_argument("--results", required=True, help="JSON file for the figures")
    parser.add_argument("--ok-file", required=True, help="addresses that signed up")
    parser.add_argument("--failed-file", required=True, help="addresses whose sign-up failed")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    generator = LoadGenerator(args)
    results = asyncio.run(generator.run())
    with open(args.ok_file, "w") as out:
        out.writelines(f"{address}\n" for address in generator.stats.ok_addresses)
    with open(args.failed_file, "w") as out:
        out.writelines(f"{address}\n" for address in generator.stats.failed_addresses)
    with open(args.results, "w") as out:
        json.dump(results, out, indent=2)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
