"""ShotGrid's protocol: ``POST /api3/json``, so ``shotgun_api3`` scripts run unchanged against our server.

- ``api.py``: the JSON-RPC endpoint, its authentication and its error answers
- ``calls.py``: each method (``read``, ``create``, ``update``, ``delete``, ``batch``, ``schema_*`` …)
  as the engine's operations, in one batch
- ``filters.py``: ShotGrid's filter lists compiled to the engine's query AST
- ``records.py``: ShotGrid's fields as projections, and rows as ShotGrid records
- ``mapping.json`` + ``mapping.py``: ShotGrid's entity types and fields onto ours (data, one reader)
- ``ids.py`` + ``tables.py``: the stable integer id ShotGrid names each entity by

Nothing here is imported by the engine but ``tables.py`` (the engine makes the tables).
"""
