"""Files on a disk or a mounted share, under a prefix: ftrack's ``DiskAccessor``."""

from __future__ import annotations

import contextlib
import errno
import os
from typing import Iterator

from ..data import File
from ..exceptions import (
    AccessorContainerNotEmptyError,
    AccessorError,
    AccessorFilesystemPathError,
    AccessorOperationFailedError,
    AccessorParentResourceNotFoundError,
    AccessorPermissionDeniedError,
    AccessorResourceInvalidError,
    AccessorResourceNotFoundError,
    AccessorUnsupportedOperationError,
)
from .base import Accessor

__all__ = ["DiskAccessor"]

#: What an OSError's errno becomes.
_ERRORS: dict[int, type[AccessorError]] = {
    errno.ENOENT: AccessorResourceNotFoundError,
    errno.EPERM: AccessorPermissionDeniedError,
    errno.EACCES: AccessorPermissionDeniedError,
    errno.ENOTEMPTY: AccessorContainerNotEmptyError,
    errno.ENOTDIR: AccessorResourceInvalidError,
    errno.EISDIR: AccessorResourceInvalidError,
    errno.EINVAL: AccessorResourceInvalidError,
}


@contextlib.contextmanager
def _translated(operation: str, resource_identifier: str) -> Iterator[None]:
    """OSErrors inside as the accessor errors ftrack raises for them."""
    try:
        yield
    except OSError as error:
        kind = _ERRORS.get(error.errno or 0, AccessorOperationFailedError)
        raise kind(operation=operation, resource_identifier=resource_identifier, error=error) from error


class DiskAccessor(Accessor):
    """Files under ``prefix``: a resource identifier is a path relative to it (``sh010/v001/plate.exr``).

    ``~`` and environment variables in ``prefix`` are expanded. No resource identifier
    reaches outside the prefix: ``../`` that climbs out of it, or an absolute path
    elsewhere, is an :class:`~ftrack_like_api.exceptions.AccessorFilesystemPathError`.
    An empty prefix (the origin and unmanaged locations) takes paths as they are.
    """

    def __init__(self, prefix: str | os.PathLike[str] = "") -> None:
        prefix = os.fspath(prefix)
        self.prefix = os.path.abspath(os.path.expanduser(os.path.expandvars(prefix))) if prefix else ""

    def __repr__(self) -> str:
        return f"DiskAccessor({self.prefix!r})"

    def get_filesystem_path(self, resource_identifier: str) -> str:
        """The path of ``resource_identifier``: under the prefix, normalised."""
        if "\0" in resource_identifier:
            raise AccessorFilesystemPathError(resource_identifier=resource_identifier.replace("\0", "\\0"))
        path = os.path.normpath(resource_identifier) if resource_identifier else ""
        if not self.prefix:
            return path
        path = os.path.normpath(os.path.join(self.prefix, path))
        if os.path.commonpath([self.prefix, path]) != self.prefix:
            raise AccessorFilesystemPathError(resource_identifier=resource_identifier)
        return path

    def list(self, resource_identifier: str) -> list[str]:
        path = self.get_filesystem_path(resource_identifier)
        with _translated("list", resource_identifier):
            return [os.path.join(resource_identifier, entry) for entry in sorted(os.listdir(path))]

    def exists(self, resource_identifier: str) -> bool:
        return os.path.exists(self.get_filesystem_path(resource_identifier))

    def is_file(self, resource_identifier: str) -> bool:
        return os.path.isfile(self.get_filesystem_path(resource_identifier))

    def is_container(self, resource_identifier: str) -> bool:
        return os.path.isdir(self.get_filesystem_path(resource_identifier))

    def is_sequence(self, resource_identifier: str) -> bool:
        raise AccessorUnsupportedOperationError(operation="is_sequence", resource_identifier=resource_identifier)

    def open(self, resource_identifier: str, mode: str = "rb") -> File:
        path = self.get_filesystem_path(resource_identifier)
        with _translated("open", resource_identifier):
            return File(path, mode)

    def remove(self, resource_identifier: str) -> None:
        path = self.get_filesystem_path(resource_identifier)
        with _translated("remove", resource_identifier):
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            else:
                os.remove(path)

    def make_container(self, resource_identifier: str, recursive: bool = True) -> None:
        path = self.get_filesystem_path(resource_identifier)
        with _translated("make_container", resource_identifier):
            if recursive:
                os.makedirs(path, exist_ok=True)
                return
            try:
                os.mkdir(path)
            except FileExistsError:
                pass
            except FileNotFoundError as error:
                raise AccessorParentResourceNotFoundError(operation="make_container",
                                                          resource_identifier=resource_identifier, error=error) from error  # fmt: skip

    def get_container(self, resource_identifier: str) -> str:
        """The container's resource identifier: relative to the prefix, as ``resource_identifier`` is."""
        container = os.path.dirname(self.get_filesystem_path(resource_identifier))
        if not self.prefix:
            return container
        if os.path.commonpath([self.prefix, container]) != self.prefix:
            raise AccessorParentResourceNotFoundError(resource_identifier=resource_identifier,
                                                      error="its container is outside the prefix")  # fmt: skip
        return os.path.relpath(container, self.prefix) if container != self.prefix else ""
