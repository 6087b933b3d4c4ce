"""Events: the subscription expression language (:mod:`.expression`); the hub comes with the server."""
