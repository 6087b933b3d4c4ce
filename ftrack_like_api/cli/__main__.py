"""``python -m ftrack_like_api.cli``: the ``ftrack-like`` command."""

from __future__ import annotations

import sys

from .. import cli

if __name__ == "__main__":
    sys.exit(cli.main())
