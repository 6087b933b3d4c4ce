"""Media encoding for review, as ftrack's server does it: ``encode_media`` and its jobs.

- ``tools.py`` finding and running ffmpeg and ffprobe, and what ffprobe reads of a file
- ``encode.py`` the components a source makes (``ftrackreview-mp4`` …) and making them
- ``jobs.py`` the ``encode_media`` action, and the bounded pool of threads that runs its jobs
- ``recovery.py`` the jobs a stopped server left: failed when a server starts again
"""

from __future__ import annotations

from .encode import plan_for
from .jobs import Media
from .tools import MissingTool, ToolFailed, find_tools

__all__ = ["Media", "MissingTool", "ToolFailed", "find_tools", "plan_for"]
