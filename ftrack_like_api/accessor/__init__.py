"""Accessors: how a location's files are reached — on disk (:class:`~.disk.DiskAccessor`) or on the server.

A location stores, for each component, a *resource identifier* (a path under the
location's prefix, a component id …); its accessor turns that into bytes. ftrack's
modules by ftrack's names: ``ftrack_like_api.accessor.disk.DiskAccessor``,
``ftrack_like_api.accessor.base.Accessor``.
"""

from __future__ import annotations

from .base import Accessor
from .disk import DiskAccessor

__all__ = ["Accessor", "DiskAccessor"]
