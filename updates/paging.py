"""Lists a page at a time: the rows on the page asked for, and how many match in all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from updates.extensions import db

PER_PAGE = 50
LAST_PAGE = 1_000_000  # a page number past this is refused (400) rather than counted towards


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int  # matches on every page
    page: int  # 1 for the first
    pages: int  # at least 1, even when nothing matches
    per_page: int = PER_PAGE

    @property
    def first(self) -> int:
        """The position of the page's first row among all the matches, counting from 1."""
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1 if self.items else 0


def paginate(query: Select, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The ordered query's rows on `page`: LIMIT and OFFSET in SQL; past the end, the last page.

    A query of one entity or column gives those; one of several columns gives rows of them.
    """
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    total = db.session.scalar(counted) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    result = db.session.execute(query.limit(per_page).offset((page - 1) * per_page))
    rows = result.all() if len(query.column_descriptions) > 1 else result.scalars().all()
    return Page(list(rows), total, page, pages, per_page)
