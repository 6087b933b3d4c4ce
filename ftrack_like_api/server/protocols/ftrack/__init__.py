"""ftrack's protocol: the JSON API of ``POST /api`` and ``POST /signin`` (``api.py``), how a request's
body is read and checked (``body.py``) and how answers are written (``answers.py``).

ftrack's socket.io 0.9 event hub, which ftrack's client connects to for events, is ``hub/``.
"""

from __future__ import annotations

from .api import FtrackApi

__all__ = ["FtrackApi"]
