"""Aquarium's protocol (and Lagoon's): its REST routes at ``/v1/``, so its official Python client runs unchanged.

- ``api.py``: the routes, their authentication and their error answers
- ``calls.py``: each route as one operation of the engine (one transaction, as the caller)
- ``store.py``: items and edges written through the engine's writer, and read back
- ``relations.py``: Aquarium's graph over our tables, one item and one edge relation in SQL
- ``entities.py``: Version, Media, Comment and Job as AssetVersion, FileComponent, Note and Timelog
- ``history.py``, ``copies.py``: an item's history from our event log; a copy of an item and its hierarchy
- ``cleanup.py``: what was kept beside an entity, removed after any API deletes it
- ``refused.py``: the routes known and not served, and why
- ``queries.py`` + ``meshql/``: meshQL parsed, compiled to SQL, answered in its VIEW
- ``mapping.json`` + ``mapping.py``: Aquarium's types and edges onto ours (data, one reader)
- ``shapes.py``: items and edges as the client reads them
- ``uploads.py``: files sent as multipart, kept as components at the server location
- ``tables.py``: what our model keeps no other way (the engine makes the tables)
"""
