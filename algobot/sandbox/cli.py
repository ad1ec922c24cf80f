"""``algobot sandbox``: serve the local Algorithmia; ``algobot sandbox key USER``: issue an API key.

Serving blocks until Ctrl-C or SIGTERM, then shuts down cleanly (stops listening, lets running
builds record their result). The `key` action prints only the key on stdout, so
``KEY=$(algobot sandbox key alice)`` works, and can run while a server uses the same data dir.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from algobot.sandbox import Sandbox, SandboxServer, create_key, seed_demo
from algobot.sandbox.git import authenticated_url

log = logging.getLogger(__name__)

DEFAULT_DATA = "./sandbox-data"


def _non_negative(kind: type) -> Any:
    def parse(text: str) -> Any:
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
        return value

    return parse


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``sandbox`` sub-command (and its ``key`` action) to the algobot parser.

    The ``add_argument`` calls below share one shape on purpose (a deliberate mirror): each declares
    one option, its checked type and its help, in the order ``--help`` lists them.
    """
    parser = subparsers.add_parser(
        "sandbox",
        help="run a local Algorithmia-compatible sandbox",
        description="Serve a local Algorithmia-compatible API (/v1) and git repositories (/git), for local "
        "development only. The sandbox RUNS PUSHED CODE on this machine (a pushed build.sh; Python's "
        "byte-compiler reads pushed files). On Linux as root each build gets its own PID and mount "
        "namespaces, a read-only view of the system and no view of the sandbox's data, and build.sh runs "
        "as nobody; elsewhere builds run as the user running the sandbox, with only a private folder, a "
        "minimal environment and a timeout. Git needs an API key as the HTTP password. Keep it on "
        "localhost and never expose it.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_non_negative(int), default=8080, help="port (default 8080; 0 = any)")
    parser.add_argument("--data", default=DEFAULT_DATA, help=f"state directory (default {DEFAULT_DATA})")
    parser.add_argument(
        "--build-delay",
        type=_non_negative(float),
        default=0.0,
        metavar="S",
        help="keep each build running S s",
    )
    parser.add_argument(
        "--latency-ms",
        type=_non_negative(float),
        default=0,
        metavar="N",
        help="delay every API answer by N ms",
    )
    parser.add_argument(
        "--fail-rate", type=_rate, default=0.0, metavar="P", help="answer this share of API requests 503"
    )
    parser.add_argument(
        "--build-timeout",
        type=_positive,
        default=300.0,
        metavar="S",
        help="kill a build and every process it started after S s (default 300)",
    )
    parser.add_argument(
        "--max-push-mb",
        type=_positive,
        default=50.0,
        metavar="N",
        help="refuse git pushes larger than N MiB (default 50)",
    )
    parser.add_argument("--public-url", default=None, help="URL clients use (default: from the Host header)")
    parser.add_argument("--demo", action="store_true", help="seed user demo, demo/hello and demo/broken")
    parser.set_defaults(handler=run_serve)

    actions = parser.add_subparsers(dest="sandbox_action", metavar="[key USER]", title="optional action")
    key = actions.add_parser("key", help="create an API key for USER and print it")
    key.add_argument("user", metavar="USER")
    key.add_argument("--no-manage", action="store_true", help="a key that may not manage algorithms")
    # SUPPRESS: `algobot sandbox --data X key alice` keeps X.
    key.add_argument("--data", default=argparse.SUPPRESS, help=f"state directory (default {DEFAULT_DATA})")
    key.set_defaults(handler=run_key)
    return parser


def run_key(args: argparse.Namespace) -> int:
    """Print a new key for the user, and nothing else, on stdout."""
    try:
        key = create_key(getattr(args, "data", DEFAULT_DATA), args.user, manage=not args.no_manage)
    except ValueError as exc:
        print(f"algobot sandbox key: {exc}", file=sys.stderr)
        return 2
    print(key, flush=True)
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run_serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM."""
    logging.getLogger("dulwich").setLevel(logging.WARNING)  # one INFO line per git request is noise
    if not _is_loopback(args.host):
        log.warning(
            "sandbox listening on %s: anyone who can reach it with a key can push code that runs here",
            args.host,
        )
    sandbox = Sandbox(
        args.data,
        build_delay=args.build_delay,
        latency_ms=args.latency_ms,
        fail_rate=args.fail_rate,
        public_url=args.public_url,
        build_timeout=args.build_timeout,
        max_push_bytes=int(args.max_push_mb * 1024 * 1024),
    )
    try:
        server = SandboxServer(sandbox, host=args.host, port=args.port)
    except OSError as exc:
        sandbox.close()
        print(f"algobot sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.start()
        url = args.public_url or server.url
        print(
            f"algobot sandbox serving {url} (data in {args.data}); Ctrl-C to stop. "
            "It runs pushed code on this machine: for local development only.",
            flush=True,
        )
        if args.demo:
            demo = seed_demo(sandbox)
            print(f"demo API key (user demo): {demo['key']}", flush=True)
            clone = authenticated_url(f"{url}/git/demo/hello.git", "demo", "KEY")
            print(
                f"  hint: export ALGORITHMIA_API={url} ALGORITHMIA_API_KEY=<the key above>, "
                f"then try {' and '.join(demo['algorithms'])} (git clone {clone}, with the key above as KEY)",
                flush=True,
            )
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.close()
        sandbox.close()
        print("algobot sandbox stopped", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m algobot.sandbox``: the same command without the rest of algobot's CLI."""
    parser = argparse.ArgumentParser(prog="python -m algobot.sandbox")
    subparsers = parser.add_subparsers(dest="command", required=True)
    register(subparsers)
    args = parser.parse_args(["sandbox", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return int(args.handler(args) or 0)
