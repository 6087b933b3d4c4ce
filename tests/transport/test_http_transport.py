"""HttpTransport's connection settings on real sockets: proxies from the environment, TLS verification."""

import contextlib
import json
import shutil
import socket
import ssl
import subprocess
import threading

import pytest

from ftrack_like_api.exceptions import TransportError
from ftrack_like_api.transport.http import HttpTransport

BATCH = [{"action": "query_server_information"}]
ANSWER = json.dumps([{"version": "4.13.0"}]).encode()


@contextlib.contextmanager
def answering(tls=None, replies=()):
    """A server on 127.0.0.1 that answers every request with ANSWER; yields (port, request heads seen).

    ``replies``: raw HTTP answers to give first, one per request, before the good one
    (``None``: no answer at all, the connection held until the client hangs up).
    """
    replies = list(replies)
    listener = socket.create_server(("127.0.0.1", 0))
    heads = []
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except (socket.timeout, OSError):
                continue
            try:
                if tls is not None:
                    connection = tls.wrap_socket(connection, server_side=True)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += connection.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                heads.append(head.decode())
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
                while len(body) < length:
                    body += connection.recv(65536)
                if replies:
                    reply = replies.pop(0)
                    if reply is None:
                        connection.settimeout(10)
                        while connection.recv(65536):
                            pass
                    else:
                        connection.sendall(reply)
                    continue
                connection.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                                   b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(ANSWER), ANSWER))  # fmt: skip
            except (ssl.SSLError, OSError):
                pass  # a client that refused our certificate hangs up
            finally:
                connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], heads
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_proxies_come_from_the_environment(monkeypatch):
    with answering() as (port, heads):
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        transport = HttpTransport("http://tracking.studio.invalid:8000", "admin", "key", retries=0)
        assert transport.handle(BATCH) == [{"version": "4.13.0"}]
        transport.close()
    # The request went to the proxy, naming the server it is for.
    assert heads[0].startswith("POST http://tracking.studio.invalid:8000/api HTTP/1.1")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (certificate file, TLS context serving it)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return cert, context


def test_tls_is_verified_and_a_failure_says_so_at_once(certificate, monkeypatch):
    cert, context = certificate
    with answering(tls=context) as (port, heads):
        url = f"https://127.0.0.1:{port}"
        with pytest.raises(TransportError, match="TLS") as refused:
            HttpTransport(url, "admin", "key", retries=4, backoff=5).handle(BATCH)  # retrying would take 75 s
        assert "certificate" in str(refused.value).lower()
        assert heads == []  # nothing was sent to a server we could not trust
        # Trusting that certificate (a studio's own authority, say) is one argument, or the environment.
        assert HttpTransport(url, "admin", "key", verify=str(cert)).handle(BATCH) == [{"version": "4.13.0"}]
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
        assert HttpTransport(url, "admin", "key").handle(BATCH) == [{"version": "4.13.0"}]


#: An answer that says 1,000 bytes and sends 20, then hangs up: a reply cut short.
CUT_SHORT = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n" + ANSWER[:20]


def test_a_reply_cut_short_is_sent_again_and_then_a_transport_error():
    with answering(replies=[CUT_SHORT]) as (port, heads):
        transport = HttpTransport(f"http://127.0.0.1:{port}", "admin", "key", retries=2, backoff=0.01)
        assert transport.handle(BATCH) == [{"version": "4.13.0"}]  # the second try got the whole answer
        key = [line for line in heads[0].split("\r\n") if line.lower().startswith("ftrack-idempotency-key")]
        assert key and key[0] in heads[1]  # sent again under the same key: the server runs it once
    with answering(replies=[CUT_SHORT] * 3) as (port, heads):
        transport = HttpTransport(f"http://127.0.0.1:{port}", "admin", "key", retries=2, backoff=0.01)
        with pytest.raises(TransportError, match=r"The answer from .* was cut short after 3 tries"):
            transport.handle(BATCH)


@pytest.mark.parametrize("url", ["http://exa mple.test", "http://[::1", "http://"])
def test_a_url_that_cannot_be_a_request_is_refused_when_the_transport_is_made(url):
    with pytest.raises(ValueError, match="HttpTransport needs a valid URL"):
        HttpTransport(url, "admin", "key")


def test_a_header_that_cannot_be_sent_is_a_transport_error_saying_which():
    with answering() as (port, heads):
        transport = HttpTransport(f"http://127.0.0.1:{port}", "admin\nX-Injected: 1", "key")
        with pytest.raises(TransportError, match=r"A header for .* cannot be sent"):
            transport.handle(BATCH)
        assert heads == []


def idempotency_keys(heads):
    return [line.split(":", 1)[1].strip() for head in heads for line in head.split("\r\n")
            if line.lower().startswith("ftrack-idempotency-key")]  # fmt: skip


def test_a_read_that_times_out_is_sent_again_under_its_key_and_then_says_in_time():
    with answering(replies=[None]) as (port, heads):
        transport = HttpTransport(f"http://127.0.0.1:{port}", "admin", "key", retries=2, backoff=0.01, timeout=(5, 0.3))
        assert transport.handle(BATCH) == [{"version": "4.13.0"}]  # urllib3's Retry sent the POST again
        keys = idempotency_keys(heads)
        assert len(keys) == 2 and keys[0] == keys[1]
    with answering(replies=[None] * 3) as (port, heads):
        transport = HttpTransport(f"http://127.0.0.1:{port}", "admin", "key", retries=2, backoff=0.01, timeout=(5, 0.3))
        with pytest.raises(TransportError, match=r"No answer from .* in time .* after 3 tries"):
            transport.handle(BATCH)
        assert len(set(idempotency_keys(heads))) == 1 and len(heads) == 3


BUSY = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: 2\r\nretry-after: 0\r\n\r\n{}"


def test_a_session_of_the_callers_is_used_as_it_is_and_stays_theirs():
    import requests

    with answering(replies=[BUSY]) as (port, heads):
        own = requests.Session()
        own.headers["x-studio"] = "north"
        own.auth = lambda request: request.headers.__setitem__("x-signed", "yes") or request
        transport = HttpTransport(f"http://127.0.0.1:{port}", "admin", "key", session=own, backoff=0.01)
        assert transport.handle(BATCH) == [{"version": "4.13.0"}]  # the 503 was retried on its adapter
        assert len(heads) == 2 and all("x-studio: north" in h and "x-signed: yes" in h for h in heads)
        assert "x-studio" in own.headers and "ftrack-api-key" not in own.headers  # its headers are not ours to change
        transport.close()
        assert own.get(f"http://127.0.0.1:{port}/health").json() == [{"version": "4.13.0"}]  # still open: theirs
        assert list(own.adapters) == ["https://", "http://"]  # our adapter left with the transport


def test_an_adapter_the_caller_mounted_for_the_server_keeps_its_own_retries():
    import requests
    from requests.adapters import HTTPAdapter

    with answering(replies=[BUSY]) as (port, heads):
        own = requests.Session()
        own.mount(f"http://127.0.0.1:{port}/", HTTPAdapter(max_retries=0))
        transport = HttpTransport(f"http://127.0.0.1:{port}", "admin", "key", session=own, backoff=0.01)
        with pytest.raises(TransportError, match="answered 503"):
            transport.handle(BATCH)  # no retries on the caller's adapter: the 503 is the answer
        assert len(heads) == 1


def test_a_session_must_be_a_requests_session():
    with pytest.raises(TypeError, match=r"takes a requests\.Session"):
        HttpTransport("http://127.0.0.1:1", "admin", "key", session=object())
