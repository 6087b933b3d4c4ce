"""A PublishedFile's ``path``: where its component's file lies, answered as ShotGrid answers a file link.

A component of ours is in a location when a ComponentLocation says so, with its *resource
identifier* there. The server resolves it as ftrack's location accessors do:

- ``ftrack.unmanaged``, ``ftrack.origin`` and ``ftrack.review`` (a disk accessor with no prefix):
  the identifier is the file's path, answered ``{"local_path", "url": "file://…", "name",
  "content_type", "link_type": "local"}``; an identifier that is a URL (``https://…``) is
  answered ``{"url", "name", "content_type", "link_type": "web"}``.
- a location with a root (a disk accessor's prefix): ShotGrid's ``LocalStorage`` is our Location,
  its ``linux_path`` / ``mac_path`` / ``windows_path`` kept in its metadata; the identifier is a
  path under the root, answered with ``local_path_linux`` / ``_mac`` / ``_windows`` (the root
  joined with it, as ``DiskAccessor.get_filesystem_path``), ``local_storage`` (the link),
  ``relative_path`` and ``local_path`` (the Linux one; ``shotgun_api3`` sets ``local_path`` and
  ``url`` to its own platform's).

A ``local_path`` written under a LocalStorage's root is kept in that location, by its path under
the root (:func:`within`), as ShotGrid splits it; elsewhere it is kept in ``ftrack.unmanaged``.

The location the field names (``ftrack.unmanaged``) answers first, then the other prefix-less
ones, then those with a root; a location with neither (``ftrack.connect``) is not answered.
"""

from __future__ import annotations

import mimetypes
import os
import posixpath
from typing import Any
from urllib.parse import quote, urlparse

from ....symbol import ORIGIN_LOCATION_ID, REVIEW_LOCATION_ID, UNMANAGED_LOCATION_ID
from .mapping import Field

__all__ = ["PROJECTIONS", "ROOTS", "answer", "storage", "within"]

#: What a ``path`` field reads of a component.
PROJECTIONS = (
    "component_locations.location_id", "component_locations.resource_identifier", "component_locations.location.name",
    "component_locations.location.metadata.key", "component_locations.location.metadata.value",
)  # fmt: skip

#: Our locations whose resource identifiers are paths as they are (ftrack's disk accessor with no prefix).
AS_THEY_ARE = (UNMANAGED_LOCATION_ID, ORIGIN_LOCATION_ID, REVIEW_LOCATION_ID)

#: A LocalStorage's roots (metadata keys of our Location) and the keys of ShotGrid's answer they give.
ROOTS = (("linux_path", "local_path_linux"), ("mac_path", "local_path_mac"), ("windows_path", "local_path_windows"))


def answer(field: Field, row: dict[str, Any], numbers: dict[str, int]) -> dict[str, Any] | None:
    """The ``path`` of the component ``row`` (``numbers``: uuid to integer id), or None when it lies nowhere known."""
    places = [p for p in row.get("component_locations") or () if isinstance(p, dict) and p.get("resource_identifier")]
    order = (field.key, *AS_THEY_ARE)
    places.sort(key=lambda p: order.index(p.get("location_id")) if p.get("location_id") in order else len(order))
    for place in places:
        identifier = str(place["resource_identifier"])
        if place.get("location_id") in order:
            return _as_it_is(identifier)
        found = _rooted(place, identifier, numbers)
        if found is not None:
            return found
    return None


def storage(row: dict[str, Any], numbers: dict[str, int]) -> dict[str, Any] | None:
    """``path_cache_storage``: the LocalStorage (a location of ours with a root) the component ``row`` lies in, if any."""
    for place in row.get("component_locations") or ():
        location = place.get("location") if isinstance(place, dict) else None
        if isinstance(location, dict) and any(isinstance(m, dict) and m.get("key") in dict(ROOTS) and m.get("value")
                                              for m in location.get("metadata") or ()):  # fmt: skip
            return {"type": "LocalStorage", "id": numbers.get(str(place.get("location_id"))), "name": location.get("name")}
    return None


def _as_it_is(identifier: str) -> dict[str, Any]:
    parsed = urlparse(identifier)
    if len(parsed.scheme) > 1 and parsed.scheme != "file":  # a URL (one letter is a Windows drive)
        name = posixpath.basename(parsed.path.rstrip("/")) or parsed.netloc or identifier
        return {"url": identifier, "name": name, "content_type": mimetypes.guess_type(parsed.path)[0], "link_type": "web"}
    return {"local_path": identifier, "url": "file://" + quote(identifier), "name": os.path.basename(identifier) or identifier,
            "content_type": mimetypes.guess_type(identifier)[0], "link_type": "local"}  # fmt: skip


def _rooted(place: dict[str, Any], identifier: str, numbers: dict[str, int]) -> dict[str, Any] | None:
    location = place.get("location") if isinstance(place.get("location"), dict) else {}
    kept = {m.get("key"): m.get("value") for m in location.get("metadata") or () if isinstance(m, dict)}  # type: ignore[union-attr]
    relative = identifier.replace("\\", "/").lstrip("/")
    paths: dict[str, Any] = {}
    for root_key, answer_key in ROOTS:
        root = kept.get(root_key)
        if not root:
            paths[answer_key] = None
        elif root_key == "windows_path":
            paths[answer_key] = str(root).rstrip("\\/") + "\\" + relative.replace("/", "\\")
        else:
            paths[answer_key] = posixpath.join(str(root), relative)
    local = paths["local_path_linux"] or paths["local_path_mac"] or paths["local_path_windows"]
    if local is None:
        return None
    storage = {"type": "LocalStorage", "id": numbers.get(str(place.get("location_id"))), "name": location.get("name")}  # type: ignore[union-attr]
    return {"local_path": local, **paths, "local_storage": storage, "relative_path": relative, "url": "file://" + quote(local),
            "name": posixpath.basename(relative) or relative, "content_type": mimetypes.guess_type(relative)[0],
            "link_type": "local"}  # fmt: skip


def within(path: str, roots: dict[str, dict[str, Any]]) -> tuple[str, str] | None:
    """(the location, the path under its root) of the deepest root ``path`` is under, of ``roots`` (a Location's id:
    its metadata by key); None when it is under none. A Windows root matches whatever the case and slashes."""
    found: tuple[int, str, str] | None = None
    for location, kept in roots.items():
        for root_key, _ in ROOTS:
            root = str(kept.get(root_key) or "")
            windows = root_key == "windows_path"
            mine, theirs = (path.replace("\\", "/"), root.replace("\\", "/")) if windows else (path, root)
            theirs = theirs.rstrip("/")
            if not theirs or (mine.lower() if windows else mine)[:len(theirs) + 1] != (theirs.lower() if windows else theirs) + "/":
                continue
            if found is None or len(theirs) > found[0]:
                found = (len(theirs), location, mine[len(theirs) + 1:].lstrip("/"))
    return (found[1], found[2]) if found is not None and found[2] else None
