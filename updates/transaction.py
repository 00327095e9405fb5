"""The one place that commits and rolls back the session.

A transaction is a block: `with transaction():` commits when the block ends and rolls back if it
raises. Blocks nest: an inner block, or an `@autocommit` function called inside one, joins the
outer transaction, so a change and its audit row land together or not at all. Work that must
follow the commit (enqueueing a job that reads the rows) is registered with `after_commit`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

from updates.extensions import db

P = ParamSpec("P")
R = TypeVar("R")

_OPEN = "updates.transaction-open"
_AFTER_COMMIT = "updates.after-commit"


@contextmanager
def transaction() -> Iterator[None]:
    """Commit when the block ends, roll back if it raises; inside another block, join it."""
    info = db.session.info
    if info.get(_OPEN):
        yield
        db.session.flush()  # as a commit would: new rows have their ids, constraints are checked
        return
    info[_OPEN] = True
    info[_AFTER_COMMIT] = []
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        info[_OPEN] = False
        callbacks = info.pop(_AFTER_COMMIT)
    for callback in callbacks:
        callback()


def after_commit(callback: Callable[[], object]) -> None:
    """Run the callback once the open transaction has committed; never if it rolls back."""
    if not in_transaction():
        raise RuntimeError("after_commit() needs an open transaction")
    db.session.info[_AFTER_COMMIT].append(callback)


def in_transaction() -> bool:
    """Whether a `transaction()` block is open on this session."""
    return bool(db.session.info.get(_OPEN))


def autocommit(func: Callable[P, R]) -> Callable[P, R]:
    """Run the function as one transaction (or as part of the caller's)."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with transaction():
            return func(*args, **kwargs)

    return wrapper
