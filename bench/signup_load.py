"""Sign-up load benchmark: `.venv/bin/python bench/signup_load.py [--seconds 20] [...]`.

It builds everything it needs and takes it all down again:
- a fresh PostgreSQL database `updates_bench` on 127.0.0.1:5432 (dropped at the end), migrated
  with `flask --app updates db upgrade`, with two topics added by `flask --app updates topics add`;
- Redis database 15 on 127.0.0.1:6379 (flushed at the start; no other database is touched);
- an SMTP sink (bench/smtp_sink.py) on a free loopback port, recording each recipient;
- gunicorn serving `updates:create_app()` with production settings on a free loopback port;
- two `python worker.py` processes sending through the sink (they run mail jobs in process and
  fork for the other queues; `--mail-worker simple`: every queue in process, with RQ's
  SimpleWorker, bench/bench_worker.py);
- the load generator (bench/loadgen.py) in its own process.

`--variant` runs the app with measure-only experiments from bench/bench_app.py applied, to see
what a part costs; docs/benchmarks.md has the figures and what they mean.

After the load it waits for the workers to drain the mail queue and checks that every sign-up
that answered 200 is in the database (a pending subscriber), has its confirmation email marked
sent, and reached the sink. The last line is PASS or FAIL against the target: at least 500
sign-ups per second with p99 under 50 ms, no errors, none lost.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from redis import Redis

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "updates_bench"
DATABASE_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/15"
TOPICS = (("programme-news", "Programme news"), ("events", "Events and Summits"))
TARGET_RPS = 500.0
TARGET_P99_MS = 50.0
TICKS = os.sysconf("SC_CLK_TCK")


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: stop everything and clean up."""


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- processes -------------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path


class Children:
    """Every process the bench starts, each in its own session so only they are signalled."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[Child] = []

    def start(
        self, name: str, command: list[str], env: dict[str, str], stdout_pipe: bool = False
    ) -> Child:
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if stdout_pipe else log_file,
                stderr=log_file,
                start_new_session=True,
            )
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    def check_alive(self) -> None:
        for child in self.children:
            code = child.process.poll()
            if code is not None and child.name != "loadgen":
                raise RuntimeError(f"{child.name} exited with {code}; see {child.log_path}")

    def stop(self, child: Child, grace: float = 15.0) -> None:
        """SIGTERM the process, give it time to finish, then kill its whole session."""
        process = child.process
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                log(f"{child.name} ignored SIGTERM for {grace:.0f}s; killing it")
        # Whatever it left behind (RQ work horses, the periodic ticker) is in its session.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        if process.stdout is not None:
            process.stdout.close()

    def stop_all(self) -> None:
        for child in reversed(self.children):
            self.stop(child)
        self.children.clear()


# --- CPU accounting from /proc ---------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[str, int, float] | None:
    """(command name, parent pid, CPU seconds including reaped children) of a process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return name, int(fields[1]), (utime + stime + cutime + cstime) / TICKS


def cpu_by_component(roles: dict[int, str]) -> dict[str, float]:
    """CPU seconds used so far, per component: the bench's own processes and their children,
    PostgreSQL and Redis (read-only look at /proc: nothing of theirs is touched)."""
    table = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None:
                table[int(entry.name)] = stat
    totals: dict[str, float] = collections.defaultdict(float)
    for pid, (name, parent, seconds) in table.items():
        role = roles.get(pid) or roles.get(parent)
        if role is None and name.startswith("postgres"):
            role = _postgres_role(pid)
            seconds = _own_cpu_seconds(pid) if role else 0.0
        elif role is None and name.startswith("redis-server"):
            role = "redis (shared)"
        if role is not None:
            totals[role] += seconds
    return totals


def _postgres_role(pid: int) -> str | None:
    """Our database's backends and the server's own helpers; not other databases' backends,
    nor the postmaster (whose reaped-children time includes everyone's)."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    if f" {DB_NAME} " in title:
        return "postgresql"
    backend = "127.0.0.1(" in title or "[local]" in title
    return None if backend or not title.startswith("postgres:") else "postgresql"


def _own_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def wait_for_quiet(args: argparse.Namespace) -> float:
    """How busy the machine is without us (cores); wait up to --wait-idle for it to calm."""
    deadline = time.monotonic() + args.wait_idle
    while True:
        before = total_cpu_seconds()
        time.sleep(2.0)
        busy = (total_cpu_seconds() - before) / 2.0
        if busy < 0.2 or time.monotonic() >= deadline:
            break
        log(f"machine busy ({busy:.2f} cores) before the run; waiting for it to calm down")
    if busy >= 0.2:
        log(f"WARNING: {busy:.2f} cores busy before the run: figures will be low")
    return busy


def total_cpu_seconds(interrupts_only: bool = False) -> float:
    """Busy CPU seconds of the whole machine (all cores), or only its interrupt handling
    (irq and softirq: loopback TCP is largely processed there, and no process is charged)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    if interrupts_only:
        return (fields[5] + fields[6]) / TICKS
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / TICKS


# --- database and redis ----------------------------------------------------------------------


def create_database() -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DB_NAME}")


def drop_database() -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def flask(env: dict[str, str], *arguments: str) -> None:
    command = [PYTHON, "-m", "flask", "--app", "updates", *arguments]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed:\n{done.stdout}{done.stderr}")


def outbound_states(connection: psycopg.Connection) -> dict[str, int]:
    rows = connection.execute("SELECT state, count(*) FROM outbound_emails GROUP BY state")
    return {state: count for state, count in rows}


# --- the run ---------------------------------------------------------------------------------


def service_env(args: argparse.Namespace, smtp_port: int) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("UPDATES_", "SMTP_", "SIGNUP_", "DATABASE_", "REDIS_"))
    }
    env.update(
        UPDATES_ENV="production",
        SECRET_KEY="bench-secret-key-not-for-production-use-0123456789",
        SUPPRESSION_KEY="bench-suppression-key-not-for-production-use-0123",
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        BASE_URL="https://bench.example",
        MAIL_FROM="Bench Updates <updates@bench.example>",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        SIGNUP_LIMIT_PER_IP=args.limit,
        SIGNUP_LIMIT_PER_ADDRESS=args.limit,
        PYTHONUNBUFFERED="1",
    )
    if args.variant:
        env["BENCH_VARIANTS"] = args.variant
    return env


def gunicorn_command(args: argparse.Namespace, port: int) -> list[str]:
    app = "bench_app:create_app()" if args.variant else "updates:create_app()"
    command = [PYTHON, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(args.workers), "--worker-class", args.worker_class]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    command += ["--backlog", "2048", "--keep-alive", "5", "--graceful-timeout", "10"]
    command += ["--worker-tmp-dir", "/dev/shm", "--log-level", "warning"]
    if args.variant:
        command += ["--pythonpath", str(BENCH)]
    return command


def wait_until_serving(port: int, children: Children, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children.check_alive()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            if s.recv(16).startswith(b"HTTP/1.1 200"):
                return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer on port {port} within {timeout:.0f}s")


def start_sink(children: Children, env: dict[str, str], recipients: Path) -> int:
    command = [PYTHON, str(BENCH / "smtp_sink.py"), "--recipients", str(recipients)]
    sink = children.start("smtp-sink", command, env, stdout_pipe=True)
    assert sink.process.stdout is not None
    line = sink.process.stdout.readline().decode()
    if not line.startswith("port "):
        raise RuntimeError(f"the SMTP sink did not start; see {sink.log_path}")
    return int(line.split()[1])


def read_recipients(path: Path) -> collections.Counter[str]:
    if not path.exists():
        return collections.Counter()
    return collections.Counter(line.strip() for line in path.read_text().splitlines() if line)


def run_load(
    args: argparse.Namespace, children: Children, env: dict[str, str], port: int, work: Path
) -> tuple[dict, dict[str, float], float]:
    """Run the load generator; return its figures and the CPU used in the measured window."""
    command = [PYTHON, str(BENCH / "loadgen.py"), "--port", str(port)]
    command += ["--topics", *(slug for slug, _ in TOPICS)]
    command += ["--seconds", str(args.seconds), "--warmup", str(args.warmup)]
    command += ["--concurrency", str(args.concurrency), "--rate", str(args.rate)]
    command += ["--results", str(work / "load.json"), "--ok-file", str(work / "ok.txt")]
    command += ["--failed-file", str(work / "failed.txt")]
    loadgen = children.start("loadgen", command, env, stdout_pipe=True)
    assert loadgen.process.stdout is not None
    roles = {child.process.pid: child.name for child in children.children}
    for child in children.children:
        if child.name.startswith("gunicorn"):
            roles.update({pid: "gunicorn" for pid, name in _children_of(child.process.pid).items()})
    marks: dict[str, tuple[float, dict[str, float], float]] = {}
    for raw in loadgen.process.stdout:
        line = raw.decode().strip()
        if line in ("measure-start", "measure-end"):
            cpu = cpu_by_component(roles)
            cpu["kernel irq/softirq"] = total_cpu_seconds(interrupts_only=True)
            marks[line] = (time.monotonic(), cpu, total_cpu_seconds())
            log(line.replace("-", " "))
        if line == "done":
            break
    code = loadgen.process.wait()
    if code != 0 or "measure-end" not in marks:
        raise RuntimeError(f"the load generator failed ({code}); see {loadgen.log_path}")
    results = json.loads((work / "load.json").read_text())
    (t0, cpu0, busy0), (t1, cpu1, busy1) = marks["measure-start"], marks["measure-end"]
    window = t1 - t0
    shares = {name: (cpu1.get(name, 0.0) - cpu0.get(name, 0.0)) / window for name in cpu1}
    shares = {name: share for name, share in shares.items() if share > 0.005}
    busy = (busy1 - busy0) / window
    shares["other (not ours)"] = max(0.0, busy - sum(shares.values()))
    return results, shares, busy


def _children_of(parent: int) -> dict[int, str]:
    found = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None and stat[1] == parent:
                found[int(entry.name)] = stat[0]
    return found


@dataclass
class Drain:
    done: bool
    seconds: float
    sent: int  # emails sent while draining


def drain(args: argparse.Namespace, children: Children, recipients: Path) -> Drain:
    """Wait until no confirmation email is still owed and the sink has them all."""
    started = time.monotonic()
    last_report = started
    with psycopg.connect(DATABASE_URL, autocommit=True) as connection:
        sent_before = outbound_states(connection).get("sent", 0)
        while True:
            children.check_alive()
            states = outbound_states(connection)
            pending = states.get("pending", 0)
            received = sum(read_recipients(recipients).values())
            now = time.monotonic()
            sent_since = states.get("sent", 0) - sent_before
            if pending == 0 and received >= states.get("sent", 0):
                return Drain(True, now - started, sent_since)
            if now - started > args.drain_timeout:
                log(f"drain timed out after {args.drain_timeout:.0f}s: {states}")
                return Drain(False, now - started, sent_since)
            if now - last_report >= 10:
                log(f"draining: {states}, sink has {received}")
                last_report = now
            time.sleep(0.5)


@dataclass
class Verdict:
    ok: int
    lost_subscriber: list[str]
    lost_sent: list[str]
    lost_delivered: list[str]
    duplicates: int
    extra_subscribers: int
    states: dict[str, int]

    @property
    def lost(self) -> set[str]:
        return {*self.lost_subscriber, *self.lost_sent, *self.lost_delivered}


def verify(ok_file: Path, recipients: Path) -> Verdict:
    ok = {line.strip().lower() for line in ok_file.read_text().splitlines() if line.strip()}
    with psycopg.connect(DATABASE_URL) as connection:
        subscribers = dict(connection.execute("SELECT lower(email), status FROM subscribers"))
        sent = {
            address
            for (address,) in connection.execute(
                "SELECT lower(s.email) FROM outbound_emails o "
                "JOIN subscribers s ON s.id = o.subscriber_id WHERE o.state = 'sent'"
            )
        }
        states = outbound_states(connection)
    received = read_recipients(recipients)
    return Verdict(
        ok=len(ok),
        lost_subscriber=sorted(a for a in ok if subscribers.get(a) != "pending"),
        lost_sent=sorted(ok - sent),
        lost_delivered=sorted(a for a in ok if received[a] == 0),
        duplicates=sum(count - 1 for count in received.values() if count > 1),
        extra_subscribers=len(subscribers.keys() - ok),
        states=states,
    )


def report(
    args: argparse.Namespace,
    load: dict,
    cpu: dict[str, float],
    busy: float,
    drained: Drain,
    verdict: Verdict,
) -> bool:
    settings = f"gunicorn -w {args.workers} -k {args.worker_class}"
    if args.worker_class == "gthread":
        settings += f" --threads {args.threads}"
    print()
    mail = f"{args.mail_workers} mail workers ({args.mail_worker})"
    print(f"Sign-up load: {settings}, {mail}, {os.cpu_count()} cores")
    variant = f", variant {args.variant}" if args.variant else ""
    print(f"  load:      {load['mode']}, {args.concurrency} virtual users{variant}")
    print(f"  measured:  {args.seconds:.0f}s after {args.warmup:.0f}s warm-up")
    print(f"  sign-ups:  {load['rps']:.1f}/s ({load['measured_ok']} in the window)")
    print(
        f"  latency:   p50 {load['p50_ms']:.1f} ms, p90 {load['p90_ms']:.1f} ms, "
        f"p99 {load['p99_ms']:.1f} ms, max {load['max_ms']:.1f} ms"
    )
    print(f"  GET /:     p50 {load['get_p50_ms']:.1f} ms (once per virtual user)")
    print(f"  errors:    {load['total_errors']} {load['errors'] or ''}")
    cpu_text = ", ".join(f"{name} {share:.2f}" for name, share in sorted(cpu.items()))
    if cpu.get("other (not ours)", 0.0) > 0.2:
        cpu_text += " -- WARNING: other work shared the machine"
    print(f"  CPU:       {busy:.2f} of {os.cpu_count()} cores busy; by component: {cpu_text}")
    print(f"  client:    {load['connections_opened']} connections opened")
    rate = drained.sent / drained.seconds if drained.seconds > 1 else 0
    drain_text = "drained" if drained.done else "NOT drained"
    print(
        f"  mail:      {drain_text} {drained.seconds:.1f}s after the load "
        f"({drained.sent} sent meanwhile, {rate:.0f} emails/s)"
    )
    print(f"  checked:   {verdict.ok} sign-ups that answered 200; outbound emails {verdict.states}")
    print(
        f"  lost:      {len(verdict.lost)} (not pending in the database "
        f"{len(verdict.lost_subscriber)}, email not sent {len(verdict.lost_sent)}, "
        f"not at the sink {len(verdict.lost_delivered)}); duplicate deliveries "
        f"{verdict.duplicates}; rows from failed requests {verdict.extra_subscribers}"
    )
    for address in sorted(verdict.lost)[:5]:
        print(f"    e.g. {address}")
    failures = []
    if load["rps"] < args.target_rps:
        failures.append(f"{load['rps']:.0f} sign-ups/s < {args.target_rps:.0f}")
    if load["p99_ms"] >= args.target_p99_ms:
        failures.append(f"p99 {load['p99_ms']:.1f} ms >= {args.target_p99_ms:.0f} ms")
    if load["total_errors"]:
        failures.append(f"{load['total_errors']} errors")
    if verdict.lost:
        failures.append(f"{len(verdict.lost)} lost")
    if not drained.done:
        failures.append("mail queue not drained")
    target = f">= {args.target_rps:.0f} sign-ups/s at p99 < {args.target_p99_ms:.0f} ms"
    if failures:
        print(f"FAIL: target {target}, no errors, none lost: " + "; ".join(failures))
    else:
        print(
            f"PASS: {load['rps']:.0f} sign-ups/s at p99 {load['p99_ms']:.1f} ms, "
            f"no errors, none lost (target {target})"
        )
    return not failures


def save_results(args: argparse.Namespace, load: dict, cpu: dict, verdict: Verdict) -> None:
    if not args.save:
        return
    out = Path(args.save)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "settings": {key: value for key, value in vars(args).items() if key != "save"},
        "load": load,
        "cpu_cores": cpu,
        "lost": len(verdict.lost),
        "duplicates": verdict.duplicates,
        "outbound": verdict.states,
    }
    with out.open("a") as file:
        file.write(json.dumps(record) + "\n")


def _still_stopping(signum: int, frame: object) -> None:
    log("still stopping the processes and dropping the database; please wait")


@contextlib.contextmanager
def signals_interrupt(handler=_interrupt) -> Iterator[None]:
    """Turn Ctrl-C and SIGTERM into Interrupted (or, while cleaning up, into a message)."""
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="updates-bench-"))
    children = Children(work)
    recipients = work / "recipients.txt"
    passed = False
    database_made = False
    try:
        with signals_interrupt():
            log(f"working files in {work}")
            create_database()
            database_made = True
            Redis.from_url(REDIS_URL).flushdb()
            smtp_port = start_sink(children, dict(os.environ), recipients)
            env = service_env(args, smtp_port)
            flask(env, "db", "upgrade")
            for slug, name in TOPICS:
                flask(env, "topics", "add", slug, name)
            port = free_port()
            log(f"gunicorn on 127.0.0.1:{port}: {' '.join(gunicorn_command(args, port)[3:])}")
            children.start("gunicorn", gunicorn_command(args, port), env)
            wait_until_serving(port, children)
            script = ROOT / "worker.py" if args.mail_worker == "fork" else BENCH / "bench_worker.py"
            mail_workers = [
                (f"worker-{n}", [PYTHON, str(script)]) for n in range(1, args.mail_workers + 1)
            ]
            if not args.defer_mail_workers:
                for name, command in mail_workers:
                    children.start(name, command, env)
            wait_for_quiet(args)
            log(f"SMTP sink on 127.0.0.1:{smtp_port}; load for {args.warmup}+{args.seconds}s")
            load, cpu, busy = run_load(args, children, env, port, work)
            if args.defer_mail_workers:
                for name, command in mail_workers:
                    children.start(name, command, env)
            log(f"load done: {load['total_ok']} sign-ups answered 200; draining the mail queue")
            drained = drain(args, children, recipients)
            verdict = verify(work / "ok.txt", recipients)
            passed = report(args, load, cpu, busy, drained, verdict)
            save_results(args, load, cpu, verdict)
    except Interrupted as stop:
        log(f"interrupted ({stop}); stopping")
    except Exception as error:
        log(f"error: {error}")
    finally:
        with signals_interrupt(_still_stopping):  # a second Ctrl-C must not stop the cleanup
            try:
                children.stop_all()
            finally:
                if database_made and not args.keep_db:
                    drop_database()
                    log(f"dropped database {DB_NAME}")
        if args.keep_logs or not passed:
            log(f"everything stopped; logs kept in {work}")
        else:
            shutil.rmtree(work)
            log("everything stopped")
    return 0 if passed else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Sign-up load benchmark against gunicorn, PostgreSQL, Redis and RQ workers."
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time (20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured time first (3)")
    parser.add_argument("--concurrency", type=int, default=8, help="virtual users (8)")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="open loop: sign-ups due per second (closed loop)"
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (3)")
    parser.add_argument(
        "--worker-class", choices=("sync", "gthread"), default="sync", help="(sync)"
    )
    parser.add_argument("--threads", type=int, default=2, help="threads per gthread worker (2)")
    parser.add_argument("--mail-workers", type=int, default=2, help="python worker.py count (2)")
    parser.add_argument(
        "--mail-worker",
        choices=("fork", "simple"),
        default="fork",
        help="fork: `python worker.py` as shipped (default: mail in process, a fork per job of "
        "the other queues); simple: bench/bench_worker.py, every queue in process",
    )
    parser.add_argument(
        "--defer-mail-workers",
        action="store_true",
        help="start the mail workers only after the load, to measure the web tier alone",
    )
    parser.add_argument("--limit", default="1000000/minute", help="both sign-up rate limits")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        help="wait up to this many seconds for other work on the machine to stop first (0)",
    )
    parser.add_argument("--drain-timeout", type=float, default=900.0, help="seconds (900)")
    parser.add_argument("--target-rps", type=float, default=TARGET_RPS)
    parser.add_argument("--target-p99-ms", type=float, default=TARGET_P99_MS)
    parser.add_argument(
        "--variant",
        default="",
        help="comma-separated experiments from bench/bench_app.py, applied to the app",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave updates_bench in place")
    parser.add_argument("--keep-logs", action="store_true", help="keep the working folder")
    parser.add_argument("--save", default="", help="append the figures as JSON to this file")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run(parse_args()))
