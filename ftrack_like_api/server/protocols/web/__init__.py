"""The web page: people who are not programmers browse a production, change it, review versions, watch it live.

Server-rendered HTML (Jinja2 templates in ``templates/``) from the engine, enhanced by one
small script of our own (``static/web.js``: in-place changes with ``fetch``, live updates
with ``EventSource``); every page reads and works without it. A protocol beside the
others: reads are ``query`` operations and changes batches, run by the engine as the
signed-in user (:mod:`.reads`), so permissions, integrity and events are the API's.

========================================  ===================================================
``GET /``                                 the projects, or the sign-in page
``GET|POST /web/signin``, ``POST /web/signout``  signing in and out (:mod:`.signin`)
``GET /web/projects``                     the projects the visitor may see
``GET /web/projects/{id}``                a project's spreadsheet (:mod:`.sheet`)
``GET /web/entities/{type}/{id}``         an entity: attributes, children, notes, versions
``POST /web/entities/{type}/{id}``        a change in place; ``…/notes``: a note or a reply
``GET /web/my-tasks``                     the visitor's tasks, by due date
``GET /web/projects/{id}/review``         the version grid; ``/web/versions/{id}``: one version
``GET /web/live``, ``GET /web/activity``  events as they happen (:mod:`.live`)
========================================  ===================================================
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Route

from ...engine.backend import Backend
from ...events.tail import Tail
from ...draining import Draining
from ...gate import DatabaseGate
from .edits import Edits
from .guard import Guard
from .live import Live
from .pages import Pages
from .reads import Reads
from .rendering import Renderer, Static
from .review import Review
from .signin import SignIn
from .visitors import Visitors

__all__ = ["WebPages"]


class WebPages:
    """The browser's pages over one backend."""

    def __init__(self, backend: Backend, database: DatabaseGate, tail: Tail, draining: Draining) -> None:
        self.static = Static()
        renderer = Renderer(self.static)
        visitors = Visitors(backend, database)
        reads = Reads(backend, database)
        self.guard = Guard(renderer, visitors)
        self.signin = SignIn(renderer, visitors)
        self.pages = Pages(renderer, reads)
        self.edits = Edits(renderer, reads)
        self.review = Review(renderer, reads, backend, database)
        self.live = Live(renderer, reads, backend, database, tail, draining)

    def routes(self) -> list[BaseRoute]:
        page, change = self.guard.page, self.guard.change
        return [
            Route("/", self.guard.open(self.signin.home), methods=["GET"]),
            Route("/web/", self.guard.open(self.signin.home), methods=["GET"]),
            Route("/web/signin", self.guard.open(self.signin.form), methods=["GET"]),
            Route("/web/signin", self.guard.open(self.signin.submit), methods=["POST"]),
            Route("/web/signout", change(self.signin.sign_out), methods=["POST"]),
            Route("/web/static/{version}/{name}", self.static_file, methods=["GET"]),
            Route("/web/colours.css", page(self.pages.colours), methods=["GET"]),
            Route("/web/projects", page(self.pages.projects), methods=["GET"]),
            Route("/web/projects/{id}", page(self.pages.sheet), methods=["GET"]),
            Route("/web/projects/{id}/review", page(self.review.grid), methods=["GET"]),
            Route("/web/rows/{id}", page(self.pages.row), methods=["GET"]),
            Route("/web/entities/{type}/{id}", page(self.pages.entity), methods=["GET"]),
            Route("/web/entities/{type}/{id}", change(self.edits.change), methods=["POST"]),
            Route("/web/entities/{type}/{id}/notes", change(self.edits.note), methods=["POST"]),
            Route("/web/my-tasks", page(self.pages.my_tasks), methods=["GET"]),
            Route("/web/versions/{id}", page(self.review.version), methods=["GET"]),
            Route("/web/files/{id}", page(self.review.file), methods=["GET"]),
            Route("/web/live", page(self.live.stream), methods=["GET"]),
            Route("/web/activity", page(self.live.activity), methods=["GET"]),
        ]

    async def static_file(self, request: Any) -> Any:
        return self.static.response(request.path_params["version"], request.path_params["name"])
