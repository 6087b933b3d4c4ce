"""socket.io 0.9's packets as ftrack's client writes and reads them."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("starlette", reason="the server extra is not installed")

from ftrack_like_api.server.protocols.ftrack.hub.packets import (  # noqa: E402
    MAX_PACKET, Kind, Packet, PacketError, acknowledgement, decode, encode, event, event_of,
)  # fmt: skip


def test_what_ftracks_client_sends_is_read():
    # Written as ftrack_api.event.hub.EventHub._send_packet writes them: ":".join((code, id, path, data)).
    assert decode("2:::") == Packet(Kind.HEARTBEAT)
    sent = decode('5:3+::{"name": "ftrack.event", "args": [{"topic": "a:b", "data": {}}]}')
    assert (sent.kind, sent.id, sent.wants_data) == (Kind.EVENT, 3, True)
    assert event_of(sent) == ("ftrack.event", [{"topic": "a:b", "data": {}}])  # colons in the data stay


def test_what_the_server_sends_is_what_ftracks_client_parses():
    # ftrack's client: packet.split(":", 3); an ack's data split("+", 1), its args decoded and applied.
    code, identifier, path, data = acknowledgement(7, {"success": True}).split(":", 3)
    assert (code, identifier, path) == ("6", "", "")
    number, args = data.split("+", 1)
    assert int(number) == 7 and json.loads(args) == [{"success": True}]
    code, identifier, path, data = event("ftrack.event", {"topic": "x"}).split(":", 3)
    assert code == "5" and json.loads(data) == {"name": "ftrack.event", "args": [{"topic": "x"}]}
    assert encode(Packet(Kind.CONNECT)) == "1::" and encode(Packet(Kind.HEARTBEAT)) == "2::"


@given(
    st.sampled_from(list(Kind)),
    st.one_of(st.none(), st.integers(0, 10**12)),
    st.booleans(),
    st.text(alphabet=st.characters(blacklist_characters=":"), max_size=5),
    st.text(max_size=50),
)
def test_a_packet_reads_back_as_written(kind, identifier, wants_data, endpoint, data):
    packet = Packet(kind, identifier, wants_data and identifier is not None, endpoint, data)
    assert decode(encode(packet)) == packet


@pytest.mark.parametrize("text", ["", "9::", "5", "5:+::", "x:y:z", "5:abc::", "12::"])
def test_what_is_not_a_packet_is_refused(text):
    with pytest.raises(PacketError):
        decode(text)


@pytest.mark.parametrize("data", ["not json", "[1, 2]", '{"args": []}', '{"name": "x", "args": {}}', "[" * 100_000])
def test_an_event_that_is_not_one_is_refused(data):
    with pytest.raises(PacketError):
        event_of(Packet(Kind.EVENT, data=data))


def test_a_packet_over_the_limit_is_refused_before_it_is_read():
    with pytest.raises(PacketError, match="at most"):
        decode("5:::" + "x" * MAX_PACKET)
