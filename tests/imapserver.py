"""A real IMAP server for the tests: Debian's Dovecot, on loopback, with a private configuration.

It listens for plain IMAP (STARTTLS offered) and for IMAPS, with a self-signed certificate made
here. Any user name signs in with PASSWORD and gets a mailbox of its own, so each test takes a
fresh user instead of cleaning up after the last.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.certificates import loopback_tls_files
from updates.dev.embedded_redis import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PASSWORD = "mailbox-password"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%n
first_valid_uid = 0
first_valid_gid = 0
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
{capability}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={root}/home/%n
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
service anvil {{
  chroot =
}}
"""


def available() -> bool:
    return Path(DOVECOT).is_file()


class Dovecot:
    """One dovecot process, started with `start()` and stopped with `stop()`."""

    def __init__(self, capability: str = "") -> None:
        self.capability = capability  # imap_capability, to play a server that lacks some
        self.root = Path(tempfile.mkdtemp(prefix="updates-dovecot-"))
        self.root.chmod(0o755)  # its unprivileged login processes reach the sockets in here
        self.imap_port = free_port()
        self.imaps_port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def ca_file(self) -> str:
        return str(self.root / "cert.pem")

    def start(self) -> None:
        if os.geteuid() == 0:  # dovecot will not run its logins, or mail, as root
            internal, login, mail = "dovecot", "dovenull", "dovecot"
        else:
            internal = login = mail = pwd.getpwuid(os.getuid()).pw_name
        entry = pwd.getpwnam(mail)
        for folder in ("mail", "home"):
            (self.root / folder).mkdir()
            os.chown(self.root / folder, entry.pw_uid, entry.pw_gid)
        loopback_tls_files(self.root)
        config = self.root / "dovecot.conf"
        config.write_text(
            CONFIG.format(
                root=self.root,
                internal=internal,
                internal_group=grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name,
                login=login,
                mail_user=entry.pw_uid,
                mail_group=entry.pw_gid,
                password=PASSWORD,
                imap_port=self.imap_port,
                imaps_port=self.imaps_port,
                capability=f"imap_capability = {self.capability}" if self.capability else "",
            )
        )
        self.process = subprocess.Popen(
            [DOVECOT, "-c", str(config), "-F"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_listening()

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.imap_port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not start listening: {self.log()}")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def mailbox(self, tls: str = "none") -> dict[str, object]:
        """BOUNCE_IMAP settings for a fresh user: `none` and `starttls` on the IMAP port, `ssl`
        on the IMAPS one."""
        return {
            "host": "127.0.0.1",
            "port": self.imaps_port if tls == "ssl" else self.imap_port,
            "tls": tls,
            "username": f"bounces-{uuid.uuid4().hex[:12]}",
            "password": PASSWORD,
            "folder": "INBOX",
            "processed": "Processed",
        }
