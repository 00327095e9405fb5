"""Configuration: the one module that reads the environment."""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from updates import limits

ENVIRONMENTS = ("development", "test", "production")
SMTP_TLS_MODES = ("none", "starttls", "ssl")
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_NAME = re.compile(rf"(?=.{{1,253}}$){LABEL}(?:\.{LABEL})*")
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(RuntimeError):
    """The environment does not describe a service that can start."""


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from error


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        return float(raw)
    except ValueError as error:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from error


def _secret_keys(env: Mapping[str, str], environment: str, instance_path: Path) -> list[str]:
    keys = [key.strip() for key in env.get("SECRET_KEY", "").split(",") if key.strip()]
    if keys:
        return keys
    if environment == "production":
        raise ConfigError("SECRET_KEY is required in production")
    if environment == "test":
        return ["test-secret-key"]
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return [key_file.read_text().strip()]


def _suppression_key(
    env: Mapping[str, str], environment: str, instance_path: Path, secret_keys: list[str]
) -> str:
    key = env.get("SUPPRESSION_KEY", "").strip()
    if not key and environment == "production":
        # Start all the same, keyed by the signing key; the README says to set this one before
        # SECRET_KEY is ever rotated, or suppressed addresses would no longer be recognised.
        return hmac.new(secret_keys[0].encode(), b"updates.suppression-key", "sha256").hexdigest()
    if not key and environment == "test":
        return "test-suppression-key"
    if not key:
        key_file = instance_path / "suppression_key"
        if not key_file.exists():
            instance_path.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        key = key_file.read_text().strip()
    if key in secret_keys:
        # A signing key is rotated and may be shared with other tools; this one never changes.
        raise ConfigError("SUPPRESSION_KEY must not be one of the SECRET_KEY keys")
    return key


def helo_name(name: str, base_url: str) -> str:
    """What the relay is greeted with: `name` (SMTP_HELO_NAME), else BASE_URL's host, in ASCII;
    an IP address as the address literal RFC 5321 asks for."""
    name = (name or urlsplit(base_url).hostname or "localhost").strip()
    try:
        address = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        pass
    else:
        return f"[IPv6:{address}]" if address.version == 6 else f"[{address}]"
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise ConfigError(f"SMTP_HELO_NAME is not a host name: {name!r}") from None
    if not HOST_NAME.fullmatch(ascii_name):
        raise ConfigError(f"SMTP_HELO_NAME is not a host name: {name!r}")
    return ascii_name


def smtp_hosts(env: Mapping[str, str], default_port: int) -> list[tuple[str, int]]:
    """SMTP_HOSTS, comma-separated `host[:port]` (an IPv6 address in brackets), first preferred;
    empty when unset, so that SMTP_HOST and SMTP_PORT name the one relay."""
    hosts = []
    for item in env.get("SMTP_HOSTS", "").split(","):
        if not item.strip():
            continue
        try:
            parts = urlsplit(f"//{item.strip()}")
            host, port = parts.hostname, parts.port or default_port
        except ValueError:
            host = None
        if not host or parts.username or parts.path or parts.query:
            raise ConfigError(f"SMTP_HOSTS must list host or host:port, not {item.strip()!r}")
        hosts.append((host, port))
    return hosts


def _worker_metrics_port(env: Mapping[str, str]) -> int:
    port = _int(env, "WORKER_METRICS_PORT", 0)
    if port and not env.get("PROMETHEUS_MULTIPROC_DIR"):
        # Newsletter batches run in forked work horses, whose figures only files can carry.
        raise ConfigError("WORKER_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR, a folder of its own")
    return port


def log_settings(env: Mapping[str, str]) -> tuple[str, str]:
    """LOG_FORMAT and LOG_LEVEL: one JSON object a line in production, text elsewhere."""
    environment = env.get("UPDATES_ENV", "") or "development"
    default = "json" if environment == "production" else "text"
    log_format = (env.get("LOG_FORMAT", "") or default).lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
    level = (env.get("LOG_LEVEL", "") or "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    return log_format, level


def _timezone(env: Mapping[str, str]) -> str:
    """The organisation's time zone, an IANA name; staff schedule sends in it."""
    name = env.get("TIMEZONE", "") or "Europe/London"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"TIMEZONE must be an IANA time zone such as Europe/London, not {name!r}"
        ) from None
    return name


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ConfigError(f"{name} must be 1 or more, not {value}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if not 0 < value <= 3600:
        raise ConfigError(f"{name} must be more than 0 seconds and at most 3600, not {value}")
    return value


def bounce_mailbox(url: str) -> dict[str, object] | None:
    """BOUNCE_IMAP_URL as its parts: `imaps://USER:PASSWORD@HOST[:993]/FOLDER?processed=NAME`,
    or `imap://` with STARTTLS; `?tls=none` (plain IMAP) only for a server on loopback."""
    if not url:
        return None
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    tls = {"imaps": "ssl", "imap": "starttls"}.get(parts.scheme)
    if tls is None or not parts.hostname or not parts.username:
        raise ConfigError(
            "BOUNCE_IMAP_URL must look like imaps://user:password@host/INBOX?processed=Processed"
        )
    if query.get("tls") == ["none"]:
        if parts.scheme != "imap" or not _loopback(parts.hostname):
            raise ConfigError("BOUNCE_IMAP_URL may use tls=none only with imap:// on loopback")
        tls = "none"
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    processed = query.get("processed", ["Processed"])[0]
    if processed == folder:
        raise ConfigError("BOUNCE_IMAP_URL's processed folder must differ from the one it reads")
    try:
        port = parts.port or (993 if tls == "ssl" else 143)
    except ValueError:
        raise ConfigError("BOUNCE_IMAP_URL has a port that is not a number") from None
    return {
        "host": parts.hostname,
        "port": port,
        "tls": tls,
        "username": unquote(parts.username),
        "password": unquote(parts.password or ""),
        "folder": folder,
        "processed": processed,
    }


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _idle_seconds(env: Mapping[str, str]) -> int:
    """How long one run of the mailbox job waits in IDLE for more mail; 0 reads and leaves.
    At most 120, well inside RQ's 180-second limit on a job."""
    seconds = _int(env, "BOUNCE_IMAP_IDLE_SECONDS", 25)
    if not 0 <= seconds <= 120:
        raise ConfigError(f"BOUNCE_IMAP_IDLE_SECONDS must be from 0 to 120, not {seconds}")
    return seconds


def bounce_settings(env: Mapping[str, str]) -> dict[str, object]:
    """How bounces reach us and when soft ones suppress (subscribers/soft_bounces.py)."""
    return {
        "BOUNCE_IMAP": bounce_mailbox(env.get("BOUNCE_IMAP_URL", "").strip()),
        "BOUNCE_IMAP_IDLE_SECONDS": _idle_seconds(env),
        "BOUNCE_IMAP_CA_FILE": env.get("BOUNCE_IMAP_CA_FILE", ""),  # else the system CAs
        "SES_SNS_TOPIC_ARNS": tuple(
            arn.strip() for arn in env.get("SES_SNS_TOPIC_ARNS", "").split(",") if arn.strip()
        ),
        "SES_SNS_AUTO_CONFIRM": _flag(env.get("SES_SNS_AUTO_CONFIRM"), default=True),
        "MAILGUN_WEBHOOK_SIGNING_KEY": env.get("MAILGUN_WEBHOOK_SIGNING_KEY", "").strip(),
        "SOFT_BOUNCE_LIMIT": _positive(env, "SOFT_BOUNCE_LIMIT", 5),
        "SOFT_BOUNCE_WINDOW_DAYS": _positive(env, "SOFT_BOUNCE_WINDOW_DAYS", 30),
    }


def database_url(env: Mapping[str, str], instance_path: Path) -> str:
    """DATABASE_URL with PostgreSQL pointed at psycopg 3, the driver we install."""
    url = env.get("DATABASE_URL", "") or f"sqlite:///{instance_path / 'updates.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_config(instance_path: Path, env: Mapping[str, str] | None = None) -> dict[str, object]:
    """Build the Flask config from the environment, failing loudly on what cannot work."""
    env = os.environ if env is None else env
    environment = env.get("UPDATES_ENV", "development") or "development"
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"UPDATES_ENV must be one of {', '.join(ENVIRONMENTS)}")
    production = environment == "production"

    redis_url = env.get("REDIS_URL", "")
    if not redis_url:
        if production:
            raise ConfigError("REDIS_URL is required in production")
        redis_url = "redis://127.0.0.1:6379/0"

    smtp_tls = (env.get("SMTP_TLS", "") or "none").lower()
    if smtp_tls not in SMTP_TLS_MODES:
        raise ConfigError(f"SMTP_TLS must be one of {', '.join(SMTP_TLS_MODES)}")

    base_url = (env.get("BASE_URL", "") or "http://localhost:5000").rstrip("/")
    verp = env.get("VERP_RETURN_PATH", "")
    if verp and ("{token}" not in verp or "@" not in verp):
        raise ConfigError("VERP_RETURN_PATH must look like bounces+{token}@example.org")
    room = limits.LOCAL_PART - limits.VERP_TOKEN
    if verp and len(verp.rpartition("@")[0].replace("{token}", "").encode()) > room:
        raise ConfigError(
            f"VERP_RETURN_PATH leaves no room for the token: at most {room} characters may "
            "go with {token} before the @"
        )
    keys = _secret_keys(env, environment, instance_path)
    log_format, log_level = log_settings(env)
    suppression_key = _suppression_key(env, environment, instance_path, keys)

    return {
        "UPDATES_ENV": environment,
        # Argon2id's recommended cost; the tests sign in hundreds of times and take the cheapest.
        "PASSWORD_HASHING": "cheapest" if environment == "test" else "recommended",
        "TESTING": environment == "test",
        "SECRET_KEY": keys[0],
        "SECRET_KEYS": keys,
        "SUPPRESSION_KEY": suppression_key,  # keys the suppression list's hashes; never changes
        # Flask (3.1+) verifies session cookies with these too: a rotation keeps staff signed in.
        "SECRET_KEY_FALLBACKS": keys[1:],
        "STAFF_REQUIRE_2FA": _flag(env.get("STAFF_REQUIRE_2FA")),
        "SQLALCHEMY_DATABASE_URI": database_url(env, instance_path),
        # Pre-ping (a round trip on each checkout from the pool) so that the first request or
        # job after a database restart, failover or dropped connection gets a fresh connection
        # instead of an error; recycling replaces connections before a proxy would drop them.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 1800, "pool_pre_ping": True},
        "TOPIC_CACHE_SECONDS": 5.0,  # how stale the sign-up form's topics may be in a process
        "REDIS_URL": redis_url,
        "BASE_URL": base_url,
        "MAIL_FROM": env.get("MAIL_FROM", "") or "Updates <updates@localhost>",
        "SMTP_HOST": env.get("SMTP_HOST", "") or "localhost",
        "SMTP_PORT": _int(env, "SMTP_PORT", 25),
        "SMTP_HOSTS": smtp_hosts(env, _int(env, "SMTP_PORT", 25)),
        "SMTP_USERNAME": env.get("SMTP_USERNAME", ""),
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD", ""),
        "SMTP_TLS": smtp_tls,
        "SMTP_TIMEOUT": _seconds(env, "SMTP_TIMEOUT", 30.0),
        # A relay that silently drops packets costs a session this long before the next is tried.
        "SMTP_CONNECT_TIMEOUT": _seconds(env, "SMTP_CONNECT_TIMEOUT", 5.0),
        # How long a batch waits, looking every two seconds, while no relay answers, before it
        # lets its worker go and puts itself back on the queue.
        "SMTP_OUTAGE_WAIT": _float(env, "SMTP_OUTAGE_WAIT", 60.0),
        # Checked now; empty means BASE_URL's host, worked out where the relay is greeted.
        "SMTP_HELO_NAME": env.get("SMTP_HELO_NAME", "") and helo_name(env["SMTP_HELO_NAME"], ""),
        "SEND_RATE": _float(env, "SEND_RATE", 0.0),
        "ORG_NAME": env.get("ORG_NAME", "") or "Example Organisation",
        "ORG_ADDRESS": env.get("ORG_ADDRESS", "")
        or "1 Example Street, Exampletown, EX1 2MP, United Kingdom",
        "CHECK_EMAIL_DNS": _flag(env.get("CHECK_EMAIL_DNS")),
        "CONSENT_STATEMENT": env.get("CONSENT_STATEMENT", "")
        or "I agree to receive email updates from {org} about the topics I have chosen. "
        "I can change my topics or unsubscribe at any time through the link in every email.",
        "CONFIRM_MAX_AGE_DAYS": _int(env, "CONFIRM_MAX_AGE_DAYS", 7),
        "MANAGE_MAX_AGE_DAYS": _int(env, "MANAGE_MAX_AGE_DAYS", 30),
        "PENDING_RETENTION_DAYS": _int(env, "PENDING_RETENTION_DAYS", 30),
        "UNSUBSCRIBED_RETENTION_DAYS": _int(env, "UNSUBSCRIBED_RETENTION_DAYS", 28),
        "SIGNUP_LIMIT_PER_IP": env.get("SIGNUP_LIMIT_PER_IP", "") or "20/minute;200/hour",
        "SIGNUP_LIMIT_PER_ADDRESS": env.get("SIGNUP_LIMIT_PER_ADDRESS", "") or "4/minute;40/hour",
        "LOGIN_LIMIT_PER_IP": env.get("LOGIN_LIMIT_PER_IP", "") or "10/minute;100/hour",
        "TRUSTED_PROXIES": _int(env, "TRUSTED_PROXIES", 0),
        "SWEEP_GRACE_SECONDS": _int(env, "SWEEP_GRACE_SECONDS", 60),
        "BATCH_SIZE": _int(env, "BATCH_SIZE", 500),
        "BATCH_LEASE_SECONDS": _int(env, "BATCH_LEASE_SECONDS", 60),
        "SEND_LATE_MINUTES": _int(env, "SEND_LATE_MINUTES", 60),
        "TIMEZONE": _timezone(env),
        "BOUNCE_WEBHOOK_TOKEN": env.get("BOUNCE_WEBHOOK_TOKEN", ""),
        **bounce_settings(env),
        "METRICS_TOKEN": env.get("METRICS_TOKEN", "").strip(),  # empty: loopback clients only
        "WORKER_METRICS_PORT": _worker_metrics_port(env),  # 0: no worker endpoint
        "WORKER_METRICS_ADDRESS": env.get("WORKER_METRICS_ADDRESS", "") or "127.0.0.1",
        "HEALTH_TIMEOUT": _float(env, "HEALTH_TIMEOUT", 1.0),  # seconds each readiness check has
        "LOG_FORMAT": log_format,
        "LOG_LEVEL": log_level,
        "VERP_RETURN_PATH": verp,
        "DKIM_PRIVATE_KEY_FILE": env.get("DKIM_PRIVATE_KEY_FILE", ""),
        "DKIM_SELECTOR": env.get("DKIM_SELECTOR", "") or "updates",
        "DKIM_DOMAIN": env.get("DKIM_DOMAIN", ""),
        "MAX_CONTENT_LENGTH": 256 * 1024,  # an update's Markdown may be 100,000 characters
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_HEADERS_ENABLED": False,  # two Redis commands a request for no reader
    }
