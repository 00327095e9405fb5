"""Relay outage benchmark: the relay goes away mid-digest and comes back; how soon is all sent?

    .venv/bin/python bench/relay_outage.py --recipients 3000 --workers 2 --outage 20

One digest goes to N subscribers through W `python worker.py` processes and one relay, the
aiosmtpd sink (bench/smtp_sink.py). Once the relay has taken a fifth of the messages it is
stopped (SIGTERM: its sessions drop, its port refuses), and `--outage` seconds later started
again on the same port. It prints, as JSON, the seconds from the relay answering again to the
first and to the last recipient received after it, how many messages the relay took twice, and
the time the same digest takes without an outage (measured first, in the same run).

It builds its own PostgreSQL database (as bench/delivery.py does) and runs a private
redis-server; the workers run with the default SMTP_OUTAGE_WAIT unless --outage-wait is given.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import delivery as bench  # noqa: E402  (bench/delivery.py: database, audience, digest)

from updates.dev.embedded_redis import EmbeddedRedis  # noqa: E402


class Relay:
    """bench/smtp_sink.py on a fixed port, appending each recipient to one file across runs."""

    def __init__(self, recipients: Path) -> None:
        self.port = bench.free_port()
        self.recipients = recipients
        self.process: subprocess.Popen[bytes] | None = None
        self.skip = 0  # lines of earlier digests

    def start(self) -> float:
        """Start it; the moment it accepts connections."""
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "smtp_sink.py"),
                "--port",
                str(self.port),
                "--recipients",
                str(self.recipients),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with bench.socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return time.monotonic()
            time.sleep(0.01)
        raise RuntimeError("the relay did not start")

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)

    def received(self) -> list[str]:
        if not self.recipients.exists():
            return []
        return self.recipients.read_text().splitlines()[self.skip :]


def wait_for(condition, timeout: float, step: float = 0.02) -> float:
    """Poll until true; the moment it became true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(step)
    return time.monotonic()


def start_digest(app, recipients: int) -> int:
    """Compose a digest to everyone, build its ledger and enqueue its batches."""
    from updates.extensions import db
    from updates.models import Digest
    from updates.worker import delivery

    digest_id = bench.compose(app, 1)
    with app.app_context():
        digest = db.session.get(Digest, digest_id)
        bench.schedule_now(digest)
        assert delivery._claim_start(digest_id)
        assert delivery._materialise(digest_id, digest.kind) == recipients
        delivery.enqueue_batches(digest_id)
    return digest_id


def status(app, digest_id: int) -> str:
    from updates.extensions import db
    from updates.models import Digest

    with app.app_context():
        return db.session.get(Digest, digest_id).status


def run(args: argparse.Namespace, folder: Path, redis_url: str) -> dict[str, object]:
    relay = Relay(folder / "recipients")
    relay.start()
    env = {**bench.environment(relay.port, args.batch_size), "REDIS_URL": redis_url}
    if args.outage_wait is not None:
        env["SMTP_OUTAGE_WAIT"] = str(args.outage_wait)
    app = bench.upgraded_app(env)
    bench.populate(app, args.recipients, 1)
    workers = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "worker.py")],
            env=env,
            cwd=ROOT,
            stdout=(folder / f"worker-{n}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for n in range(args.workers)
    ]
    try:
        time.sleep(2)  # workers up and idle
        started = time.monotonic()
        calm = start_digest(app, args.recipients)
        wait_for(lambda: status(app, calm) == "sent", args.timeout, 0.05)
        calm_seconds = time.monotonic() - started
        relay.skip += len(relay.received())

        started = time.monotonic()
        digest_id = start_digest(app, args.recipients)
        wait_for(lambda: len(relay.received()) >= args.recipients // 5, args.timeout, 0.005)
        relay.stop()
        stopped = time.monotonic()
        taken_before = len(relay.received())
        time.sleep(args.outage)
        back = relay.start()
        resumed = wait_for(lambda: len(relay.received()) > taken_before, args.timeout)
        done = wait_for(lambda: len(set(relay.received())) >= args.recipients, args.timeout)
        wait_for(lambda: status(app, digest_id) == "sent", args.timeout, 0.05)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
        relay.stop()
    received = relay.received()
    return {
        "recipients": args.recipients,
        "workers": args.workers,
        "batch_size": args.batch_size,
        "outage_seconds": round(back - stopped, 1),
        "smtp_outage_wait": env.get("SMTP_OUTAGE_WAIT", "default"),
        "received_before_the_outage": taken_before,
        "seconds_from_return_to_first_delivery": round(resumed - back, 2),
        "seconds_from_return_to_last_delivery": round(done - back, 2),
        "seconds_whole_digest_without_outage": round(calm_seconds, 2),
        "seconds_whole_digest_with_outage": round(done - started, 2),
        "received": len(received),
        "duplicates": len(received) - len(set(received)),
        "missing": args.recipients - len(set(received)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--outage", type=float, default=20.0, help="seconds the relay is away")
    parser.add_argument("--outage-wait", type=float, help="SMTP_OUTAGE_WAIT for the workers")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="updates-outage-") as folder,
        EmbeddedRedis() as redis_url,
        bench.bench_database(),
    ):
        print(json.dumps(run(args, Path(folder), redis_url)), flush=True)


if __name__ == "__main__":
    main()
