"""Imports started from the console: the upload waits in the instance folder, a job imports it.

Progress lives in a Redis hash per import, gone after a day; the file goes when the job ends
(`updates.worker.imports`), or, if a worker died holding it, with the hourly sweep once no
import can read it any more.
"""

from __future__ import annotations

import csv
import logging
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from redis.exceptions import RedisError
from werkzeug.datastructures import FileStorage

from updates import queues
from updates.queues import Jobs
from updates.subscribers.importer import (
    ImportProblem,
    ImportReport,
    read_addresses,
)

log = logging.getLogger(__name__)

EXPIRES = 24 * 60 * 60  # seconds a finished (or abandoned) import's progress is kept
JOB_TIMEOUT = 60 * 60  # a 50 MiB file is about a million rows
REASONS = tuple(ImportReport().skipped)  # why rows are skipped, in the order shown


class ImportState:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImportUnavailable(RuntimeError):
    """Redis cannot be reached, so an import can be neither tracked nor queued."""


@dataclass
class ImportStatus:
    id: str
    state: str
    filename: str
    topics: list[str]
    total: int
    processed: int = 0
    imported: int = 0
    unchanged: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    error: str = ""

    @property
    def finished(self) -> bool:
        return self.state in (ImportState.DONE, ImportState.FAILED)

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "total": self.total,
            "processed": self.processed,
            "imported": self.imported,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "skipped_total": sum(self.skipped.values()),
            "error": self.error,
        }


def _key(import_id: str) -> str:
    return f"updates:import:{import_id}"


def uploads_folder() -> Path:
    return Path(current_app.instance_path) / "imports"


def upload_path(import_id: str) -> Path:
    return uploads_folder() / f"{import_id}.csv"


def count_rows(path: Path) -> int:
    """The file's data rows; ImportProblem if it is not a UTF-8 CSV with an email column."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            return sum(1 for _ in read_addresses(stream))
    except UnicodeDecodeError as error:
        raise ImportProblem("the file is not UTF-8 text; save it as “CSV UTF-8”") from error
    except csv.Error as error:
        raise ImportProblem(f"the file is not a readable CSV: {error}") from error


def start_import(
    upload: FileStorage, topic_slugs: list[str], consent_text: str, staff_id: int
) -> ImportStatus:
    """Keep the upload, count its rows and queue the job; return the new import's status."""
    import_id = uuid.uuid4().hex
    path = upload_path(import_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    upload.save(path)
    try:
        total = count_rows(path)
        status = ImportStatus(
            import_id,
            ImportState.QUEUED,
            filename=(upload.filename or "upload.csv")[:200],
            topics=list(topic_slugs),
            total=total,
        )
        _create(status)
        queued = queues.try_enqueue(
            queues.DEFAULT,
            Jobs.RUN_IMPORT,
            import_id,
            list(topic_slugs),
            consent_text,
            staff_id,
            job_timeout=JOB_TIMEOUT,
        )
        if not queued:
            _forget(import_id)
            raise ImportUnavailable("the job queue cannot be reached")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return status


def _create(status: ImportStatus) -> None:
    key = _key(status.id)
    try:
        with queues.redis_connection().pipeline() as pipe:
            pipe.hset(
                key,
                mapping={
                    "state": status.state,
                    "filename": status.filename,
                    "topics": ",".join(status.topics),
                    "total": status.total,
                    "processed": 0,
                },
            )
            pipe.expire(key, EXPIRES)
            pipe.execute()
    except RedisError as error:
        raise ImportUnavailable(str(error)) from error


def _forget(import_id: str) -> None:
    with suppress(RedisError):  # if not, it expires in a day
        queues.redis_connection().delete(_key(import_id))


def import_status(import_id: str) -> ImportStatus | None:
    """The import's progress, or None if there is no such import (or it expired)."""
    try:
        stored = queues.redis_connection().hgetall(_key(import_id))
    except RedisError as error:
        raise ImportUnavailable(str(error)) from error
    fields = {k.decode(): v.decode() for k, v in stored.items()}
    if "state" not in fields:
        return None
    return ImportStatus(
        import_id,
        fields["state"],
        filename=fields.get("filename", ""),
        topics=[slug for slug in fields.get("topics", "").split(",") if slug],
        total=int(fields.get("total", 0)),
        processed=int(fields.get("processed", 0)),
        imported=int(fields.get("imported", 0)),
        unchanged=int(fields.get("unchanged", 0)),
        skipped={why: int(fields.get(f"skipped_{why}", 0)) for why in REASONS},
        error=fields.get("error", ""),
    )


def counts(report: ImportReport) -> dict[str, int]:
    return {
        "imported": report.imported,
        "unchanged": report.unchanged,
        **{f"skipped_{why}": count for why, count in report.skipped.items()},
    }


def record(import_id: str, **values: str | int) -> None:
    """Write progress; an import goes on even if Redis blinks, only its page lags behind."""
    try:
        queues.redis_connection().hset(_key(import_id), mapping=values)
    except RedisError as error:
        log.warning("import %s: could not record progress: %s", import_id, error)


def claim(import_id: str) -> bool:
    """True for the one run that takes this queued import; a repeat finds it taken."""
    redis = queues.redis_connection()
    key = _key(import_id)
    if not redis.exists(key) or not redis.hsetnx(key, "claimed", 1):
        return False
    redis.hset(key, "state", ImportState.RUNNING)
    redis.expire(key, EXPIRES)
    return True
