"""Which events a connection's subscribers want: subscription and target, decided on the server."""

import pytest

pytest.importorskip("starlette", reason="the server extra is not installed")

from ftrack_like_api.event.expression import parse  # noqa: E402
from ftrack_like_api.exceptions import ExpressionError  # noqa: E402
from ftrack_like_api.server.protocols.ftrack.hub.subscribers import (  # noqa: E402
    SubscriberError, Subscribers, topics_of,
)  # fmt: skip


def test_an_event_goes_to_a_connection_when_a_subscriber_wants_it():
    subscribers = Subscribers()
    subscribers.add({"id": "hub"}, "topic=ftrack.meta.reply")
    subscribers.add({"id": "s1", "applicationId": "nuke"}, "topic=ftrack.update and data.entities.any=1")
    assert subscribers.wants({"topic": "ftrack.meta.reply", "target": "id=hub"})
    assert not subscribers.wants({"topic": "ftrack.meta.reply", "target": "id=someone-else"})
    assert subscribers.wants({"topic": "ftrack.update", "data": {"entities": {"any": 1}}, "target": ""})
    assert not subscribers.wants({"topic": "ftrack.update", "data": {}})
    # A target is matched against each subscriber's metadata, the subscription against the event.
    assert subscribers.wants({"topic": "ftrack.update", "data": {"entities": {"any": 1}}, "target": "applicationId=nuke"})
    assert not subscribers.wants({"topic": "ftrack.update", "data": {"entities": {"any": 1}}, "target": "applicationId=maya"})
    assert not subscribers.wants({"topic": "ftrack.update", "target": "((("})  # aimed at nobody


def test_subscribing_refuses_what_is_amiss_and_an_expression_says_where():
    subscribers = Subscribers(limit=2)
    with pytest.raises(ExpressionError) as refused:
        subscribers.add({"id": "a"}, "topic=ftrack.update and data.x")
    assert refused.value.position == len("topic=ftrack.update and data.x")  # an operator was expected there
    with pytest.raises(SubscriberError, match="id"):
        subscribers.add({"name": "no id"}, "topic=a")
    with pytest.raises(SubscriberError, match="expression"):
        subscribers.add({"id": "a"}, ["topic=a"])
    subscribers.add({"id": "a"}, "topic=a")
    subscribers.add({"id": "a"}, "topic=a")  # the same again (ftrack's client does, connecting): no change
    with pytest.raises(SubscriberError, match="already exists"):
        subscribers.add({"id": "a"}, "topic=b")
    subscribers.add({"id": "b"}, "topic=b")
    with pytest.raises(SubscriberError, match="at most 2"):
        subscribers.add({"id": "c"}, "topic=c")
    assert len(subscribers) == 2


def test_the_topics_read_from_the_log_follow_the_subscribers():
    subscribers = Subscribers()
    assert subscribers.topics == frozenset()  # nobody listens: nothing to read
    subscribers.add({"id": "a"}, "topic=ftrack.update and data.x=1")
    subscribers.add({"id": "b"}, "topic=test.one or topic=test.two")
    assert subscribers.topics == {"ftrack.update", "test.one", "test.two"}
    subscribers.add({"id": "c"}, "topic=ftrack.*")
    assert subscribers.topics is None  # a prefix: any topic may be wanted
    subscribers.remove({"id": "c"})
    assert subscribers.topics == {"ftrack.update", "test.one", "test.two"}
    with pytest.raises(SubscriberError, match="No subscriber"):
        subscribers.remove({"id": "c"})


@pytest.mark.parametrize(
    ("expression", "topics"),
    [
        ("topic=a", {"a"}),
        ("topic='a b'", {"a b"}),
        ("data.x=1", None),
        ("topic!=a", None),
        ("not topic=a", None),
        ("topic=a* and data.x=1", None),
        ("(topic=a or topic=b) and topic=a", {"a"}),
        ("topic=a or data.x=1", None),
    ],
)
def test_topics_of_an_expression(expression, topics):
    assert topics_of(parse(expression)) == (frozenset(topics) if topics is not None else None)
