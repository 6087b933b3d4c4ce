"""How long the log keeps events: ``ftrack-like serve --event-retention 30d``.

A retention is a number and a unit — ``45s``, ``90m``, ``12h``, ``30d``, ``2w`` — or ``0``
to keep events forever. The server prunes older events every :func:`prune_interval`
(``EventLog.prune``; an event a listener parked stays until it is replayed). A listener
stopped for longer than the retention misses what was pruned meanwhile.
"""

from __future__ import annotations

import datetime
import re

from ...exceptions import ValidationError

__all__ = ["DEFAULT_RETENTION", "RETAINED", "parse_retention", "prune_interval"]

#: What ``serve`` keeps by default.
DEFAULT_RETENTION = "30d"
#: The same, as a duration.
RETAINED = datetime.timedelta(days=30)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_FORM = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", re.IGNORECASE)


def parse_retention(text: str) -> datetime.timedelta | None:
    """``"30d"`` -> 30 days; ``"0"`` -> None (keep forever). A number alone is seconds.

    Anything else is a :class:`~ftrack_like_api.exceptions.ValidationError` saying what is taken.
    """
    found = _FORM.fullmatch(text or "")
    if found is None:
        raise ValidationError(f"A retention is a number and a unit (s, m, h, d, w), such as 30d or 12h, "
                              f"or 0 to keep events forever; not {text!r}", "bad_retention")  # fmt: skip
    seconds = float(found.group(1)) * _UNITS[(found.group(2) or "s").lower()]
    return None if seconds == 0 else datetime.timedelta(seconds=seconds)


def prune_interval(retention: datetime.timedelta) -> float:
    """Seconds between two prunings: a tenth of the retention, between a minute and an hour."""
    return min(3600.0, max(60.0, retention.total_seconds() / 10))
