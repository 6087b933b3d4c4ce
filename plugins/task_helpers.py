"""An example plugin: gives every TypedContext (Task, Shot, …) a ``path`` method.

    Session(server_url=..., api_user=..., plugin_paths=["plugins"])
    task.path()          # 'tutorial / sq010 / sh010 / comp'

Plugins are plain Python files on the plugin paths (``FTRACK_EVENT_PLUGIN_PATH``);
each defines ``register(session, **kwargs)``.
"""


def register(session, separator=" / "):
    """Answer the construct-entity-type event for TypedContext with a class that has ``path``."""

    def construct(event):
        if event["data"]["schema"]["id"] != "TypedContext":
            return None
        default = event["data"]["default"]

        class TypedContext(default):
            __slots__ = ()

            def path(self):
                """The entity's place in the project, from the link the server computes."""
                return separator.join(step["name"] for step in self["link"])

        return TypedContext

    session.event_hub.subscribe("topic=ftrack.api.session.construct-entity-type", construct)
