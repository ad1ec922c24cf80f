"""The build poller: finds builds of watched algorithms, follows each until it ends, and queues
exactly one notice per (channel, build, final status) in the outbox.

One `Poller.run(now)` is one poll cycle. The clock and every collaborator are passed in, so tests
drive cycles directly without a scheduler or real time. Polling is per algorithm, not per build:

- one list request (first page, newest first) per (endpoint, key, algorithm) that is due: it both
  discovers new builds and reports the status of every tracked build it shows. All the tracked
  builds of that algorithm in that channel are claimed with it and get its next poll time, so they
  share one schedule; other channels watching the algorithm with the same key and endpoint join the
  request and its schedule (a different key is a different authority, so it gets its own request);
- one GET for a tracked build the list did not show;
- one logs request for a build that has ended (in a later cycle if its GET was this cycle's), so
  no build costs more than one request in any cycle, and one request per build serves every channel;
- one versions request per (endpoint, key, algorithm) watched for releases, at most once a minute,
  and every cycle for a while after a build of it succeeded (a release follows a build): a version
  newer than the newest one a subscription has seen becomes a release notice.

A subscription also keeps the algorithm's previous final build result and its failing streak, which
``only=changes`` filters on and build notices show ("Broken since …", "Fixed after N failed builds").

Requests run concurrently on a bounded thread pool; all database work stays on the calling thread,
one transaction per phase (claims, list, GET, logs, health). Durable state is only in the database
(see `algobot.notify.store`), claimed per row so two pollers on one database never act on the same
build. Due work is found through indexes (see migration 0008), so a cycle costs what is due.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from algobot import audit, blocks, messages
from algobot.algorithmia import (
    FINAL_BUILD_STATUSES,
    AlgorithmiaClient,
    AlgorithmiaError,
    ApiUnavailable,
    Forbidden,
    NotFound,
    Unauthorized,
)
from algobot.channels import ChannelRef, ChannelStore
from algobot.crypto import KeyCipher
from algobot.notify import store
from algobot.notify.types import (
    DONE,
    DROPPED,
    FINAL,
    TRACKING,
    NewBuild,
    NoticePart,
    wants_build,
    wants_releases,
)
from algobot.parsing import UsageError
from algobot.settings import Settings
from algobot.store import Store, open_store

log = logging.getLogger(__name__)

LIST_PAGE = 50
CLAIM_LEASE = 120.0
OUTAGE_NOTICE_AFTER = 15 * 60
STILL_RUNNING_AFTER = 2 * 60 * 60
BACKOFF_CAP = 300.0
LOG_ATTEMPTS = 3
RELEASE_INTERVAL = 60.0  # a watched algorithm's versions are listed at most this often...
RELEASE_BURST = 150.0  # ...except for this long after one of its builds succeeded (a release may follow)
RELEASE_PAGE = 10


def poll_interval(age: float, base: float) -> float:
    """Young builds are polled every `base` seconds; long ones less often, up to 6 × base."""
    return min(base * 6, base * (1 + int(age // 300)))


@dataclass
class CycleReport:
    """What one cycle did (for logs, health and the benchmark)."""

    requests: int = 0
    list_requests: int = 0  # one per (channel, algorithm) polled
    build_requests: int = 0  # GETs of builds the list did not show, and logs of ended builds
    builds_polled: int = 0
    discovered: int = 0
    notices: int = 0
    release_requests: int = 0  # one per (endpoint, key, algorithm) whose versions were listed
    skipped_groups: int = 0


@dataclass
class _Group:
    """One (channel, algorithm) polled this cycle."""

    ref: ChannelRef
    algorithm: str
    subscription: dict[str, Any] | None = None
    builds: list[dict[str, Any]] = field(default_factory=list)
    key: str | None = None
    endpoint: str = ""
    joined: bool = False  # not due itself: rides on another channel's list request
    failed: bool = False  # a request for it failed this cycle (refused key, algorithm gone): no more of them
    next_at: float = 0.0  # when its list request is due again

    @property
    def request(self) -> tuple[str, str, str]:
        """Groups with the same request share one list request (and one GET, one log per build)."""
        return (self.endpoint, self.key or "", self.algorithm)


def _text(text: str) -> list[NoticePart]:
    """A one-message notice."""
    return [NoticePart.of("post", blocks.text_message(text))]


def _iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).isoformat()


def _age(row: dict[str, Any], now: float) -> float:
    started = row.get("started_at")
    if started:
        try:
            return now - datetime.fromisoformat(str(started).replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return now - float(row["first_seen_at"])


def _semver(text: Any) -> tuple[int, ...] | None:
    """A published version's number as comparable integers (versions only ever go up), or None."""
    parts = str(text or "").split(".")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)


def _version_text(number: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in number)


def _mentions(subscription: dict[str, Any] | None) -> bool:
    """Whether notices may ping people: on unless the channel watched with ``mention=off``."""
    return subscription is None or bool(subscription.get("mention", 1))


def release_attribution(db: Store, ref: ChannelRef, algorithm: str, version: str, *, mention: bool = True) -> str:
    """Who released a version, from the audit trail of the channel's workspace: "requested by @a,
    approved by @b" for an approved request, "published from Slack by @x", else "published outside
    Slack" (with the person mapped to the algorithm's owner, when mentions are on)."""
    for row in audit.releases(db, ref.team_id, algorithm):
        if row["version"] == version:
            return attribution_of(row)
    owner = store.slack_user_of(db, ref, algorithm.split("/")[0]) if mention else None
    return messages.RELEASE_OUTSIDE_SLACK + (f" · {messages.release_owner(owner)}" if owner else "")


def attribution_of(release: dict[str, Any]) -> str:
    """The attribution of a release the audit trail records (`audit.releases` row)."""
    requested_by = (release.get("arguments") or {}).get("requested_by")
    if requested_by:
        return messages.release_requested_and_approved(str(requested_by), str(release["user_id"]))
    return messages.release_published_by(str(release["user_id"]))


class Poller:
    """Runs poll cycles against Algorithmia for every channel with subscriptions or tracked builds."""

    def __init__(
        self,
        settings: Settings,
        cipher: KeyCipher,
        *,
        api_factory: Callable[[str, str], AlgorithmiaClient] | None = None,
        executor: Executor | None = None,
        workers: int = 32,
        poller_id: str | None = None,
        rng: random.Random | None = None,
    ):
        self.settings = settings
        self.cipher = cipher
        self.poller_id = poller_id or uuid.uuid4().hex[:12]
        self.rng = rng or random.Random()
        self.executor = executor or ThreadPoolExecutor(max_workers=workers, thread_name_prefix="algobot-poll")
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=16, pool_maxsize=max(workers, 10))
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self.api_factory = api_factory or self._default_client

    def _default_client(self, key: str, endpoint: str) -> AlgorithmiaClient:
        # No retries inside a cycle: the poller backs off per endpoint across cycles instead.
        return AlgorithmiaClient(
            key, endpoint, max_retries=0, connect_timeout=3.0, read_timeout=10.0, session=self._session
        )

    def close(self) -> None:
        self._session.close()

    def _jitter(self, seconds: float) -> float:
        return seconds * self.rng.uniform(0.9, 1.1)

    # -- the cycle ---------------------------------------------------------------------------

    def run(self, now: float) -> CycleReport:
        """One poll cycle at time `now` (UNIX seconds)."""
        report = CycleReport()
        db = open_store(self.settings.database_location)
        try:
            with db.transaction("poll", what="claiming due builds"):  # the claims of one cycle: one transaction
                groups = self._load_groups(db, now)
            if groups:
                self._cycle(db, groups, now, report)
            store.release_claims(db, self.poller_id)
        finally:
            db.close()
        return report

    def _load_groups(self, db: Store, now: float) -> dict[tuple[ChannelRef, str], _Group]:
        """The (channel, algorithm) pairs to poll now, each with every tracked build of it claimed."""
        groups: dict[tuple[ChannelRef, str], _Group] = {}
        for sub in store.due_subscriptions(db, now):
            ref = store.ref_of(sub)
            groups.setdefault((ref, sub["algorithm"]), _Group(ref, sub["algorithm"])).subscription = sub
        for row in store.claim_due_builds(db, self.poller_id, now, CLAIM_LEASE):
            ref = store.ref_of(row)
            group = groups.setdefault((ref, row["algorithm"]), _Group(ref, row["algorithm"]))
            group.builds.append(row)
            if group.subscription is None:
                group.subscription = store.subscription(db, ref, row["algorithm"])
        # Other channels watching these algorithms join when their key and endpoint are the same:
        # the one list request made anyway serves them, and from then on they share its schedule.
        for sub in store.watchers_of(db, sorted({algorithm for _, algorithm in groups})):
            ref = store.ref_of(sub)
            if (ref, sub["algorithm"]) not in groups:
                groups[(ref, sub["algorithm"])] = _Group(ref, sub["algorithm"], subscription=sub, joined=True)
        channels = ChannelStore(db, self.cipher)
        credentials: dict[ChannelRef, Any] = {}
        for group in groups.values():
            if group.ref not in credentials:
                credentials[group.ref] = channels.api_key(group.ref)
            found = credentials[group.ref]
            if found is not None:
                group.key = found[0]
                group.endpoint = found[1] or self.settings.algorithmia_api
        due = {group.request for group in groups.values() if not group.joined and group.key is not None}
        groups = {k: g for k, g in groups.items() if not g.joined or g.request in due}
        for group in groups.values():
            if group.key is not None:  # the list reports all of them: they ride on its schedule
                group.builds.extend(
                    store.claim_algorithm_builds(db, group.ref, group.algorithm, self.poller_id, now, CLAIM_LEASE)
                )
        return groups

    def _cycle(self, db: Store, groups: dict[tuple[ChannelRef, str], _Group], now: float, report: CycleReport) -> None:
        """The phases of a cycle: each makes its requests concurrently, then writes in one transaction."""
        endpoints: dict[str, dict[str, Any]] = {}
        active = self._reachable(db, groups, endpoints, now, report)
        outcome: dict[str, str] = {}  # endpoint -> "ok" | "down"
        requested: set[int] = set()  # tracked rows that cost a request this cycle
        missing = self._list_phase(db, active, outcome, now, report)
        self._get_phase(db, missing, outcome, requested, now, report)
        self._log_phase(db, groups, outcome, requested, now, report)
        self._release_phase(db, active, outcome, now, report)
        with db.transaction("poll", what="recording a poll cycle"):
            self._still_running(db, groups, now, report)
            self._endpoint_health(db, groups, endpoints, outcome, now, report)

    def _reachable(
        self,
        db: Store,
        groups: dict[tuple[ChannelRef, str], _Group],
        endpoints: dict[str, dict[str, Any]],
        now: float,
        report: CycleReport,
    ) -> list[_Group]:
        """Groups with a key whose endpoint is not backing off."""
        active: list[_Group] = []
        for group in groups.values():
            if group.key is None:
                continue  # no key (logged out): nothing can be polled until /algo login
            state = endpoints.setdefault(group.endpoint, store.endpoint_state(db, group.endpoint))
            if float(state.get("next_attempt_at") or 0) > now:
                report.skipped_groups += 1
                continue
            active.append(group)
        return active

    def _list_phase(
        self, db: Store, active: list[_Group], outcome: dict[str, str], now: float, report: CycleReport
    ) -> list[tuple[_Group, dict[str, Any]]]:
        """A: one list request per (endpoint, key, algorithm) that discovers or follows running builds.

        Returns the tracked builds the first page did not show."""
        listing = [g for g in active if g.subscription is not None or any(b["state"] == TRACKING for b in g.builds)]
        self._schedule(listing, now)
        pages = self._shared(
            listing, lambda g: g.request, lambda g: self._client(g).builds(g.algorithm, limit=LIST_PAGE)
        )
        report.list_requests += len({g.request for g in listing})
        report.requests += len({g.request for g in listing})
        missing: list[tuple[_Group, dict[str, Any]]] = []
        with db.transaction("poll", what="recording a poll cycle"):
            for group, result in zip(listing, pages, strict=True):
                if isinstance(result, Exception):
                    self._api_failure(db, group, result, outcome, now, report)
                    continue
                outcome.setdefault(group.endpoint, "ok")
                missing.extend(self._apply_listing(db, group, result.get("results") or [], now, report))
        return missing

    def _schedule(self, listing: list[_Group], now: float) -> None:
        """One next poll time per list request: every build and subscription it serves shares it.

        A watched algorithm is listed every interval; otherwise the youngest running build sets the pace.
        Jitter only shortens the interval, so no build is seen later than the interval allows."""
        base = self.settings.poll_seconds
        interval: dict[tuple[str, str, str], float] = {}
        for group in listing:
            if group.subscription is not None:
                wanted = base
            else:
                wanted = min(
                    (poll_interval(_age(b, now), base) for b in group.builds if b["state"] == TRACKING), default=base
                )
            interval[group.request] = min(interval.get(group.request, wanted), wanted)
        when = {request: now + seconds * self.rng.uniform(0.85, 1.0) for request, seconds in interval.items()}
        for group in listing:
            group.next_at = when[group.request]

    def _get_phase(
        self,
        db: Store,
        missing: list[tuple[_Group, dict[str, Any]]],
        outcome: dict[str, str],
        requested: set[int],
        now: float,
        report: CycleReport,
    ) -> None:
        """B: a GET for each tracked build the first page did not show (one per build, however many channels)."""
        missing = [(g, b) for g, b in missing if outcome.get(g.endpoint) != "down"]
        got = self._per_build(
            missing, lambda group, build_id: self._client(group).build(group.algorithm, build_id), report
        )
        with db.transaction("poll", what="recording a poll cycle"):
            for (group, row), result in zip(missing, got, strict=True):
                requested.add(row["id"])
                report.builds_polled += 1
                if isinstance(result, NotFound):
                    store.update_build(db, row["id"], state=DROPPED)
                    self._enqueue(
                        db,
                        group.ref,
                        f"gone:{group.ref}:{row['build_id']}",
                        "gone",
                        _text(messages.build_gone_notice(group.algorithm, row["build_id"])),
                        now,
                        report,
                    )
                elif isinstance(result, Exception):
                    self._api_failure(db, group, result, outcome, now, report)
                else:
                    outcome.setdefault(group.endpoint, "ok")
                    self._observe(db, row, result, now, group.next_at)

    def _log_phase(
        self,
        db: Store,
        groups: dict[tuple[ChannelRef, str], _Group],
        outcome: dict[str, str],
        requested: set[int],
        now: float,
        report: CycleReport,
    ) -> None:
        """C: logs (and the notice) for builds that have ended and cost nothing yet this cycle."""
        finals = self._finals(db, groups, requested, outcome, now)
        logs = self._per_build(
            finals, lambda group, build_id: self._client(group).build_logs(group.algorithm, build_id), report
        )
        with db.transaction("poll", what="recording a poll cycle"):
            for (group, row), result in zip(finals, logs, strict=True):
                if isinstance(result, NotFound):
                    attempts = int(row.get("polls") or 0) + 1
                    if attempts < LOG_ATTEMPTS:
                        store.update_build(db, row["id"], polls=attempts, next_poll_at=now + self.settings.poll_seconds)
                        continue
                    result = ""
                elif isinstance(result, Exception):
                    self._api_failure(db, group, result, outcome, now, report)
                    continue
                outcome.setdefault(group.endpoint, "ok")
                self._notify_final(db, group, row, str(result), now, report)

    def _release_phase(
        self, db: Store, active: list[_Group], outcome: dict[str, str], now: float, report: CycleReport
    ) -> None:
        """D: one versions request per (endpoint, key, algorithm) whose release check is due.

        Due once a minute, or every cycle for a while after a build of it succeeded. Every channel
        watching it with the same key is served by the request and takes its schedule. A version newer
        than the newest one a subscription has seen becomes one notice (deduplicated like build notices,
        so exactly once across restarts and pollers); a subscription without a baseline takes one."""
        watching = [
            g
            for g in active
            if g.subscription is not None
            and not g.failed
            and wants_releases(g.subscription.get("only"))
            and outcome.get(g.endpoint) != "down"
        ]
        due = {g.request for g in watching if float(g.subscription.get("next_release_at") or 0) <= now}
        checking = [g for g in watching if g.request in due]
        if not checking:
            return
        pages = self._shared(
            checking,
            lambda g: g.request,
            lambda g: self._client(g).versions(g.algorithm, limit=RELEASE_PAGE, published=True),
        )
        report.release_requests += len(due)
        report.requests += len(due)
        with db.transaction("poll", what="recording a poll cycle"):
            for group, result in zip(checking, pages, strict=True):
                if isinstance(result, Exception):
                    self._api_failure(db, group, result, outcome, now, report)
                    continue
                outcome.setdefault(group.endpoint, "ok")
                self._apply_versions(db, group, result.get("results") or [], now, report)

    def _apply_versions(
        self, db: Store, group: _Group, versions: list[dict[str, Any]], now: float, report: CycleReport
    ) -> None:
        sub = self._fresh(db, group)
        if sub is None:  # unwatched meanwhile
            return
        burst = float(sub.get("release_burst_until") or 0) > now
        interval = self.settings.poll_seconds if burst else max(RELEASE_INTERVAL, self.settings.poll_seconds)
        seen = sub.get("release_seen")
        numbered = [(v, _semver((v.get("version_info") or {}).get("semantic_version"))) for v in versions]
        numbered = [(v, n) for v, n in numbered if n is not None]
        newest = max((n for _, n in numbered), default=None)
        fields: dict[str, Any] = {"next_release_at": now + interval}
        if seen is None:  # no baseline yet (watching from before releases were reported): history
            fields["release_seen"] = _version_text(newest) if newest else ""
        else:
            floor = _semver(seen) or ()
            for version, number in sorted(numbered, key=lambda item: item[1]):
                if number > floor:
                    self._notify_release(db, group, version, _version_text(number), now, report)
            if newest is not None and newest > floor:
                fields["release_seen"] = _version_text(newest)
        store.update_subscription(db, sub, **fields)

    def _notify_release(
        self, db: Store, group: _Group, version: dict[str, Any], number: str, now: float, report: CycleReport
    ) -> None:
        attribution = release_attribution(db, group.ref, group.algorithm, number, mention=_mentions(group.subscription))
        notice = blocks.release_notice_message(group.algorithm, version, attribution)
        key = f"release:{group.ref}:{group.algorithm}:{number}"
        self._enqueue(db, group.ref, key, "release", [NoticePart.of("post", notice)], now, report)

    # -- steps ---------------------------------------------------------------------------------

    def _client(self, group: _Group) -> AlgorithmiaClient:
        assert group.key is not None
        return self.api_factory(group.key, group.endpoint)

    def _per_build(
        self,
        pairs: list[tuple[_Group, dict[str, Any]]],
        call: Callable[[_Group, str], Any],
        report: CycleReport,
    ) -> list[Any]:
        """`_shared` for one request per build (however many channels track it), counted once in ``report``."""
        results = self._shared(
            pairs, lambda gb: (gb[0].request, gb[1]["build_id"]), lambda gb: call(gb[0], gb[1]["build_id"])
        )
        unique = len({(group.request, build["build_id"]) for group, build in pairs})
        report.build_requests += unique
        report.requests += unique
        return results

    def _shared(self, items: list[Any], key: Callable[[Any], Any], call: Callable[[Any], Any]) -> list[Any]:
        """One API call per distinct key, run concurrently; each item gets its key's result.

        Exceptions come back as values. All database work stays on the calling thread."""

        def guarded(item: Any) -> Any:
            try:
                return call(item)
            except (AlgorithmiaError, UsageError) as exc:  # a stored name the client refuses is per item too
                return exc

        unique: dict[Any, Any] = {}
        for item in items:
            unique.setdefault(key(item), item)
        results = dict(zip(unique, self.executor.map(guarded, unique.values()), strict=True))
        return [results[key(item)] for item in items]

    def _apply_listing(
        self, db: Store, group: _Group, results: list[dict[str, Any]], now: float, report: CycleReport
    ) -> list[tuple[_Group, dict[str, Any]]]:
        """Update tracked builds from a list page and discover new ones; return builds not on it."""
        by_id = {str(b.get("build_id")): b for b in results}
        tracked_here = {row["build_id"]: row for row in group.builds}
        for build_id, row in tracked_here.items():
            if row["state"] == TRACKING and build_id in by_id:
                report.builds_polled += 1
                self._observe(db, row, by_id[build_id], now, group.next_at)
        if group.subscription is not None:
            known = store.known_build_ids(db, group.ref, group.algorithm, among=list(by_id))
            for build_id, build in by_id.items():
                if build_id in known:
                    continue
                new = NewBuild.from_api(group.algorithm, build, news=True)
                next_at = group.next_at if new.state == TRACKING else None  # an ended one: its log this cycle
                report.discovered += int(store.track(db, group.ref, new, now, next_poll_at=next_at))
            store.set_next_discovery(db, group.subscription, group.next_at)
        return [
            (group, row) for build_id, row in tracked_here.items() if row["state"] == TRACKING and build_id not in by_id
        ]

    def _observe(self, db: Store, row: dict[str, Any], build: dict[str, Any], now: float, next_at: float) -> None:
        """Record what the API says of a tracked build: still running (polled again at `next_at`, with
        its algorithm), or ended (notice pending)."""
        status = str(build.get("status") or row["status"])
        fields: dict[str, Any] = {
            "status": status,
            "commit_sha": build.get("commit_sha") or row.get("commit_sha"),
            "started_at": build.get("started_at") or row.get("started_at"),
            "finished_at": build.get("finished_at"),
        }
        if status in FINAL_BUILD_STATUSES:
            fields["state"] = FINAL
            fields["polls"] = 0
            fields["next_poll_at"] = now  # the log is fetched this cycle or the next
        else:
            fields["next_poll_at"] = next_at
        store.update_build(db, row["id"], **fields)
        row.update(fields)

    def _finals(
        self,
        db: Store,
        groups: dict[tuple[ChannelRef, str], _Group],
        requested: set[int],
        outcome: dict[str, str],
        now: float,
    ) -> list[tuple[_Group, dict[str, Any]]]:
        finals = []
        for group in groups.values():
            if group.key is None or outcome.get(group.endpoint) == "down":
                continue
            for row in group.builds:
                if row["state"] == FINAL and row["id"] not in requested:
                    finals.append((group, row))
            if group.subscription is not None:  # builds this cycle discovered already ended
                for row in store.claim_algorithm_builds(
                    db, group.ref, group.algorithm, self.poller_id, now, CLAIM_LEASE
                ):
                    group.builds.append(row)
                    if row["state"] == FINAL:
                        finals.append((group, row))
        # In the order they ran, so "the previous final build" of a watched algorithm is the one before.
        return sorted(finals, key=lambda pair: (str(pair[1].get("started_at") or ""), pair[1]["id"]))

    def _wanted(self, group: _Group, row: dict[str, Any], changed: bool) -> bool:
        """The subscription's only= filter applies to builds found by watching."""
        if row["origin"] == "compile":
            return True
        return wants_build((group.subscription or {}).get("only"), row["status"], changed=changed)

    def _follow_result(self, db: Store, group: _Group, row: dict[str, Any], now: float) -> tuple[bool, str | None]:
        """Record a watched algorithm's final build: whether its result changed (or it is the first since
        watching), and where it stands ("Broken since …", "Fixed after N failed builds").

        A success also makes the algorithm's versions be checked every cycle for a while: a release
        follows a successful build."""
        sub = self._fresh(db, group)
        if sub is None:
            return True, None
        status = row["status"]
        changed = sub.get("last_result") is None or sub.get("last_result") != status
        failures = int(sub.get("streak_failures") or 0)
        fields: dict[str, Any] = {"last_result": status}
        if status == "failed":
            commit = (sub.get("streak_commit") if failures else None) or row.get("commit_sha")
            failures += 1
            fields.update(streak_commit=commit, streak_failures=failures)
            streak = messages.broken_since(commit, failures)
        else:
            streak = messages.fixed_after(failures) if failures else None
            fields.update(streak_commit=None, streak_failures=0, release_burst_until=now + RELEASE_BURST)
            fields["next_release_at"] = min(float(sub.get("next_release_at") or 0), now)
        store.update_subscription(db, sub, **fields)
        return changed, streak

    def _fresh(self, db: Store, group: _Group) -> dict[str, Any] | None:
        """The group's subscription as committed now (callers hold the "poll" transaction, which
        serialises pollers), so another poller's streak or versions-seen update is never overwritten."""
        if group.subscription is None:
            return None
        row = store.subscription(db, group.ref, group.algorithm)
        if row is not None:
            group.subscription.update(row)
        return group.subscription if row is not None else None

    def _mention(self, db: Store, group: _Group, row: dict[str, Any]) -> str | None:
        """Whom a failed build pings: who started it from Slack, else the person who said (``/algo me``)
        they are the Algorithmia user owning the algorithm, unless the channel said ``mention=off``."""
        if row["status"] != "failed" or not _mentions(group.subscription):
            return None
        return row.get("started_by") or store.slack_user_of(db, group.ref, group.algorithm.split("/")[0])

    def _notify_final(
        self, db: Store, group: _Group, row: dict[str, Any], logs: str, now: float, report: CycleReport
    ) -> None:
        build = {k: row.get(k) for k in ("build_id", "status", "commit_sha", "started_at", "finished_at")}
        with db.transaction("poll", what="recording a poll cycle"):
            store.update_build(db, row["id"], state=DONE)
            changed, streak = self._follow_result(db, group, row, now)
            if not self._wanted(group, row, changed):
                return
            notice = blocks.build_notice_message(
                group.algorithm,
                build,
                started_by=row.get("started_by"),
                mention=self._mention(db, group, row),
                streak=streak,
            )
            tail = blocks.log_tail_message(logs, self.settings.log_tail_lines)
            first = NoticePart.of("update", notice, ts=row["message_ts"]) if row.get("message_ts") else None
            parts = [first or NoticePart.of("post", notice), NoticePart.of("thread", tail)]
            key = f"build:{group.ref}:{row['build_id']}:{row['status']}"
            if store.enqueue(db, group.ref, key, "build", parts, now):
                report.notices += 1

    def _enqueue(
        self,
        db: Store,
        ref: ChannelRef,
        key: str,
        kind: str,
        parts: list[NoticePart],
        now: float,
        report: CycleReport,
    ) -> None:
        if store.enqueue(db, ref, key, kind, parts, now):
            report.notices += 1

    def _api_failure(
        self, db: Store, group: _Group, error: Exception, outcome: dict[str, str], now: float, report: CycleReport
    ) -> None:
        group.failed = True
        if isinstance(error, (Unauthorized, Forbidden)):
            if not store.poll_state(db, group.ref).get("auth_failed"):
                store.set_poll_state(db, group.ref, auth_failed=1)
                config = ChannelStore(db, self.cipher).config(group.ref)
                key = f"auth:{group.ref}:{config.set_at if config else ''}"
                self._enqueue(
                    db,
                    group.ref,
                    key,
                    "auth",
                    _text(messages.AUTH_NOTICE),
                    now,
                    report,
                )
            return
        if isinstance(error, NotFound):  # the algorithm itself is gone (deleted, or invisible to this key)
            for row in group.builds:
                store.update_build(db, row["id"], state=DROPPED)
                row["state"] = DROPPED
            if group.subscription is not None:
                store.unsubscribe(db, group.ref, group.algorithm)
                notes = [
                    (f"algo-gone:{group.ref}:{group.algorithm}:{now}", messages.algorithm_gone_notice(group.algorithm))
                ]
            else:
                notes = [
                    (
                        f"gone:{group.ref}:{row['build_id']}",
                        messages.build_gone_notice(group.algorithm, row["build_id"]),
                    )
                    for row in group.builds
                ]
            for key, text in notes:
                self._enqueue(db, group.ref, key, "gone", _text(text), now, report)
            return
        if isinstance(error, ApiUnavailable):
            outcome[group.endpoint] = "down"
            return
        log.warning("poll of %s in %s failed: %r", group.algorithm, group.ref, error)

    def _still_running(
        self, db: Store, groups: dict[tuple[ChannelRef, str], _Group], now: float, report: CycleReport
    ) -> None:
        for group in groups.values():
            for row in group.builds:
                if (
                    row["state"] == TRACKING
                    and not row["long_running_notified"]
                    and _age(row, now) > STILL_RUNNING_AFTER
                ):
                    store.update_build(db, row["id"], long_running_notified=1)
                    text = messages.still_running_notice(
                        group.algorithm, row["build_id"], int(STILL_RUNNING_AFTER // 3600)
                    )
                    self._enqueue(
                        db,
                        group.ref,
                        f"long:{group.ref}:{row['build_id']}",
                        "long",
                        _text(text),
                        now,
                        report,
                    )

    def _endpoint_health(
        self,
        db: Store,
        groups: dict[tuple[ChannelRef, str], _Group],
        endpoints: dict[str, dict[str, Any]],
        outcome: dict[str, str],
        now: float,
        report: CycleReport,
    ) -> None:
        """Back off per endpoint; tell each affected channel once after 15 minutes, and once on recovery."""
        refs_by_endpoint: dict[str, set[ChannelRef]] = {}
        for group in groups.values():
            if group.key is not None:
                refs_by_endpoint.setdefault(group.endpoint, set()).add(group.ref)
        for endpoint, state in endpoints.items():
            result = outcome.get(endpoint)
            if result == "down":
                failures = int(state.get("failures") or 0) + 1
                state.update(
                    failing_since=state.get("failing_since") or now,
                    failures=failures,
                    next_attempt_at=now
                    + self._jitter(min(BACKOFF_CAP, self.settings.poll_seconds * 2 ** (failures - 1))),
                )
                store.save_endpoint_state(db, state)
            elif result == "ok" and state.get("failing_since"):
                since = state["failing_since"]
                for ref in refs_by_endpoint.get(endpoint, ()):
                    if store.poll_state(db, ref).get("outage_notified"):
                        store.set_poll_state(db, ref, outage_notified=0)
                        self._enqueue(
                            db,
                            ref,
                            f"recovered:{ref}:{since}",
                            "recovery",
                            _text(messages.recovery_notice(endpoint)),
                            now,
                            report,
                        )
                state.update(failing_since=None, failures=0, next_attempt_at=0.0)
                store.save_endpoint_state(db, state)
            since = state.get("failing_since")
            if since and now - float(since) >= OUTAGE_NOTICE_AFTER:
                for ref in refs_by_endpoint.get(endpoint, ()):
                    if not store.poll_state(db, ref).get("outage_notified"):
                        store.set_poll_state(db, ref, outage_notified=1)
                        minutes = int((now - float(since)) // 60)
                        self._enqueue(
                            db,
                            ref,
                            f"outage:{ref}:{since}",
                            "outage",
                            _text(messages.outage_notice(endpoint, minutes)),
                            now,
                            report,
                        )
