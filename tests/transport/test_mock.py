"""MockTransport: what it does with its handler's answers and failures (the contract suite covers the rest)."""

import pytest

from ftrack_like_api.exceptions import ServerError, TransportError
from ftrack_like_api.transport import MockTransport


def test_the_handler_sees_a_copy_of_the_batch_as_a_server_would():
    seen = []
    batch = [{"action": "query", "expression": "Task", "extra": (1, 2)}]
    transport = MockTransport(lambda sent: seen.append(sent) or [{"data": []}])
    transport.handle(batch)
    assert seen == [[{"action": "query", "expression": "Task", "extra": [1, 2]}]]  # tuples travel as lists
    seen[0][0]["action"] = "changed"
    assert batch[0]["action"] == "query"


def test_what_the_handler_raises_reaches_the_caller_as_a_transport_error():
    def broken(batch):
        raise ConnectionResetError("peer went away")

    with pytest.raises(TransportError, match="ConnectionResetError: peer went away") as raised:
        MockTransport(broken).handle([{"action": "query_schemas"}])
    assert isinstance(raised.value.__cause__, ConnectionResetError)


def test_the_packages_own_errors_pass_as_they_are():
    def refusing(batch):
        raise TransportError("No answer from the mock")

    with pytest.raises(TransportError, match=r"^No answer from the mock$"):
        MockTransport(refusing).handle([{"action": "query_schemas"}])


def test_an_error_object_is_a_server_error_and_a_wrong_answer_a_transport_error():
    error = {"exception": "PermissionError", "content": "Not yours", "error_code": "forbidden"}
    with pytest.raises(ServerError, match="Not yours") as raised:
        MockTransport(lambda batch: error).handle([{"action": "query_schemas"}])
    assert raised.value.exception == "PermissionError" and raised.value.code == "forbidden"
    with pytest.raises(TransportError, match=r"2 operation.*list of 1"):
        MockTransport(lambda batch: [{}]).handle([{"action": "a"}, {"action": "b"}])
    with pytest.raises(TransportError, match="not JSON"):
        MockTransport(lambda batch: [object()]).handle([{"action": "a"}])


def test_closing_is_recorded_and_the_next_batch_reopens():
    transport = MockTransport(lambda batch: [{} for _ in batch])
    with transport:
        assert transport.closed is False
    assert transport.closed is True
    transport.handle([{"action": "a"}])
    assert transport.closed is False


def test_a_handler_must_be_a_function():
    with pytest.raises(TypeError, match="needs a function of the batch"):
        MockTransport([{"data": []}])
