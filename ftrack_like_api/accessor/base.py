"""The accessor interface: what a location asks of its storage, by resource identifier."""

from __future__ import annotations

import abc
import logging
from typing import Any

from ..data import Data
from ..exceptions import AccessorUnsupportedOperationError
from ..symbol import CHUNK_SIZE

__all__ = ["Accessor"]

log = logging.getLogger(__name__)


class Accessor(abc.ABC):
    """Reach one location's storage: files and containers named by resource identifiers.

    What a resource identifier means (a relative path, a component id) is the
    accessor's business; the location stores it and hands it back. Errors are the
    ``Accessor…Error`` classes of :mod:`ftrack_like_api.exceptions`.
    """

    @abc.abstractmethod
    def list(self, resource_identifier: str) -> list[str]:
        """The resource identifiers of what the container ``resource_identifier`` holds."""

    @abc.abstractmethod
    def exists(self, resource_identifier: str) -> bool:
        """Whether something is stored at ``resource_identifier``."""

    @abc.abstractmethod
    def is_file(self, resource_identifier: str) -> bool:
        """Whether ``resource_identifier`` is a file."""

    @abc.abstractmethod
    def is_container(self, resource_identifier: str) -> bool:
        """Whether ``resource_identifier`` is a container (a folder)."""

    @abc.abstractmethod
    def is_sequence(self, resource_identifier: str) -> bool:
        """Whether ``resource_identifier`` names a file sequence."""

    @abc.abstractmethod
    def open(self, resource_identifier: str, mode: str = "rb") -> Data:
        """The data at ``resource_identifier``, opened with ``mode`` (``"rb"``, ``"wb"`` …)."""

    @abc.abstractmethod
    def remove(self, resource_identifier: str) -> None:
        """Remove the file or empty container at ``resource_identifier``; AccessorResourceNotFoundError if none."""

    @abc.abstractmethod
    def make_container(self, resource_identifier: str, recursive: bool = True) -> None:
        """Make a container at ``resource_identifier`` (and the ones above it with ``recursive``); one there is kept."""

    @abc.abstractmethod
    def get_container(self, resource_identifier: str) -> str | None:
        """The resource identifier of the container ``resource_identifier`` is in."""

    def remove_container(self, resource_identifier: str) -> None:
        """Remove the container at ``resource_identifier``."""
        self.remove(resource_identifier)

    def get_filesystem_path(self, resource_identifier: str) -> str:
        """The file system path of ``resource_identifier``, for accessors that have one."""
        raise AccessorUnsupportedOperationError(operation="get_filesystem_path", resource_identifier=resource_identifier)

    def get_url(self, resource_identifier: str) -> str:
        """A URL that reads ``resource_identifier``, for accessors that have one."""
        raise AccessorUnsupportedOperationError(operation="get_url", resource_identifier=resource_identifier)

    def write_from(self, resource_identifier: str, source: Data, size: int | None = None, **options: Any) -> None:
        """Store what ``source`` reads at ``resource_identifier``, a chunk at a time.

        Locations copy through this; an accessor with a better way to take a whole
        file (the server's parallel upload) overrides it. ``size`` is the byte count
        when known; ``options`` are for such overrides (``progress``) and ignored here.
        """
        target = self.open(resource_identifier, "wb")
        try:
            for chunk in iter(lambda: source.read(CHUNK_SIZE), b""):
                if not chunk:
                    break
                target.write(chunk)
        finally:
            target.close()
