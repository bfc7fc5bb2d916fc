"""JSON logs with a request id. Personal data (names, phones, emails) never goes into a log line."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError

from app.domain.errors import StatementTimeout

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


# Loggers that print SQL parameters (names, phones, emails) at DEBUG: never below WARNING.
_DATA_LOGGERS = ("aiosqlite", "sqlalchemy.engine", "asyncpg")


class _GraphQLErrorMessageOnly(logging.Filter):
    """Strawberry logs each GraphQLError itself, and its str() quotes the query's source
    lines: names and phones typed as literals would reach the log. Keep the message only
    (the formatter adds the request id; exc_info, if any, is left for the traceback).
    A statement stopped by its time budget is no bug: no line here at all."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.msg
        if isinstance(error, GraphQLError) and isinstance(error.original_error, StatementTimeout):
            return False  # expected; app.schema.limits logs it as one line
        if isinstance(error, GraphQLError):
            record.msg, record.args = redact_values(error.message), ()
            if error.original_error is None or isinstance(error.original_error, GraphQLError):
                # The caller's mistake (a bad variable): its traceback holds only their
                # values, not ours to debug.
                record.exc_info, record.exc_text = None, None
        return True


# What graphql-core echoes of the client's values: "got invalid value {...};", a literal
# "found \"Bob\"", a number ("non string value: 2125550177"). Names it quotes with single
# quotes ('totalCountx', 'CustomerCreateInput') are the schema's and stay readable.
_VALUES = re.compile(
    r"invalid value .*?(?=; |$)|(?<=value: )'[^']*'|\{.*\}|\[.*\]|\"[^\"]*\"|\d{3,}"
)


def redact_values(message: str) -> str:
    """A GraphQL error message with the client's values replaced by '…'."""
    return _VALUES.sub("…", message)


_GRAPHQL_ERRORS = _GraphQLErrorMessageOnly()


def keep_personal_data_out_of_logs() -> None:
    for name in _DATA_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # Filters are per logger: this is the one Schema.process_errors writes to.
    logging.getLogger("strawberry.execution").addFilter(_GRAPHQL_ERRORS)  # once: same instance


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log prints query strings; ours (app.http) does not.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    keep_personal_data_out_of_logs()
    for name in ("uvicorn", "uvicorn.error", "arq"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
