"""The query language shared by client and server: parse, render, bind.

>>> from ftrack_like_api.query import bind, parse, render
>>> query = parse('select name from Task where status.name = Approved and name is :name limit 5')
>>> render(bind(query, name='say "hi"'))
'select name from Task where status.name is "Approved" and name is "say \\\\"hi\\\\"" limit 5'

The nodes are in :mod:`ftrack_like_api.query.ast`; the grammar in
:mod:`ftrack_like_api.query.grammar`. Errors are :class:`~ftrack_like_api.exceptions.QueryError`.
"""

from __future__ import annotations

from . import ast
from .bind import bind, parameters
from .build import parse
from .render import render

__all__ = ["ast", "bind", "parameters", "parse", "render"]
