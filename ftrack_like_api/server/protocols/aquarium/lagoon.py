"""Lagoon's routes at ``/lagoon/v1/`` (its client's ``api_url`` is the server's URL + ``/lagoon/``).

Lagoon is Aquarium's sibling for a studio's resources; its client speaks the same REST
routes and meshQL, over the same items. Served on a mount of its own because its view of
``users/me`` differs: the studio is its one organisation (a kept item of type
``Organisation``, with its containers — Properties, Talents, Licenses, Hardware, Projects,
Buildings, Teams — made the first time Lagoon asks), and its members are the studio's users.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .api import AquariumApi, Caller, json_answer
from .calls import Calls

__all__ = ["LagoonApi"]


class LagoonApi(AquariumApi):
    """Lagoon's routes over one backend, beside Aquarium's (sharing its calls)."""

    def __init__(self, backend: Any, database: Any, calls: Calls) -> None:
        super().__init__(backend, database, prefix="/lagoon/v1", calls=calls)
        r = self._routes
        r["/users/me"] = {"GET": (self.me, True)}
        for which in ("all", "active", "inactive"):
            r["/organisations/{key}/members/" + which] = {"GET": (self._members(which), True)}
        r["/organisations/{key}/members"] = {"POST": (self.add_member, True)}
        r["/query"] = {"POST": (self.query, True)}

    async def organisations(self, caller: Caller) -> list[Any]:
        """The studio, as ``users/me`` names it (a reference: Lagoon's client makes no item of it there)."""
        organisation = await self.execute(caller, "organisation", {}, write=True)
        return [{"_key": organisation["_key"], "name": organisation["data"].get("name")}]

    async def query(self, request: Request, caller: Caller | None) -> Response:
        assert caller is not None
        await self.execute(caller, "organisation", {}, write=True)
        return await self.op("query", body=True)(request, caller)

    def _members(self, which: str) -> Any:
        async def handler(request: Request, caller: Caller | None) -> Response:
            assert caller is not None
            params = {"which": which, "offset": request.query_params.get("offset"), "limit": request.query_params.get("limit")}
            return json_answer(await self.execute(caller, "members", params))

        return handler

    async def add_member(self, request: Request, caller: Caller | None) -> Response:
        """Every user of the studio is a member already: the user named is answered."""
        assert caller is not None
        sent = await self._body(request)
        return json_answer(await self.execute(caller, "get", {"key": sent.get("userKey")}))
