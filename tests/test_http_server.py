"""The one waitress wrapper behind the bot, the sandbox and the local Slack (algobot.http_server)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests

from algobot.http_server import HttpServer


def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


def test_close_returns_at_once_and_drops_open_connections():
    server = HttpServer(hello).start()
    session = requests.Session()  # keeps its connection open, as a browser tab would
    assert session.get(server.url, timeout=5).text == "hello"
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 2  # not the loop's poll timeout, not the workers' 5 s
    assert not server.thread
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url, timeout=2)
    server.close()  # a second close is harmless


def test_a_request_in_flight_when_closing_still_gets_its_answer():
    entered, release = threading.Event(), threading.Event()

    def slow(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        entered.set()
        release.wait(10)
        return hello(environ, start_response)

    server = HttpServer(slow).start()
    answers: list[str] = []
    client = threading.Thread(target=lambda: answers.append(requests.get(server.url, timeout=10).text))
    client.start()
    assert entered.wait(10)
    closing = threading.Thread(target=server.close)
    closing.start()
    release.set()
    client.join(10)
    closing.join(10)
    assert answers == ["hello"] and not closing.is_alive()


def test_a_body_over_the_cap_is_refused_before_the_app_reads_it():
    seen: list[bytes] = []

    def echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["wsgi.input"].read())
        return hello(environ, start_response)

    with HttpServer(echo, max_body_bytes=100) as server:
        assert requests.post(server.url, data=b"x" * 90, timeout=5).status_code == 200
        assert requests.post(server.url, data=b"x" * 200, timeout=5).status_code == 413
        chunked = requests.post(server.url, data=iter([b"x" * 60, b"x" * 60]), timeout=5)
        assert chunked.status_code == 413
    assert seen == [b"x" * 90]


def test_a_wildcard_host_gets_a_url_that_works():
    with HttpServer(hello, host="0.0.0.0") as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert requests.get(server.url, timeout=5).text == "hello"
