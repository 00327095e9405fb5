"""The worker's side: the jobs RQ runs (named in `updates.queues.Jobs`) and the delivery engine.

Every job takes ids, reloads, and checks state first, so running one twice does no harm.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import rq
from rq.utils import import_attribute

from updates import logs
from updates.extensions import db
from updates.queues import RENAMED_JOBS

P = ParamSpec("P")
R = TypeVar("R")


def job(func: Callable[P, R]) -> Callable[P, R]:
    """Give each job a fresh database session and leave none behind."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        finally:
            db.session.remove()

    return wrapper


class Job(rq.job.Job):
    """RQ's job, which also runs a job queued under the name its function had before."""

    def perform(self) -> object:
        """Run the job with its id, and the id of the request that queued it, on every line."""
        with logs.bound(job_id=self.id, request_id=(self.meta or {}).get(logs.REQUEST_ID)):
            return super().perform()

    @property
    def func(self) -> Callable[..., object] | None:
        renamed = RENAMED_JOBS.get(self.func_name or "")
        return import_attribute(renamed) if renamed else super().func
