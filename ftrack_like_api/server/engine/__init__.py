"""The engine: one batch of operations in one transaction, on SQLite or PostgreSQL.

Every protocol the server speaks (ftrack's ``/api`` today) hands the engine the same
operations; data rules — integrity, permissions, idempotency — live here and in
:mod:`..auth`, so every protocol gets them.

- ``backend.py`` executes a batch; ``batch.py`` is what one batch knows while it runs
- ``compiler.py`` turns the query AST into SQL; ``reader.py`` answers queries with it,
  keeping statements by shape (``statements.py``) and paging by key (``paging.py``);
  ``loading.py`` loads the references and collections a projection names,
  ``encoding.py`` writes rows as entities; ``computed.py`` and ``custom_attributes.py``
  the attributes that are not plain columns
- ``writer.py`` creates, updates and deletes; ``fills.py`` the values the server fills;
  ``integrity.py`` the tree's rules, checked once the batch is applied; ``diagnosis.py`` which
  constraint an operation broke when the database refused the batch
- ``storage.py`` the tables and their upgrades, ``dialects.py`` SQLite and PostgreSQL,
  ``values.py`` values as the columns keep them, ``seed.py`` a new studio's data,
  ``schemas/`` the shipped entity types
"""

from __future__ import annotations

from .backend import Backend, load_schema

__all__ = ["Backend", "load_schema"]
