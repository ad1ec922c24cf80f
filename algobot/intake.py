"""Request intake: the bounded hand-off from the request thread (which acks) to the command workers.

Slack wants every ack within 3 s, whatever Algorithmia is doing. So listeners run on the request
thread (Bolt's ``process_before_response``), ack, and hand the real work to a `WorkQueue`:

- at most ``workers`` items run at once and at most ``capacity`` more wait; anything beyond is
  refused at once (`submit` returns False) so the listener can say "busy" instead of going silent;
- work that never calls Algorithmia (help, status, login's dialog, allow…) goes to a small lane of
  its own (``lane="local"``, LOCAL_WORKERS threads), so it is answered even while every command
  worker waits on a slow Algorithmia (and `/algo login` opens its dialog before the trigger expires);
- acks come first: a worker about to start an item waits until no request has been acked for
  QUIET_SECONDS (at most ACKS_FIRST_SECONDS), so a burst of commands is acked before the CPU goes
  to the commands it admitted (one GIL: starting 64 commands at once otherwise delays the acks);
- every admitted item has a deadline counted from its admission: an item still waiting then is never
  run, and one still running is reported, through its ``on_timeout`` callback, so the person who
  asked is told either way. A running Python thread cannot be stopped; its slot stays taken until
  it returns (the Algorithmia client's own timeouts bound that);
- on shutdown, running items finish and waiting ones are told they were not run (reason
  "stopping") instead of starting work the process's shutdown deadline would cut off.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field

from algobot import metrics

log = logging.getLogger(__name__)

DEADLINE_SECONDS = 90.0  # admission to answer; a response_url stays usable for 30 min, people give up sooner
QUEUE_FACTOR = 4  # waiting items allowed per worker when no capacity is given
WATCHDOG_SECONDS = 1.0  # how often deadlines are checked
QUIET_SECONDS = 0.02  # no ack for this long: the burst is over, work may start
ACKS_FIRST_SECONDS = 1.0  # longest a worker defers starting an item during a burst
LOCAL_WORKERS = 4  # the lane for work that never waits on Algorithmia ...
LOCAL_CAPACITY = 60  # ... and how many such items may wait
LANES = ("api", "local")


class AckPriority:
    """When the last request was acked, so workers can let a burst of acks go first."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self.last_ack = float("-inf")

    def acked(self) -> None:
        self.last_ack = self.clock()

    def wait_quiet(self, quiet: float = QUIET_SECONDS, limit: float = ACKS_FIRST_SECONDS) -> None:
        """Return once no ack happened for ``quiet`` seconds, or after ``limit`` seconds."""
        give_up = self.clock() + limit
        while True:
            now = self.clock()
            pause = min(self.last_ack + quiet, give_up) - now
            if pause <= 0:
                return
            self.sleep(pause)


ACKS = AckPriority()  # one per process: every Slack endpoint and every work queue share the CPU


@dataclass(order=True)
class _Item:
    due: float
    seq: int
    work: Callable[[], None] = field(compare=False)
    on_timeout: Callable[[str], None] = field(compare=False)  # called with "running", "waiting" or "stopping"
    lane: str = field(default="api", compare=False)
    state: str = field(default="queued", compare=False)  # queued | running | done | timed_out


class WorkQueue:
    """Runs submitted work with a bound on work in flight per lane and a deadline per item.

    The "api" lane runs on ``executor`` (``workers`` + ``capacity`` items at once), the "local" lane
    on ``local_executor`` (default: ``executor`` too) with ``local_limit`` items at once.
    """

    def __init__(
        self,
        executor: Executor,
        *,
        workers: int,
        capacity: int | None = None,
        deadline: float = DEADLINE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        watchdog: bool = True,
        local_executor: Executor | None = None,
        local_limit: int = LOCAL_WORKERS + LOCAL_CAPACITY,
    ):
        self.executor = executor
        self.local_executor = local_executor
        self.workers = workers
        self.capacity = workers * QUEUE_FACTOR if capacity is None else capacity
        self.local_limit = local_limit
        self.deadline = deadline
        self.clock = clock
        self._lock = threading.Lock()
        self._in_flight = dict.fromkeys(LANES, 0)
        self._seq = itertools.count()
        self._due: list[_Item] = []
        self._stopping = threading.Event()
        self._refused: dict[tuple[str, str], int] = {}
        self._refusals_logged_at = float("-inf")
        # Timeout notices go out from their own small pool, so a slow Slack never delays the watchdog.
        self._notices = ThreadPoolExecutor(max_workers=2, thread_name_prefix="algobot-notice")
        self._watchdog: threading.Thread | None = None
        if watchdog:
            self._watchdog = threading.Thread(target=self._watch, name="algobot-deadlines", daemon=True)
            self._watchdog.start()

    @classmethod
    def threaded(cls, workers: int, capacity: int | None = None, **kwargs) -> WorkQueue:
        """A queue with its own pool of ``workers`` threads, and LOCAL_WORKERS for the local lane."""
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="algobot-command")
        local = ThreadPoolExecutor(max_workers=LOCAL_WORKERS, thread_name_prefix="algobot-local")
        return cls(pool, workers=workers, capacity=capacity, local_executor=local, **kwargs)

    @property
    def limit(self) -> int:
        """Items admitted at once in the "api" lane: running plus waiting."""
        return self.workers + self.capacity

    @property
    def in_flight(self) -> int:
        with self._lock:
            return sum(self._in_flight.values())

    def submit(self, work: Callable[[], None], *, on_timeout: Callable[[str], None], lane: str = "api") -> bool:
        """Admit ``work`` unless its lane is full; False means it was refused and will never run."""
        limit = self.limit if lane == "api" else self.local_limit
        with self._lock:
            full = self._in_flight[lane] >= limit
            admitted = not full and not self._stopping.is_set()
            if admitted:
                self._in_flight[lane] += 1
                item = _Item(self.clock() + self.deadline, next(self._seq), work, on_timeout, lane=lane)
                heapq.heappush(self._due, item)
        if admitted:
            executor = self.local_executor if lane == "local" and self.local_executor is not None else self.executor
            try:
                executor.submit(self._run, item)
                return True
            except RuntimeError:  # the executor is shutting down
                self._finish(item, "done")
        reason = "busy" if full else "stopping"
        metrics.COMMANDS_NOT_ANSWERED.labels(reason=reason).inc()
        with self._lock:
            self._refused[(reason, lane)] = self._refused.get((reason, lane), 0) + 1
        self._log_refusals(at_most_every=WATCHDOG_SECONDS)
        return False

    def _log_refusals(self, at_most_every: float) -> None:
        """One warning line per second at most for refused commands, however many a burst brings."""
        with self._lock:
            now = self.clock()
            if not self._refused or now - self._refusals_logged_at < at_most_every:
                return
            counts, self._refused, self._refusals_logged_at = self._refused, {}, now
        for (reason, lane), count in sorted(counts.items()):
            limit = self.limit if lane == "api" else self.local_limit
            log.warning("%d command(s) refused (%s): %d running or waiting is the limit", count, reason, limit)

    def _run(self, item: _Item) -> None:
        with self._lock:
            if item.state != "queued":  # its deadline passed while it waited: already told
                self._in_flight[item.lane] -= 1
                return
            if self._stopping.is_set():  # shutting down: tell, rather than start work that may be cut off
                item.state = "timed_out"
                self._in_flight[item.lane] -= 1
                metrics.COMMANDS_NOT_ANSWERED.labels(reason="stopping").inc()
                self._notices.submit(_logged, lambda: item.on_timeout("stopping"))
                return
            item.state = "running"
        ACKS.wait_quiet()
        try:
            item.work()
        finally:
            self._finish(item, "done")

    def _finish(self, item: _Item, state: str) -> None:
        with self._lock:
            if item.state != "timed_out":
                item.state = state
            self._in_flight[item.lane] -= 1

    def check_deadlines(self) -> int:
        """Tell the owner of every item past its deadline; returns how many were reported."""
        now = self.clock()
        expired = []
        with self._lock:
            while self._due and self._due[0].due <= now:
                item = heapq.heappop(self._due)
                if item.state in ("queued", "running"):
                    was = item.state
                    item.state = "timed_out"
                    expired.append((item, was))
            # Finished items are dropped lazily; keep the heap from growing without bound.
            if len(self._due) > 4 * (self.limit + self.local_limit):
                self._due = [i for i in self._due if i.state in ("queued", "running")]
                heapq.heapify(self._due)
        for item, was in expired:
            reason = "running" if was == "running" else "waiting"
            metrics.COMMANDS_NOT_ANSWERED.labels(reason=reason).inc()
            log.warning("command past its %.0f s deadline (%s)", self.deadline, reason)
            self._notices.submit(_logged, lambda item=item, reason=reason: item.on_timeout(reason))
        return len(expired)

    def notify(self, send: Callable[[], object]) -> None:
        """Send a short Slack message (a notice, a modal) off the request thread, outside the queue."""
        self._notices.submit(_logged, send)

    def _watch(self) -> None:
        while not self._stopping.wait(WATCHDOG_SECONDS):
            self.check_deadlines()
            self._log_refusals(at_most_every=0)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def shutdown(self, wait: bool = True) -> None:
        """Refuse new work and tell waiting items; with ``wait``, return once running work has finished."""
        self._stopping.set()
        self._log_refusals(at_most_every=0)
        if self.local_executor is not None:
            self.local_executor.shutdown(wait=wait)
        self.executor.shutdown(wait=wait)
        self._notices.shutdown(wait=wait)


def _logged(send: Callable[[], object]) -> None:
    """Nobody waits on a notice's future, so a failure to send one is logged here, not lost."""
    try:
        send()
    except Exception:
        log.exception("could not send a notice to Slack")
