"""Query parameters of the admin API, read and checked as FastAPI would: every problem at
once, as its 422 list (`type`, `loc`, `msg`, `input`, `ctx`), and `from`/`to` as real
ISO-8601 times (the FastAPI gpt2giga bound the text to a timestamp and failed with a 500).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from gpt2giga.config import FALSE, TRUE

if TYPE_CHECKING:  # the store imports asyncpg: loaded only when a database is configured
    from gpt2giga.observe.store import Filters, Position


class Refused(Exception):
    """An answer other than 200: its status and FastAPI's `detail`."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail


class Params:
    def __init__(self, query: dict[str, str]) -> None:
        # Empty values count as absent, as the FastAPI gpt2giga ignored them.
        self.query = {k: v for k, v in query.items() if v != ""}
        self.errors: list[dict[str, Any]] = []

    def _error(self, name: str, kind: str, msg: str, ctx: dict[str, Any] | None = None) -> None:
        error: dict[str, Any] = {
            "type": kind,
            "loc": ["query", name],
            "msg": msg,
            "input": self.query[name],
        }
        if ctx is not None:
            error["ctx"] = ctx
        self.errors.append(error)

    def check(self) -> None:
        if self.errors:
            raise Refused(422, self.errors)

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            msg = "Input should be a valid integer, unable to parse string as an integer"
            self._error(name, "int_parsing", msg)
            return default
        if value < low:
            msg = f"Input should be greater than or equal to {low}"
            self._error(name, "greater_than_equal", msg, {"ge": low})
        elif value > high:
            self._error(
                name,
                "less_than_equal",
                f"Input should be less than or equal to {high}",
                {"le": high},
            )
        return value

    def optional_integer(self, name: str) -> int | None:
        if name not in self.query:
            return None
        return self.integer(name, 0, -(2**31), 2**31 - 1)

    def boolean(self, name: str, default: bool | None) -> bool | None:
        raw = self.query.get(name)
        if raw is None:
            return default
        word = raw.strip().lower()
        if word in TRUE:
            return True
        if word in FALSE:
            return False
        self._error(
            name, "bool_parsing", "Input should be a valid boolean, unable to interpret input"
        )
        return default

    def time(self, name: str) -> datetime | None:
        raw = self.query.get(name)
        if raw is None:
            return None
        text = raw.strip()
        for candidate in (text, text.replace(" ", "+")):  # an unescaped `+00:00` arrives as a space
            try:
                found = datetime.fromisoformat(candidate)
            except ValueError:
                continue
            return found if found.tzinfo is not None else found.replace(tzinfo=UTC)
        msg = "Input should be an ISO-8601 date or date-time, e.g. 2026-01-31T12:00:00Z"
        self._error(name, "datetime_parsing", msg)
        return None

    def text(self, name: str) -> str | None:
        return self.query.get(name)

    def filters(self) -> Filters:
        from gpt2giga.observe.store import Filters

        has_error = self.boolean("has_error", None)
        return Filters(
            since=self.time("from"),
            until=self.time("to"),
            protocol=self.text("protocol"),
            route=self.text("route"),
            model=self.text("model"),
            status_code=self.optional_integer("status_code"),
            has_error=has_error,
            request_id=self.text("request_id"),
            trace_id=self.text("trace_id"),
            api_key_hash=self.text("api_key_hash"),
        )

    def limit(self, default: int, most: int) -> int:
        return self.integer("limit", default, 1, most)

    def position(self) -> Position:
        """`cursor`: a decimal offset (as before) or the `k<µs>_<id>` the last page returned."""
        from gpt2giga.observe.store import Position

        raw = self.query.get("cursor")
        if raw is None:
            return Position()
        if raw.isdigit():
            return Position(offset=int(raw))
        micros, sep, record_id = raw.removeprefix("k").partition("_")
        try:
            if not (raw.startswith("k") and sep and micros.isdigit()):
                raise ValueError
            at = EPOCH + timedelta(microseconds=int(micros))
            return Position(after=(at, str(uuid.UUID(record_id))))
        except (ValueError, OverflowError):
            raise Refused(400, "Invalid cursor") from None


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
