"""A folder and everything in it, read once and checked before any component is made of it.

:func:`read_folder` answers a :class:`Folder`: its files (with their sizes) and its folders,
each a :class:`Folder` too, every list in name order. ``Session.create_component`` makes a
``ContainerComponent`` of each folder, inside the one that holds it, and a ``FileComponent``
of each file; reading the whole tree first means a folder it cannot take is refused before
anything was created.

Refused, with a ``ValueError`` naming the path: a link to a folder (it is not followed: it
may lead outside the folder or back into it), and anything that is neither a file nor a
folder (a pipe, a socket, a device, a broken link), which cannot be read as a file. A link
to a file is read as that file. Names are taken as the file system gives them: they are
component names, never paths on the server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

__all__ = ["File", "Folder", "read_folder"]


@dataclass(frozen=True)
class File:
    """A file of a folder: its path, its name and its size in bytes."""

    path: str
    name: str
    size: int


@dataclass
class Folder:
    """A folder: its path, its name, its files and its folders (name order), and the bytes of all the files under it."""

    path: str
    name: str
    files: list[File] = field(default_factory=list)
    folders: list[Folder] = field(default_factory=list)
    size: int = 0

    def walk(self) -> list[Folder]:
        """This folder and every folder under it, each before the folders it holds."""
        found, waiting = [], [self]
        while waiting:
            folder = waiting.pop(0)
            found.append(folder)
            waiting.extend(folder.folders)
        return found


def read_folder(path: str | os.PathLike[str]) -> Folder:
    """The folder at ``path`` and all that is under it; a ValueError for what a folder component cannot hold."""
    path = os.fspath(path)
    top = Folder(path, os.path.basename(os.path.normpath(path)))
    waiting = [top]
    while waiting:  # no recursion: a tree deeper than Python's stack is read as well
        folder = waiting.pop()
        try:
            entries = sorted(os.scandir(folder.path), key=lambda entry: entry.name)
        except OSError as error:
            raise ValueError(f"The folder {folder.path!r} cannot be read: {error.strerror or error}") from error
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                inner = Folder(entry.path, entry.name)
                folder.folders.append(inner)
                waiting.append(inner)
            elif entry.is_symlink() and entry.is_dir():
                raise ValueError(f"{entry.path!r} is a link to a folder: links to folders are not followed "
                                 "(copy the folder there, or link its files)")  # fmt: skip
            elif entry.is_file():
                folder.files.append(File(entry.path, entry.name, entry.stat().st_size))
            else:
                raise ValueError(f"{entry.path!r} is not a file or a folder (a pipe, socket, device or broken link): "
                                 "a folder component holds files and folders only")  # fmt: skip
    for folder in reversed(top.walk()):  # the deepest first: a folder's size is its files' and its folders'
        folder.size = sum(file.size for file in folder.files) + sum(inner.size for inner in folder.folders)
    return top
