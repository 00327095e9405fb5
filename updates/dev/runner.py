"""The development runner: web app, one worker, a private Redis and a mail catcher.

Mail the worker sends lands in instance/devmail/ and is readable at /dev/mail.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack, suppress
from pathlib import Path

import click
from aiosmtpd.controller import Controller

from updates import ROOT
from updates.dev.embedded_redis import EmbeddedRedis

DEV_ADMIN = "admin@example.org"


class MailCatcher:
    """aiosmtpd handler that keeps each message as an .eml file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope) -> str:
        name = f"{time.time_ns()}{uuid.uuid4().hex[:6]}"
        (self.folder / f"{name}.eml").write_bytes(envelope.original_content)
        return "250 Message accepted for delivery"


def run(port: int, mail_port: int) -> None:
    instance = ROOT / "instance"
    env = dict(os.environ)
    env.setdefault("UPDATES_ENV", "development")
    env.setdefault("BASE_URL", f"http://localhost:{port}")
    env["SMTP_HOST"], env["SMTP_PORT"], env["SMTP_TLS"] = "127.0.0.1", str(mail_port), "none"
    children: list[subprocess.Popen[bytes]] = []
    with ExitStack() as stack:
        if not env.get("REDIS_URL"):
            env["REDIS_URL"] = stack.enter_context(EmbeddedRedis())
            click.echo(f"redis:      {env['REDIS_URL']} (private, stopped on exit)")
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # a line per connection
        catcher = Controller(
            MailCatcher(instance / "devmail"), hostname="127.0.0.1", port=mail_port
        )
        catcher.start()
        stack.callback(catcher.stop)

        flask = [sys.executable, "-m", "flask", "--app", "updates"]
        subprocess.run([*flask, "db", "upgrade"], env=env, check=True, cwd=ROOT)
        subprocess.run([*flask, "demo"], env=env, check=True, cwd=ROOT)
        admin_password = _dev_admin(flask, env, instance)
        # Each child in a session of its own: Ctrl-C reaches only this runner, which stops the
        # web and the worker before Redis, so nothing prints a traceback about a lost Redis.
        children.append(
            subprocess.Popen(
                [sys.executable, str(ROOT / "worker.py")],
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
        )
        web = subprocess.Popen(
            [*flask, "run", "--port", str(port), "--debug"],
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        children.append(web)
        stack.callback(_stop, children)
        # First the web's whole group: its reloader runs the app in a child of its own.
        stack.callback(_stop_group, web)
        click.echo(f"sign-up:    http://localhost:{port}/")
        click.echo(f"dev mail:   http://localhost:{port}/dev/mail/")
        click.echo(f"staff:      http://localhost:{port}/admin/  ({DEV_ADMIN} / {admin_password})")
        click.echo("Ctrl-C stops everything.")
        signal.signal(signal.SIGTERM, _interrupt)  # a plain `kill` stops everything too
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            click.echo("a process exited; stopping everything", err=True)
        except KeyboardInterrupt:
            click.echo("stopping")


def _dev_admin(flask: list[str], env: dict[str, str], instance: Path) -> str:
    """A development admin account; its password is kept in the instance folder.

    The account is added to whichever database this run uses, so a fresh DATABASE_URL gets it
    too; an account already there keeps the password it has.
    """
    password_file = instance / "dev-admin-password"
    if not password_file.exists():
        instance.mkdir(parents=True, exist_ok=True)
        password_file.write_text(secrets.token_urlsafe(12))
        password_file.chmod(0o600)
    password = password_file.read_text().strip()
    subprocess.run(
        [*flask, "staff", "add", DEV_ADMIN, "--role", "admin"],
        env={**env, "UPDATES_PASSWORD": password},
        cwd=ROOT,
        capture_output=True,  # "already exists" on every run but the first
    )
    return password


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
