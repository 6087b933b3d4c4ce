"""Alembic's environment for a studio database: :func:`..upgrades.run_environment` does the work."""

from alembic import context

from ftrack_like_api.server.engine.upgrades import run_environment

__all__: list[str] = []

if hasattr(context, "config"):  # imported outside a migration (pytest collecting doctests): nothing to run
    run_environment(context)
