"""Git side of the sandbox: bare repositories served over smart HTTP by dulwich; a push starts a build.

Every algorithm owns a bare repository at ``DATA/repos/{user}/{algo}.git``, served at
``{public}/git/{user}/{algo}.git`` by dulwich's WSGI smart-HTTP server (`dulwich.web`), so the
real ``git`` binary can clone from and push to it.

**Git needs no authentication on the sandbox**: anyone who can reach the port can clone, push
and, through a pushed ``build.sh``, run code on this machine. That is why the sandbox listens on
127.0.0.1 by default; do not expose it.

How a push starts a build: dulwich's ``ReceivePackHandler`` writes the pushed refs and then calls
``repo.hooks["post-receive"].execute(updated_refs)`` (``dulwich/server.py``,
``_on_post_receive``). `SandboxGitBackend` opens each repository itself and installs a Python
hook object there in place of the shell hooks, so every accepted push to the default branch calls
back into the sandbox, which records a build and starts it in a thread. Whatever the hook returns
is sent to the pusher on the side band, so ``git push`` prints ``remote: sandbox: build … started``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from dulwich.errors import NotGitRepository
from dulwich.hooks import Hook
from dulwich.index import commit_tree
from dulwich.objects import S_ISGITLINK, Blob, Commit
from dulwich.repo import Repo
from dulwich.server import Backend
from dulwich.web import make_wsgi_chain

from algobot.algorithmia import AlgorithmiaError, split_algo_name

log = logging.getLogger(__name__)

DEFAULT_BRANCH = b"refs/heads/master"
BUILD_BRANCHES = (b"refs/heads/master", b"refs/heads/main")
SANDBOX_AUTHOR = b"algobot sandbox <sandbox@localhost>"

# (user, algo, commit_sha, ref) -> a line for the pusher
PushCallback = Callable[[str, str, str, bytes], str]


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
        text = os.fsdecode(path).strip("/")
        if text.endswith(".git"):
            text = text[: -len(".git")]
        try:
            user, algo = split_algo_name(text)
        except AlgorithmiaError:
            raise NotGitRepository(f"no repository at {text!r}") from None
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


def make_git_app(data_dir: Path, on_push: PushCallback) -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
    """dulwich's smart-HTTP WSGI app over the sandbox's repositories (mount it at ``/git``).

    A backend per request, so the repositories a request opened are closed with its response.
    """

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        backend = SandboxGitBackend(data_dir, on_push)
        return _ClosingResponse(make_wsgi_chain(backend)(environ, start_response), backend)

    return app
