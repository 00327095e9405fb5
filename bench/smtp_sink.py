"""An SMTP sink for the benchmarks: accepts every message, keeps only who it was for.

`python bench/smtp_sink.py --recipients FILE` listens on 127.0.0.1 and a free port, prints
`port N` once it listens, and appends each accepted message's recipients to FILE (one address
per line, flushed every fraction of a second and on exit). SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from aiosmtpd.smtp import SMTP, Envelope, Session


class CountingHandler:
    def __init__(self) -> None:
        self.pending: list[str] = []
        self.messages = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages += 1
        self.pending.extend(str(address).lower() for address in envelope.rcpt_tos)
        return "250 OK"


async def serve(args: argparse.Namespace) -> None:
    handler = CountingHandler()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.bench.invalid", ident="bench-sink"),
        host=args.host,
        port=args.port,
    )
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"port {port}", flush=True)
    with open(args.recipients, "a", buffering=1 << 16) as out:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)
            if handler.pending:
                batch, handler.pending = handler.pending, []
                out.write("".join(f"{address}\n" for address in batch))
                out.flush()
    server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--recipients", required=True)
    asyncio.run(serve(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
