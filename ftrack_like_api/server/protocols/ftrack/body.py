"""Reading a request's body as ftrack's ``/api`` takes it: bounded, unpacked, checked.

A body over the limit is refused before it is read whole, gzip is unpacked only as far
as the limit (a small bomb stays small), and the batch is JSON without ``NaN``, nested
at most :data:`MAX_DEPTH` deep, whose text holds neither NUL characters (no PostgreSQL
text can) nor lone surrogates (no UTF-8 can).
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

from starlette.requests import Request

__all__ = ["MAX_BODY", "MAX_DEPTH", "MAX_OPERATIONS", "SIGNIN_BODY", "action_of", "gunzip", "parse_batch", "read_body"]

#: Largest request body accepted, after decompression.
MAX_BODY = 64 * 1024 * 1024
#: Largest sign-in body accepted.
SIGNIN_BODY = 64 * 1024
#: Most operations one batch may carry.
MAX_OPERATIONS = 50_000
#: Deepest nesting of lists and objects in a body (an operation and its values need a handful).
MAX_DEPTH = 32


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None as soon as it is known to be over ``limit`` bytes.

    A declared Content-Length over the limit is refused before anything is read, and a
    body is never held past the limit, whatever it declared.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def gunzip(body: bytes, limit: int) -> bytes | None:
    """``body`` decompressed, or None when it would be over ``limit`` bytes (a small bomb stays small)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data = inflater.decompress(body, limit + 1)
    if len(data) > limit or inflater.unconsumed_tail:
        return None
    if not inflater.eof:
        raise EOFError("the gzip stream ends early")
    return data


def parse_batch(body: bytes) -> Any:
    """The batch in a request's body, or a message saying why the body is not one.

    JSON's own ``NaN``/``Infinity`` are refused (no answer could carry them), lists and
    objects may nest :data:`MAX_DEPTH` deep, and text holds neither NUL characters (no
    PostgreSQL text can) nor lone surrogates (no UTF-8 can).
    """
    try:
        batch = json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        return f"The body nests lists or objects more than {MAX_DEPTH} deep"
    except ValueError as reason:
        return f"The body is not JSON: {reason}"
    if not isinstance(batch, list):
        return "The body must be a JSON list of operations"
    # Text is read for NUL and lone surrogates only when the bytes hold something that may
    # decode to one: most bodies need only their depth walked (a third of the time).
    # (A body in UTF-16 or UTF-32, which json.loads reads too, holds zero bytes: always read.)
    texts = not isinstance(body, (bytes, bytearray)) or b"\x00" in body or _SUSPECT.search(body) is not None
    for index, operation in enumerate(batch):
        problem = _unfit(operation, MAX_DEPTH - 1, texts)
        if problem is not None:
            return f"Operation {index}: {problem}"
    return batch


def action_of(operation: Any) -> str | None:
    """An operation's action when it names one (text), else None."""
    action = operation.get("action") if isinstance(operation, dict) else None
    return action if isinstance(action, str) else None


#: Bytes of a UTF-8 body that may decode to a NUL or a lone surrogate: their JSON escapes
#: (backslash-u 0000, d800 to dfff) and UTF-8's encoding of a surrogate (ED A0-BF), which
#: json.loads lets through.
_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|\xed[\xa0-\xbf]")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unfit(value: Any, depth: int, texts: bool = True) -> str | None:
    """What makes a decoded JSON value unfit to store (too deep, NUL, a lone surrogate), or None.

    ``texts=False``: the body holds no text that could be NUL or a surrogate; only depth is checked.
    """
    stack = [(value, 1)]
    walked = (str, dict, list) if texts else (dict, list)
    while stack:
        node, level = stack.pop()
        kind = type(node)
        if kind is str:
            problem = _bad_text(node)
            if problem:
                return problem
            continue
        if kind is not dict and kind is not list:
            continue
        if level > depth:
            return f"lists or objects nest more than {MAX_DEPTH} deep"
        if kind is dict and texts:
            for name in node:
                problem = _bad_text(name)
                if problem:
                    return problem
        for item in node.values() if kind is dict else node:
            if type(item) in walked:
                stack.append((item, level + 1))
    return None


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return "text may not hold a NUL character (\\u0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "text may not hold a lone surrogate (\\ud800–\\udfff): it is not Unicode"
    return None
