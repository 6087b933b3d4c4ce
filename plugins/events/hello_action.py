"""An action, as ftrack's are: it answers ``ftrack.action.discover`` with what it offers,
and ``ftrack.action.launch`` when it is chosen.

An application publishes ``ftrack.action.discover`` (with ``data.selection``) and gathers
the replies; launching publishes ``ftrack.action.launch`` with the ``actionIdentifier``.
"""

IDENTIFIER = "ftrack-like.hello"


def register(session):
    def discover(event):
        return {"items": [{"label": "Say hello", "actionIdentifier": IDENTIFIER,
                           "description": "Counts what is selected"}]}  # fmt: skip

    def launch(event):
        selection = event["data"].get("selection") or []
        user = (event["source"].get("user") or {}).get("username", "someone")
        return {"success": True, "message": f"Hello {user}: {len(selection)} selected"}

    session.event_hub.subscribe("topic=ftrack.action.discover", discover)
    session.event_hub.subscribe(f"topic=ftrack.action.launch and data.actionIdentifier={IDENTIFIER}", launch)
