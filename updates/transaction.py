"""The one place that commits and rolls back the session."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from updates.extensions import db

P = ParamSpec("P")
R = TypeVar("R")


def autocommit(func: Callable[P, R]) -> Callable[P, R]:
    """Commit when the function returns, roll back when it raises."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result = func(*args, **kwargs)
            db.session.commit()
            return result
        except BaseException:
            db.session.rollback()
            raise

    return wrapper
