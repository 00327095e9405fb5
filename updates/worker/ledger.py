"""Recording each delivery's outcome in the ledger the moment the relay has answered.

One autocommitted statement per delivery, on a connection of the batch's own, sent straight to
the driver. `sent` does not wait for the database's answer; `settle` does. The send loop settles
before it hands the relay the final dot of the next message, so at any moment at most one
accepted message is not yet on record, and a worker killed at any point re-sends at most one
message when its batch is re-run. Meanwhile the database works while the relay reads the next
envelope.

On PostgreSQL these commits don't wait for the WAL flush: a worker that dies loses nothing it
recorded; only a crash of the database server itself could forget the last fraction of a
second, and the deterministic Message-ID makes a resulting repeat recognisable.
"""

from __future__ import annotations

from typing import Protocol

from psycopg import OperationalError, pq

from updates.extensions import db
from updates.models import Delivery, DeliveryStatus, utcnow

SENT = (
    f"UPDATE {Delivery.__tablename__} SET status = '{DeliveryStatus.SENT}', sent_at = $1,"
    " last_error = NULL, attempts = attempts + 1, variant_id = $3 WHERE id = $2"
)
ENDED = (
    f"UPDATE {Delivery.__tablename__} SET status = $1, last_error = $2,"
    " attempts = attempts + 1 WHERE id = $3"
)


def _now() -> str:
    """The time as text, in the form SQLAlchemy stores on SQLite; PostgreSQL parses it."""
    return utcnow().isoformat(" ", "microseconds")


class Ledger(Protocol):
    """Where the send loop records each delivery's outcome."""

    def sent(self, delivery_id: int, variant_id: int | None) -> None: ...

    def ended(self, delivery_id: int, status: str, error: str) -> None: ...

    def settle(self) -> None:
        """Wait until everything recorded so far is committed."""

    def close(self) -> None:
        """Settle, then let the connection go."""


def open_ledger() -> Ledger:
    return PostgresLedger() if db.engine.dialect.name == "postgresql" else DbApiLedger()


class DbApiLedger:
    """Any DB-API driver (SQLite in development and tests): each statement waits its answer."""

    def __init__(self) -> None:
        self.connection = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self.cursor = self.connection.connection.driver_connection.cursor()
        self._sent = SENT.replace("$1", ":at").replace("$2", ":id").replace("$3", ":variant")
        self._ended = ENDED.replace("$1", "?").replace("$2", "?").replace("$3", "?")

    def sent(self, delivery_id: int, variant_id: int | None) -> None:
        self.cursor.execute(self._sent, {"at": _now(), "id": delivery_id, "variant": variant_id})

    def ended(self, delivery_id: int, status: str, error: str) -> None:
        self.cursor.execute(self._ended, (status, error[:300], delivery_id))

    def settle(self) -> None:
        pass

    def close(self) -> None:
        self.cursor.close()
        self.connection.close()


class PostgresLedger:
    """A libpq connection of its own with both statements prepared; `sent` does not wait."""

    def __init__(self) -> None:
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.pg = pq.PGconn.connect(url.encode())
        if self.pg.status != pq.ConnStatus.OK:
            raise OperationalError(self.pg.get_error_message())
        self.waiting = False
        self._check(self.pg.exec_(b"SET synchronous_commit TO OFF"))
        self._check(self.pg.prepare(b"sent", SENT.encode()))
        self._check(self.pg.prepare(b"ended", ENDED.encode()))

    def sent(self, delivery_id: int, variant_id: int | None) -> None:
        self.settle()
        variant = None if variant_id is None else str(variant_id).encode()
        self.pg.send_query_prepared(b"sent", [_now().encode(), str(delivery_id).encode(), variant])
        self.waiting = True

    def ended(self, delivery_id: int, status: str, error: str) -> None:
        self.settle()
        params = [status.encode(), error[:300].encode(), str(delivery_id).encode()]
        self._check(self.pg.exec_prepared(b"ended", params))

    def settle(self) -> None:
        if not self.waiting:
            return
        self.waiting = False
        result = self.pg.get_result()
        while self.pg.get_result() is not None:  # the end of this statement's answers
            pass
        self._check(result)

    def close(self) -> None:
        try:
            self.settle()
        finally:
            self.pg.finish()

    def _check(self, result: pq.PGresult | None) -> None:
        if result is None or result.status not in (
            pq.ExecStatus.COMMAND_OK,
            pq.ExecStatus.TUPLES_OK,
        ):
            raise OperationalError(f"ledger: {self.pg.get_error_message()}")
