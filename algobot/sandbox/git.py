"""Git side of the sandbox: bare repositories served over smart HTTP by dulwich; a push starts a build.

Every algorithm owns a bare repository at ``DATA/repos/{user}/{algo}.git``, served at
``{public}/git/{user}/{algo}.git`` by dulwich's WSGI smart-HTTP server (`dulwich.web`), so the
real ``git`` binary can clone from and push to it.

**Git needs credentials**: HTTP Basic auth whose password is one of the user's API keys (the user
name is not checked; git wants one, so use the sandbox user). Without them every git request is
answered 401 with a ``WWW-Authenticate`` challenge, so git asks for them (or uses those in the URL,
``http://USER:KEY@HOST/git/USER/ALGO.git``). Only the owner may push, with a managing key; others
may clone an algorithm only when its source is open. A push larger than the sandbox's limit is
refused with a git error naming the limit, before dulwich reads it. Even so, a pushed ``build.sh``
runs on this machine: the sandbox is for local development only.

How a push starts a build: dulwich's ``ReceivePackHandler`` writes the pushed refs and then calls
``repo.hooks["post-receive"].execute(updated_refs)`` (``dulwich/server.py``,
``_on_post_receive``). `SandboxGitBackend` opens each repository itself and installs a Python
hook object there in place of the shell hooks, so every accepted push to the default branch calls
back into the sandbox, which records a build and starts it in a thread. Whatever the hook returns
is sent to the pusher on the side band, so ``git push`` prints ``remote: sandbox: build … started``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import stat
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

from dulwich.errors import NotGitRepository
from dulwich.hooks import Hook
from dulwich.index import commit_tree
from dulwich.objects import S_ISGITLINK, Blob, Commit
from dulwich.repo import Repo
from dulwich.server import Backend
from dulwich.web import HTTPGitApplication, make_wsgi_chain, url_prefix

from algobot.algorithmia import split_algo_name
from algobot.parsing import UsageError

log = logging.getLogger(__name__)

DEFAULT_BRANCH = b"refs/heads/master"
BUILD_BRANCHES = (b"refs/heads/master", b"refs/heads/main")
SANDBOX_AUTHOR = b"algobot sandbox <sandbox@localhost>"

# (user, algo, commit_sha, ref) -> a line for the pusher
PushCallback = Callable[[str, str, str, bytes], str]
# (owner, algo, key or None, write) -> None when allowed, else (HTTP status, sentence for git)
GitAuthorizer = Callable[[str, str, str | None, bool], tuple[int, str] | None]
DEFAULT_MAX_PUSH_BYTES = 50 * 1024 * 1024


def repo_path(data_dir: Path, user: str, algo: str) -> Path:
    """Where an algorithm's bare repository lives (names are validated by the caller)."""
    return Path(data_dir) / "repos" / user / f"{algo}.git"


def init_repo(path: Path) -> None:
    """Create an empty bare repository whose HEAD names the default branch (master)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(Repo.init_bare(str(path), mkdir=True)) as repo:
        repo.refs.set_symbolic_ref(b"HEAD", DEFAULT_BRANCH)


def default_branch(repo: Repo) -> bytes:
    """The branch HEAD points at: pushes to it build, as on Algorithmia."""
    return bytes(repo.refs.get_symrefs().get(b"HEAD", DEFAULT_BRANCH))


def head_commit(path: Path) -> str | None:
    """The commit of the default branch (or of master/main), None for an empty repository."""
    with contextlib.closing(Repo(str(path))) as repo:
        for ref in (default_branch(repo), *BUILD_BRANCHES):
            try:
                return bytes(repo.refs[ref]).decode("ascii")
            except KeyError:
                continue
    return None


def commit_files(
    path: Path,
    files: Mapping[str, str | bytes],
    message: str,
    *,
    executable: Collection[str] = (),
) -> str:
    """Commit ``files`` (path → content) as the whole tree on top of the default branch.

    Used to seed demo algorithms without a ``git`` binary; returns the new commit's sha.
    """
    with contextlib.closing(Repo(str(path))) as repo:
        entries = []
        for name, content in sorted(files.items()):
            data = content.encode("utf-8") if isinstance(content, str) else content
            blob = Blob.from_string(data)
            repo.object_store.add_object(blob)
            mode = 0o100755 if name in executable else 0o100644
            entries.append((name.encode("utf-8"), blob.id, mode))
        ref = default_branch(repo)
        try:
            parent: Any = repo.refs[ref]
        except KeyError:
            parent = None
        commit = Commit()
        commit.tree = commit_tree(repo.object_store, entries)
        commit.parents = [parent] if parent else []
        commit.author = commit.committer = SANDBOX_AUTHOR
        commit.author_time = commit.commit_time = int(time.time())
        commit.author_timezone = commit.commit_timezone = 0
        commit.message = message.encode("utf-8")
        repo.object_store.add_object(commit)
        repo.refs[ref] = commit.id
        return bytes(commit.id).decode("ascii")


def checkout(path: Path, commit_sha: str, dest: Path) -> list[str]:
    """Write the commit's tree into ``dest``; return notes on entries that were skipped.

    Submodules and symlinks are skipped (a symlink could point outside the scratch folder), and so
    is any path that would land outside ``dest``.
    """
    notes: list[str] = []
    root = dest.resolve()
    with contextlib.closing(Repo(str(path))) as repo:
        commit = repo[commit_sha.encode("ascii")]
        if not isinstance(commit, Commit):
            raise ValueError(f"{commit_sha} is not a commit")
        for entry in repo.object_store.iter_tree_contents(commit.tree):
            rel = entry.path.decode("utf-8", "replace")
            if S_ISGITLINK(entry.mode):
                notes.append(f"skipped submodule {rel}")
                continue
            if stat.S_ISLNK(entry.mode):
                notes.append(f"skipped symlink {rel}")
                continue
            target = (root / rel).resolve()
            if not target.is_relative_to(root):
                notes.append(f"skipped {rel}: outside the checkout")
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            blob = repo[entry.sha]
            target.write_bytes(blob.as_raw_string())
            if entry.mode & 0o111:
                os.chmod(target, 0o755)
    return notes


def _is_zero(sha: bytes) -> bool:
    return not sha.strip(b"0")


class _PostReceiveHook(Hook):
    """Called by dulwich after a push updated refs; starts a build for the default branch."""

    def __init__(self, repo: Repo, user: str, algo: str, on_push: PushCallback):
        self.repo = repo
        self.user = user
        self.algo = algo
        self.on_push = on_push

    def execute(self, client_refs: Sequence[tuple[bytes, bytes, bytes]]) -> bytes | None:  # type: ignore[override]
        lines: list[str] = []
        try:
            head = default_branch(self.repo)
            for _old, new, ref in client_refs:
                if _is_zero(new):
                    continue
                if ref != head:
                    if ref in BUILD_BRANCHES and head not in self.repo.refs:
                        # First push to main into a repository whose HEAD still names master.
                        self.repo.refs.set_symbolic_ref(b"HEAD", ref)
                        head = ref
                    else:
                        lines.append(f"sandbox: {ref.decode()} is not the default branch; no build started")
                        continue
                lines.append(self.on_push(self.user, self.algo, new.decode("ascii"), ref))
        except Exception as exc:  # a failing hook must not break the push that already happened
            log.exception("sandbox post-receive hook failed for %s/%s", self.user, self.algo)
            lines.append(f"sandbox: could not start a build ({type(exc).__name__})")
        return ("".join(f"{line}\n" for line in lines)).encode("utf-8") if lines else None


class SandboxGitBackend(Backend):
    """Maps ``/{user}/{algo}.git`` to the bare repository and installs the post-receive hook."""

    def __init__(self, data_dir: Path, on_push: PushCallback):
        self.data_dir = Path(data_dir)
        self.on_push = on_push
        self.opened: list[Repo] = []  # closed when the response is done (see make_git_app)

    def open_repository(self, path: str | bytes) -> Repo:  # type: ignore[override]
        name = _repo_name(os.fsdecode(path))
        if name is None:
            raise NotGitRepository(f"no repository at {os.fsdecode(path).strip('/')!r}")
        user, algo = name
        repo_dir = repo_path(self.data_dir, user, algo)
        if not (repo_dir / "HEAD").is_file():
            raise NotGitRepository(f"no repository for {user}/{algo}")
        repo = Repo(str(repo_dir))
        # Only our hook: never run shell hooks from the data directory.
        repo.hooks.clear()
        repo.hooks["post-receive"] = _PostReceiveHook(repo, user, algo, self.on_push)
        self.opened.append(repo)
        return repo


class _ClosingResponse:
    """The WSGI response of one git request; closes the repositories it opened when done."""

    def __init__(self, body: Iterable[bytes], backend: SandboxGitBackend):
        self._body = body
        self._backend = backend

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            for repo in self._backend.opened:
                repo.close()
            self._backend.opened.clear()


def make_git_app(
    data_dir: Path,
    on_push: PushCallback,
    *,
    authorize: GitAuthorizer | None = None,
    max_push_bytes: int | None = DEFAULT_MAX_PUSH_BYTES,
) -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
    """dulwich's smart-HTTP WSGI app over the sandbox's repositories (mount it at ``/git``).

    ``authorize`` sees every request for a repository before dulwich does (no callback: no
    checks, for embedding in tests of dulwich itself). A backend per request, so the
    repositories a request opened are closed with its response.
    """

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        target = _target(environ)
        if target is not None:
            user, algo, write = target
            if authorize is not None:
                refusal = authorize(user, algo, basic_auth_key(environ), write)
                if refusal is not None:
                    return _refuse(start_response, *refusal)
            size = _content_length(environ)
            too_large = max_push_bytes is not None and size > max_push_bytes
            if write and too_large and environ.get("REQUEST_METHOD") == "POST":
                log.info("sandbox refused a push of %d bytes to %s/%s (limit %d)", size, user, algo, max_push_bytes)
                return _refuse_push(environ, start_response, size, int(max_push_bytes or 0))
        backend = SandboxGitBackend(data_dir, on_push)
        return _ClosingResponse(make_wsgi_chain(backend)(environ, start_response), backend)

    return app


def authenticated_url(url: str, user: str, key: str) -> str:
    """``url`` with ``user:key@`` in it, for the local demo only: git shows it in ``git remote -v``."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}:{quote(key, safe='')}@{host}"))


def basic_auth_key(environ: Mapping[str, Any]) -> str | None:
    """The API key of a ``Basic`` Authorization header: the password, or the user name if alone."""
    parts = str(environ.get("HTTP_AUTHORIZATION") or "").split()
    if len(parts) != 2 or parts[0].lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(parts[1], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return password or user or None


def _repo_name(path: str) -> tuple[str, str] | None:
    """(owner, algo) of a repository path `owner/algo` or `owner/algo.git`, slashes around it ignored;
    None when it names no algorithm. The one parser for both `open_repository` and `_target`, so the
    access check and dulwich always agree on which repository a request is for."""
    text = path.strip("/")
    if text.endswith(".git"):
        text = text[: -len(".git")]
    try:
        return split_algo_name(text)
    except UsageError:
        return None


def _target(environ: Mapping[str, Any]) -> tuple[str, str, bool] | None:
    """(owner, algo, is a push) of a git request, found exactly as dulwich finds the repository.

    None when dulwich would not open a repository for it (it answers those 404 itself).
    """
    method = environ.get("REQUEST_METHOD")
    path = str(environ.get("PATH_INFO") or "")
    for (smethod, spath), _handler in HTTPGitApplication.services.items():
        if smethod != method:
            continue
        found = spath.search(path)
        if found is None or found.string[: found.start()].endswith("/"):
            continue
        name = _repo_name(url_prefix(found))
        if name is None:
            return None
        user, algo = name
        service = parse_qs(str(environ.get("QUERY_STRING") or "")).get("service", [""])[0]
        write = found.group().endswith("/git-receive-pack") or service == "git-receive-pack"
        return user, algo, write
    return None


def _content_length(environ: Mapping[str, Any]) -> int:
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _refuse(start_response: Any, status: int, message: str) -> list[bytes]:
    """A plain-text refusal; git shows its text after ``remote:``, and a 401 makes it ask for credentials."""
    body = f"{message}\n".encode()
    phrase = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}.get(status, "Error")
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    if status == 401:
        headers.append(("WWW-Authenticate", 'Basic realm="algobot sandbox", charset="UTF-8"'))
    start_response(f"{status} {phrase}", headers)
    return [body]


def _pkt(data: bytes) -> bytes:
    return f"{len(data) + 4:04x}".encode("ascii") + data


def _read_commands(stream: Any) -> tuple[list[bytes], set[bytes]]:
    """The refs and capabilities at the start of a receive-pack request (its pack is not read)."""
    refs: list[bytes] = []
    capabilities: set[bytes] = set()
    for _ in range(10_000):
        size_text = stream.read(4)
        try:
            size = int(size_text, 16)
        except ValueError:
            break
        if size < 4:  # flush: the commands end here
            break
        line = stream.read(size - 4)
        line, _, caps = line.rstrip(b"\n").partition(b"\0")
        if caps:
            capabilities.update(caps.split())
        fields = line.split(b" ")
        if len(fields) == 3:
            refs.append(fields[2])
    return refs, capabilities


def _refuse_push(environ: Mapping[str, Any], start_response: Any, size: int, limit: int) -> list[bytes]:
    """Answer a too-large push as git expects, so ``git push`` prints why each ref was rejected."""
    refs, capabilities = _read_commands(environ["wsgi.input"])
    mib = 1024 * 1024
    reason = f"push of {size / mib:.1f} MiB is larger than the sandbox's limit of {limit / mib:.1f} MiB".encode()
    report = _pkt(b"unpack " + reason + b"\n") + b"".join(_pkt(b"ng " + ref + b" " + reason + b"\n") for ref in refs)
    report += b"0000"
    if b"side-band-64k" in capabilities or b"side-band" in capabilities:
        chunk = 65000 if b"side-band-64k" in capabilities else 990
        body = _pkt(b"\x02sandbox: " + reason + b" (push less at a time, or raise --max-push-mb)\n")
        body += b"".join(_pkt(b"\x01" + report[i : i + chunk]) for i in range(0, len(report), chunk))
        body += b"0000"
    elif b"report-status" in capabilities:
        body = report
    else:
        body = b""
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/x-git-receive-pack-result"),
            ("Cache-Control", "no-cache"),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]
