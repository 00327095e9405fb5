"""The import job: read an uploaded CSV into the subscriber list; and the sweep of stale"""

from __future__ import annotations

import csv
import logging
import time
from contextlib import suppress

from updates.staff.audit import record_action
from updates.subscribers.import_uploads import (
    EXPIRES,
    ImportState,
    claim,
    count_rows,
    counts,
    record,
    upload_path,
    uploads_folder,
)
from updates.subscribers.importer import (
    ImportProblem,
    ImportReport,
    import_subscribers,
    read_rows,
)
from updates.worker import job

log = logging.getLogger(__name__)


@job
def run_import(import_id: str, topic_slugs: list[str], consent_text: str, staff_id: int) -> str:
    """Count an uploaded file's rows, then import them, recording progress after every chunk;
    the file is then deleted."""
    if not claim(import_id):
        log.info("import %s already started or expired", import_id)
        return "not queued"
    path = upload_path(import_id)
    processed = 0

    def progress(rows: int, report: ImportReport) -> None:
        nonlocal processed
        processed += rows
        record(import_id, processed=processed, **counts(report))

    try:
        # Counted here, not in the request: a large file would hold a web worker for seconds.
        record(import_id, total=count_rows(path))
        with path.open(encoding="utf-8-sig", newline="") as stream:
            report = import_subscribers(read_rows(stream), topic_slugs, consent_text, progress)
    except (ImportProblem, OSError, UnicodeDecodeError, csv.Error) as error:
        record(import_id, state=ImportState.FAILED, error=str(error)[:300])
        log.warning("import %s failed: %s", import_id, error)
        return "failed"
    except Exception:
        record(import_id, state=ImportState.FAILED, error="an unexpected error stopped it")
        raise
    finally:
        path.unlink(missing_ok=True)
    record(import_id, state=ImportState.DONE, processed=processed, **counts(report))
    record_action(staff_id, "subscribers imported", f"{import_id}: {report.summary()}")
    log.info("import %s done: %s", import_id, report.summary())
    return "done"


@job
def sweep_abandoned_uploads() -> int:
    """Delete uploads older than any import's progress record: nothing can import them now."""
    cutoff = time.time() - EXPIRES
    removed = 0
    for path in uploads_folder().glob("*.csv"):
        with suppress(FileNotFoundError):  # another worker's sweep got there first
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    if removed:
        log.info("removed %s abandoned import uploads", removed)
    return removed
