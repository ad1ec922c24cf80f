"""Writes the database refused past the retry bound, kept in memory until it answers.

It sits above `algobot.store` (it opens a store to write) and `algobot.db` (it catches
`DatabaseLocked`), so neither of those imports it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from algobot.db import DatabaseLocked
from algobot.store import connect

log = logging.getLogger(__name__)


class PendingWrites:
    """Records the database refused past the retry bound, kept in memory until it answers.

    Each write is a function of an open `algobot.store.Store`, run inside one write transaction; they are
    written in the order they were added (a tracked build before the message it updates). `flush` runs
    after each command, at each notification tick, and every ``retry_every`` seconds on a helper thread
    while anything waits (a web process without a poller may see no command for a while). They live
    only in this process: one that stops first loses them, which is why `add` logs each at ERROR level
    and `close` names the ones lost.
    """

    def __init__(self, path: str | os.PathLike[str], *, retry_every: float = 1.0) -> None:
        self.path = path
        self.retry_every = retry_every
        self._items: deque[tuple[str, Callable[[Any], None]]] = deque()
        self._guard = threading.Lock()
        self._flushing = threading.Lock()
        self._retrier: threading.Thread | None = None
        self._closed = threading.Event()

    def __len__(self) -> int:
        with self._guard:
            return len(self._items)

    def waiting(self) -> list[str]:
        """What is waiting, oldest first (for logs and shutdown)."""
        with self._guard:
            return [what for what, _ in self._items]

    def add(self, what: str, write: Callable[[Any], None]) -> None:
        with self._guard:
            self._items.append((what, write))
            waiting = len(self._items)
            if self._retrier is None or not self._retrier.is_alive():
                self._retrier = threading.Thread(target=self._retry, name="algobot-pending-writes", daemon=True)
                self._retrier.start()
        log.error(
            "could not write %s: the database is locked; kept in memory (%d waiting) until it answers", what, waiting
        )

    def _retry(self) -> None:
        while len(self) and not self._closed.wait(self.retry_every):
            self.flush()

    def flush(self) -> int:
        """Write what is waiting, in order, with one short try each; returns how many were written.

        Stops at the first write the database still refuses. A write failing for another reason is a
        defect: it is logged with its traceback and dropped, so it cannot block the ones after it.
        """
        if not len(self) or not self._flushing.acquire(blocking=False):
            return 0
        written = 0
        try:
            with connect(self.path) as db:
                while True:
                    with self._guard:
                        if not self._items:
                            break
                        what, write = self._items[0]
                    try:
                        with db.transaction("write", what=what, retry_seconds=0):
                            write(db)
                    except DatabaseLocked:
                        log.info("the database is still locked; %d record(s) wait in memory", len(self))
                        break
                    except Exception:
                        log.exception("dropped %s: writing it failed for a reason other than a lock", what)
                    else:
                        written += 1
                        log.warning("wrote %s, which had waited for the database", what)
                    with self._guard:
                        self._items.popleft()
        finally:
            self._flushing.release()
        return written

    def close(self) -> list[str]:
        """At shutdown: one last flush; returns (and logs at ERROR) what is lost with this process."""
        self._closed.set()
        self.flush()
        lost = self.waiting()
        for what in lost:
            log.error("lost at shutdown, the database never answered: %s", what)
        return lost


_PENDING: dict[str, PendingWrites] = {}
_PENDING_GUARD = threading.Lock()


def pending_writes(path: str | os.PathLike[str]) -> PendingWrites:
    """This process's queue of writes waiting for the database at ``path``."""
    name = os.fspath(path)
    key = name if "://" in name else os.path.realpath(name)
    with _PENDING_GUARD:
        if key not in _PENDING:
            _PENDING[key] = PendingWrites(path)
        return _PENDING[key]
