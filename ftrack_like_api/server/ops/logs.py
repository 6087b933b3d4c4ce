"""Each request's id, in its log lines and its answer; and logs as JSON lines for log collectors.

Every HTTP request and websocket gets an id: the ``X-Request-Id`` a proxy sent (when it
looks like one: up to 128 letters, digits, ``-``, ``_``, ``.``, ``:``), else a new one. It
is answered back in ``X-Request-Id``, it is in every log line written while the request
is handled (``%(request_id)s``, ``-`` outside any; :class:`RequestIdFilter`), and the
JSON error objects of a failure carry it (``request_id``) beside the error id, so whoever
reports a problem gives what finds its lines.

``serve --log-format json`` writes one JSON object per line (:class:`JsonFormatter`):
``time``, ``level``, ``logger``, ``pid``, ``request_id``, ``message`` and, for an
exception, ``traceback``.
"""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import re
import uuid
from typing import Any, Callable

__all__ = ["JsonFormatter", "REQUEST_ID", "RequestIdFilter", "current_request_id", "logging_config", "request_ids"]

#: The id of the request being handled (None outside any).
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_GIVEN = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def current_request_id() -> str | None:
    """The id of the request being handled here, if any."""
    return REQUEST_ID.get()


def request_ids(app: Any) -> Callable[..., Any]:
    """``app`` with each request's id set for its handling and answered in ``X-Request-Id``."""

    async def with_id(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        given = next((value.decode("latin-1") for name, value in scope.get("headers", ())
                      if name == b"x-request-id"), "")  # fmt: skip
        request_id = given if _GIVEN.fullmatch(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await app(scope, receive, sending)
        finally:
            REQUEST_ID.reset(token)

    return with_id


class RequestIdFilter(logging.Filter):
    """Gives each record ``request_id``: the request's being handled, or ``-``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module's text)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def logging_config(level: str, log_format: str = "text") -> dict[str, Any]:
    """uvicorn's logging with this package's loggers beside it: request ids in text lines, or JSON lines."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["request_id"] = {"()": f"{__name__}.RequestIdFilter"}
    if log_format == "json":
        for name in list(config["formatters"]):
            config["formatters"][name] = {"()": f"{__name__}.JsonFormatter"}
        config["formatters"]["ftrack_like"] = {"()": f"{__name__}.JsonFormatter"}
    else:
        config["formatters"]["ftrack_like"] = {
            "format": "%(asctime)s %(levelname)s [%(process)d] %(request_id)s %(name)s: %(message)s"
        }
    config["handlers"]["ftrack_like"] = {"class": "logging.StreamHandler", "formatter": "ftrack_like",
                                         "stream": "ext://sys.stderr", "filters": ["request_id"]}  # fmt: skip
    for handler in config["handlers"].values():
        handler.setdefault("filters", ["request_id"])
    config["loggers"]["ftrack_like_api"] = {"handlers": ["ftrack_like"], "level": level.upper(), "propagate": False}
    return config
