"""``python -m ftrack_like_api.server``: the demo studio (see :mod:`.demo`)."""

import sys

from .demo import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
