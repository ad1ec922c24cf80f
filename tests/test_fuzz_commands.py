"""A seeded fuzz corpus of `/algo` texts, sent signed to the served bot over real HTTP.

Several hundred generated texts mix subcommands with hostile or odd pieces: Slack control sequences
(`<!here>`, `<http://…|…>`, mentions), HTML-escaped forms of them, `&`, quotes, newlines, unicode,
very long strings, `..`, odd build ids and names, and options with junk. Each text must get an
answer under 500, nothing any reader receives may carry a control sequence the user typed
(unescaped, it would ping the channel or forge a link), Slack must accept every message, and no
request may reach Algorithmia with a name or build id that fails validation.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from algobot.commands import COMMAND_MODULES
from algobot.sandbox import Sandbox, SandboxServer
from tests.fixtures.bot import message_text
from tests.fixtures.sandbox import RunningSandbox
from tests.fixtures.slack import ADMIN, MEMBER

SEED = 20261127
COUNT = 320

# What a user might type to ping everyone, forge a link or mention someone; each must reach readers
# escaped. FORBIDDEN lists the raw prefixes that must never appear in anything algobot sends.
HOSTILE = (
    "<!here>",
    "<!channel>",
    "<!everyone>",
    "<!here|here>",
    "<http://evil.example|click>",
    "<http://evil.example>",
    "<@U0EVIL>",
    "<@U0EVIL|mallory>",
    "<#C0EVIL|general>",
    "<!subteam^S0EVIL|@team>",
    "&lt;!channel&gt;",
    "&lt;http://evil.example|x&gt;",
)
FORBIDDEN = ("<!here", "<!channel", "<!everyone", "<http://evil", "<@U0EVIL", "<#C0EVIL", "<!subteam")

# Every subcommand but login (its dialog needs a trigger, and its text is refused unread), then an
# unknown one and a shouted one.
SUBCOMMANDS = (*(name for name in COMMAND_MODULES if name != "login"), "frobnicate", "INFO")
NAMES = (
    "demo/hello",
    "demo/Hello",
    "Demo/hello",
    "nosuch/thing",
    "demo/..",
    "../demo",
    "demo/../x",
    "demo/hello/extra",
    "demo/hel%2Flo",
    "demo/héllo",
    "démo/hello",
    "demo/hello?x=1",
    "demo/hello#frag",
    "demo/",
    "/hello",
    "demo//hello",
    "demo/1abc",
    "demo/a-b",
    "-demo/x",
    "demo/" + "a" * 80,
    "demo/<!here>",
    "<!channel>/x",
)
BUILD_IDS = (
    "00000000-0000-0000-0000-000000000000",
    "..",
    "../..",
    "../../v1/algorithms/demo",
    "%2e%2e",
    "a/b",
    "x?limit=1",
    "#frag",
    "b" * 200,
    "<!here>",
    "über",
    "' OR 1=1 --",
)
OPTION_KEYS = (
    "notes",
    "callability",
    "limit",
    "lines",
    "marker",
    "label",
    "summary",
    "license",
    "only",
    "upload",
    "thread",
    "build",
    "colour",
    "sample_input",
)
JUNK = (
    "&",
    "&amp;",
    "<",
    ">",
    '"',
    "'",
    "“curly”",
    "\n",
    "line1\nline2",
    "`code`",
    "```",
    "*bold*",
    "~",
    "🚀",
    "日本語",
    "\u202e",
    "\x00",
    "..",
    "-1",
    "0",
    "99999999999999999999",
    "x" * 3000,
    "=",
    "a=b=c",
)


def _piece(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.3:
        return rng.choice(HOSTILE)
    if kind < 0.55:
        return rng.choice(JUNK)
    if kind < 0.75:
        return rng.choice(NAMES)
    return rng.choice(BUILD_IDS)


def _quoted(value: str, rng: random.Random) -> str:
    if rng.random() < 0.5 and '"' not in value:
        return f'"{value}"'
    return value.replace(" ", "_")


def corpus(seed: int = SEED, count: int = COUNT) -> list[str]:
    """The same `count` command texts for the same seed."""
    rng = random.Random(seed)
    texts: list[str] = []
    for _ in range(count):
        if rng.random() < 0.15:
            # Well-formed but for the build id: these reach Algorithmia only if the id is valid.
            build_id = rng.choice(BUILD_IDS)
            template = rng.choice(("build demo/hello {}", "logs demo/hello {}", "publish demo/hello build={}"))
            texts.append(template.format(_quoted(build_id, rng) if " " in build_id else build_id))
            continue
        sub = rng.choice(SUBCOMMANDS) if rng.random() < 0.9 else _piece(rng)
        parts = [sub]
        if rng.random() < 0.85:
            roll = rng.random()
            parts.append("demo/hello" if roll < 0.35 else rng.choice(NAMES) if roll < 0.8 else _piece(rng))
        if rng.random() < 0.5:
            parts.append(rng.choice(BUILD_IDS) if rng.random() < 0.6 else _piece(rng))
        for _ in range(rng.choice((0, 0, 1, 2))):
            key = rng.choice(OPTION_KEYS)
            parts.append(f"{key}={_quoted(_piece(rng), rng)}")
        if rng.random() < 0.1:
            parts.append(_piece(rng))
        texts.append(" ".join(parts))
    return texts


def test_the_corpus_is_seeded_and_covers_the_hostile_pieces():
    texts = corpus()
    assert texts == corpus() and len(texts) >= 300
    joined = "\n".join(texts)
    for piece in HOSTILE:
        assert piece in joined
    assert any(t.startswith("frobnicate <") or t.startswith("<") for t in texts)


# -- the served bot, with a sandbox whose every request path is recorded ---------------------------


@pytest.fixture
def sandbox(tmp_path, serve_wsgi) -> Iterator[RunningSandbox]:
    """The sandbox behind a recorder of every request's method and decoded path."""
    box = Sandbox(tmp_path / "sandbox-data", hold_builds=False)
    server = SandboxServer(box, host="127.0.0.1", port=0).start()
    seen: list[tuple[str, str]] = []
    inner = box.wsgi_app

    def recording(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        seen.append((str(environ.get("REQUEST_METHOD")), str(environ.get("PATH_INFO"))))
        return inner(environ, start_response)

    running = RunningSandbox(url=serve_wsgi(recording), sandbox=box, server=server)
    running.seen = seen  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        server.close()
        box.close()


DELIVERIES = ("response_url", "chat.postEphemeral", "chat.postMessage", "views.open", "files.completeUploadExternal")


def _delivered(bot) -> int:
    return sum(1 for call in bot.slack.calls() if call.method in DELIVERIES)


@pytest.fixture
def fuzzed(bot, created_algorithm) -> dict[str, Any]:
    """Send the whole corpus, one command at a time, waiting for each one's reply."""
    acks = []
    for index, text in enumerate(corpus()):
        sub = text.split(" ", 1)[0]
        user = MEMBER if index % 2 or sub in ("allow", "deny") else ADMIN
        before = _delivered(bot)
        response = bot.command(text, user=user)
        acks.append((text, response.status_code, response.text))
        response.close()
        # A parse error is answered in the ack itself (with blocks); anything else sends a reply.
        if response.status_code < 500 and '"blocks"' not in response.text:
            bot.slack.wait_for(lambda before=before: _delivered(bot) > before, timeout=10)
    return {"acks": acks}


def _everything_read(bot) -> Iterator[tuple[str, str]]:
    """(where, text) for every message, modal and file comment anyone received."""
    for channel in bot.slack.channels():
        for message in bot.slack.messages(channel.id, include_ephemeral_for=True):
            yield f"{channel.id} {message.source}", message_text(message) + json.dumps(message.blocks or [])
    for view in bot.slack.views(open_only=False):
        yield "view", json.dumps(view.to_dict())


def test_fuzzed_commands_never_echo_a_control_sequence_nor_fail(bot, fuzzed):
    server_errors = [(text, status) for text, status, _ in fuzzed["acks"] if status >= 500]
    assert not server_errors
    leaks = [(text[:120], token) for text, _, body in fuzzed["acks"] for token in FORBIDDEN if token in body]
    for where, text in _everything_read(bot):
        leaks += [(where, token) for token in FORBIDDEN if token in text]
    assert not leaks, leaks[:10]
    refused = [
        (c.method, c.response)
        for c in bot.slack.calls()
        if isinstance(c.response, dict) and not c.response.get("ok", True)
    ]
    assert not refused, refused[:5]


USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
ALGO_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
BUILD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
GIT_HASH = re.compile(r"[0-9a-f]{4,40}")


def _invalid_request(path: str) -> str | None:
    """Why a management request's path is not one algobot should send, or None when it is well formed."""
    parts = path.split("/")
    if parts[:3] != ["", "v1", "algorithms"]:
        return None
    rest = parts[3:]
    shapes = {
        1: (USER_NAME,),
        2: (USER_NAME, ALGO_NAME),
        3: (USER_NAME, ALGO_NAME, re.compile("builds|versions|compile")),
        4: (USER_NAME, ALGO_NAME, re.compile("builds|versions"), BUILD_ID),
        5: (USER_NAME, ALGO_NAME, re.compile("builds"), BUILD_ID, re.compile("logs")),
    }
    shape = shapes.get(len(rest))
    if shape is None:
        return f"unexpected path {path!r}"
    if len(rest) == 4 and rest[2] == "versions":
        shape = (*shape[:3], GIT_HASH)
    for pattern, part in zip(shape, rest, strict=True):
        if not pattern.fullmatch(part):
            return f"{part!r} in {path!r}"
    return None


def test_fuzzed_commands_send_no_unvalidated_request(bot, fuzzed):
    paths = [path for _, path in bot.sandbox.seen]
    assert any("/builds/" in path for path in paths)  # the corpus does reach build lookups
    bad = [why for path in paths if (why := _invalid_request(path))]
    assert not bad, bad[:10]
