"""An SMTP sink for the benchmarks: accepts every message, keeps only who it was for.

`python bench/smtp_sink.py --recipients FILE` listens on 127.0.0.1 and a free port, prints
`port N` once it listens, and appends each accepted message's recipients to FILE (one address
per line), written before the message is answered 250, so that whatever a client saw accepted
is in FILE even if the sink is stopped the next moment. SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from aiosmtpd.smtp import SMTP, Envelope, Session


class RecordingHandler:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # One unbuffered append (a few microseconds) per message, before the answer.
        os.write(self.fd, "".join(f"{str(a).lower()}\n" for a in envelope.rcpt_tos).encode())
        return "250 OK"


async def serve(args: argparse.Namespace) -> None:
    fd = os.open(args.recipients, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    handler = RecordingHandler(fd)
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
    await stop.wait()
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
