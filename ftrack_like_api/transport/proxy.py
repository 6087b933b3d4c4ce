"""A proxy for everything a session sends to its server: ``Session(proxy=...)`` or ``FTRACK_LIKE_PROXY``.

Besides the standard variables ``requests`` reads (``HTTPS_PROXY``, ``HTTP_PROXY``,
``NO_PROXY``), a session can be given one proxy for its batches, files and events::

    Session("https://studio.example", proxy="socks5://gateway:1080")   # or FTRACK_LIKE_PROXY
    Session("https://studio.example", proxy="http://proxy.studio:3128")

``socks5://`` resolves names on this machine, ``socks5h://`` on the proxy; accsyn's
spelling ``socks:host:port`` means ``socks5h://host:port``. SOCKS needs PySocks, the
``socks`` extra (``pip install 'ftrack-like-api[socks]'``); without it the error says so.
"""

from __future__ import annotations

import importlib
import os
import re

__all__ = ["PROXY_VARIABLE", "proxies_for"]

#: The variable a proxy is read from when a Session is given none.
PROXY_VARIABLE = "FTRACK_LIKE_PROXY"

SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")


def proxies_for(proxy: str | None) -> dict[str, str]:
    """``requests``' proxies for ``proxy`` (None: ``FTRACK_LIKE_PROXY``, else none); ValueError naming what is wrong."""
    proxy = proxy or os.environ.get(PROXY_VARIABLE) or None
    if proxy is None:
        return {}
    accsyn = re.fullmatch(r"socks:([^:/]+):(\d+)", proxy)
    if accsyn:
        proxy = f"socks5h://{accsyn.group(1)}:{accsyn.group(2)}"
    scheme = proxy.split("://", 1)[0].lower() if "://" in proxy else ""
    if scheme not in SCHEMES:
        raise ValueError(f"The proxy {proxy!r} needs a scheme: {', '.join(s + '://' for s in SCHEMES)} (socks5://host:1080)")
    if scheme.startswith("socks"):
        try:
            importlib.import_module("socks")  # PySocks: what requests reaches a SOCKS proxy through
        except ImportError:
            raise ValueError(f"The SOCKS proxy {proxy!r} needs PySocks: pip install 'ftrack-like-api[socks]'") from None
    return {"http": proxy, "https": proxy}
