"""Imports started from the console: the upload waits in the instance folder, a job imports it.

Progress lives in a Redis hash per import, gone after a day; the file goes when the job ends
(`updates.worker.imports`), or, if a worker died holding it, with the hourly sweep once no
import can read it any more.
"""

from __future__ import annotations

import codecs
import csv
import logging
import uuid
from collections.abc import Iterable
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
    read_rows,
)

log = logging.getLogger(__name__)

SNIFF = 64 * 1024  # bytes of an upload read in the request, to refuse the wrong file at once
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
    size: int = 0  # bytes
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


def _read_rows(lines: Iterable[str]) -> int:
    """The number of data rows; ImportProblem if they are not a CSV with an email column."""
    try:
        return sum(1 for _ in read_rows(lines))
    except UnicodeDecodeError as error:
        raise ImportProblem("the file is not UTF-8 text; save it as “CSV UTF-8”") from error
    except csv.Error as error:
        raise ImportProblem(f"the file is not a readable CSV: {error}") from error


def count_rows(path: Path) -> int:
    """The file's data rows; ImportProblem if it is not a UTF-8 CSV with an email column."""
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return _read_rows(stream)


def check_start(path: Path) -> None:
    """ImportProblem if the file's first rows are not a UTF-8 CSV with an email column.

    Only the start is read, so the request answers at once whatever the size; the job reads
    the rest, and a problem further on ends the import with the problem on its page.
    """
    with path.open("rb") as stream:
        head = stream.read(SNIFF)
        whole = len(head) < SNIFF
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        text = decoder.decode(head, final=whole)
    except UnicodeDecodeError as error:
        raise ImportProblem("the file is not UTF-8 text; save it as “CSV UTF-8”") from error
    lines = text.splitlines(keepends=True)
    _read_rows(lines if whole else lines[:-1])  # a cut-off last line is the job's to read


def start_import(
    upload: FileStorage, topic_slugs: list[str], consent_text: str, staff_id: int
) -> ImportStatus:
    """Keep the upload, check its start and queue the job, which counts and imports the rows."""
    import_id = uuid.uuid4().hex
    path = upload_path(import_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    upload.save(path)
    try:
        check_start(path)
        status = ImportStatus(
            import_id,
            ImportState.QUEUED,
            filename=(upload.filename or "upload.csv")[:200],
            topics=list(topic_slugs),
            total=0,  # not counted yet: the job counts the rows before importing them
            size=path.stat().st_size,
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
                    "size": status.size,
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
        size=int(fields.get("size", 0)),
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
