"""A multipart/form-data body read as it arrives: each part's bytes handed on in chunks, never the whole body held.

:func:`read_parts` takes the body as an iterator of chunks (as the server receives it) and
calls ``on_part(headers, body)`` for each part, where ``body`` iterates the part's bytes up
to the next boundary; what ``on_part`` leaves unread is skipped. At most the boundary's
length is held back between chunks, so memory does not grow with the size of a part.
"""

from __future__ import annotations

import email.parser
import email.policy
from email.message import Message
from typing import Callable, Iterable, Iterator

from ....exceptions import ValidationError

__all__ = ["boundary_of", "read_parts"]

#: The largest block of a part's headers (bytes).
MAX_HEADERS = 16 * 1024


def boundary_of(content_type: str) -> bytes:
    """The boundary of a multipart/form-data ``Content-Type``; bad_request when it is not one."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise ValidationError("An upload is multipart/form-data with a 'file' field", "bad_request")
    parsed = email.parser.HeaderParser(policy=email.policy.HTTP).parsestr(f"Content-Type: {content_type}\r\n\r\n")
    boundary = parsed.get_param("boundary")
    if not isinstance(boundary, str) or not boundary or len(boundary) > 200:
        raise ValidationError("The upload's Content-Type names no multipart boundary", "bad_request")
    return boundary.encode("latin-1")


class _Body:
    """The body's bytes, read a chunk at a time from ``chunks``."""

    def __init__(self, chunks: Iterable[bytes], delimiter: bytes) -> None:
        self.chunks, self.delimiter = iter(chunks), delimiter
        self.buffer = bytearray(b"\r\n")  # so that the first boundary, at the very start, is found like the others

    def more(self) -> bool:
        for chunk in self.chunks:
            if chunk:
                self.buffer += chunk
                return True
        return False

    def until(self, mark: bytes, limit: int, what: str) -> bytes:
        """The bytes before ``mark`` (both consumed): at most ``limit`` of them."""
        while (at := self.buffer.find(mark)) < 0:
            if len(self.buffer) > limit + len(mark):
                raise ValidationError(f"The upload's {what} is over {limit} bytes", "bad_request")
            if not self.more():
                raise ValidationError(f"The upload ends inside its {what}", "bad_request")
        found = bytes(self.buffer[:at])
        del self.buffer[: at + len(mark)]
        return found

    def part(self) -> Iterator[bytes]:
        """The part's bytes up to the next boundary (consumed), a chunk at a time."""
        keep = len(self.delimiter) - 1
        while True:
            at = self.buffer.find(self.delimiter)
            if at >= 0:
                if at:
                    yield bytes(self.buffer[:at])
                del self.buffer[: at + len(self.delimiter)]
                return
            if len(self.buffer) > keep:
                out = bytes(self.buffer[:-keep])
                del self.buffer[:-keep]
                yield out
            if not self.more():
                raise ValidationError("The upload ends inside a part (no closing boundary)", "bad_request")

    def starts_with(self, text: bytes) -> bool:
        while len(self.buffer) < len(text) and self.more():
            pass
        return bytes(self.buffer[: len(text)]) == text


def read_parts(content_type: str, chunks: Iterable[bytes], on_part: Callable[[Message, Iterator[bytes]], None]) -> None:
    """Call ``on_part(headers, body)`` for each part of the multipart body ``chunks`` (see the module's text)."""
    delimiter = b"\r\n--" + boundary_of(content_type)
    body = _Body(chunks, delimiter)
    body.until(delimiter, 64 * 1024, "preamble")
    parser = email.parser.BytesHeaderParser(policy=email.policy.HTTP)
    while not body.starts_with(b"--"):
        head = body.until(b"\r\n\r\n", MAX_HEADERS, "part headers")
        lines = head.split(b"\r\n", 1)  # the first is what is left of the boundary's line (transport padding)
        headers = parser.parsebytes((lines[1] if len(lines) > 1 else b"") + b"\r\n\r\n")
        part = body.part()
        on_part(headers, part)
        for _ in part:  # what on_part did not read
            pass
