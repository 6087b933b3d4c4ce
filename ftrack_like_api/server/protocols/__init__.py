"""The wire formats the server speaks around its one engine: ``ftrack/`` (ftrack's JSON API), ``shotgrid/``.

Each protocol translates its requests into the engine's operations and the answers back;
data rules (integrity, permissions, idempotency) stay in the engine and ``auth/`` so every
protocol gets them. ShotGrid's ``/api3/json`` (``shotgrid/``) maps its types onto ours as data.
"""
