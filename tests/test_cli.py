"""The `algobot` command line itself: --version, --log-level (and ALGOBOT_LOG_LEVEL), a reader that goes away."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from importlib import metadata

import pytest

from algobot import audit
from algobot.channels import ChannelRef
from algobot.cli import SIGPIPE_STATUS, main
from algobot.crypto import load_cipher
from algobot.db import database, migrate
from tests.fixtures.bot import clean_environ
from tests.fixtures.store import T0, TEST_SECRET


def test_version_prints_the_installed_package_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"algobot {metadata.version('algobot')}"


def test_an_unknown_log_level_is_refused_and_any_case_of_a_known_one_works(tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        main(["--log-level", "LOUD", "migrate", "--db", str(tmp_path / "a.db")])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "--log-level" in err and "'LOUD'" in err and "invalid choice" in err and "'DEBUG'" in err
    assert not (tmp_path / "a.db").exists()  # refused before doing anything

    assert main(["--log-level", "warning", "migrate", "--db", str(tmp_path / "b.db")]) == 0


@pytest.mark.slow
def test_audit_export_into_a_closed_pipe_exits_quietly(tmp_path):
    """`algobot audit export | head`: the reader has gone before algobot writes; no traceback."""
    db_path = tmp_path / "algobot.db"
    migrate(db_path)
    key = load_cipher(TEST_SECRET, db_path, logging.getLogger(__name__)).audit_key
    with database(db_path) as db:
        for day in range(1, 21):
            entry = audit.AuditEntry.in_channel(ChannelRef("T1", "C1"), user_id="U1", action="publish", source="cli")
            audit.record(db, entry, now=T0.replace(day=day), key=key)
    env = clean_environ() | {"ALGOBOT_DB": str(db_path), "ALGOBOT_SECRET_KEY": TEST_SECRET}
    reader, writer = os.pipe()
    os.close(reader)  # like `head` after its lines: nobody reads any more
    try:
        done = subprocess.run(
            [sys.executable, "-m", "algobot", "audit", "export"],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=60,
        )
    finally:
        os.close(writer)
    assert done.stderr == ""
    assert done.returncode == SIGPIPE_STATUS


def test_the_log_level_comes_from_algobot_log_level_and_the_flag_overrides_it(tmp_path, monkeypatch, capsys):
    info = logging.getLogger("algobot.test_cli")
    monkeypatch.setenv("ALGOBOT_LOG_LEVEL", "warning")
    assert main(["migrate", "--db", str(tmp_path / "a.db")]) == 0
    info.info("an INFO line")
    info.warning("a WARNING line")
    err = capsys.readouterr().err
    assert "a WARNING line" in err and "an INFO line" not in err

    assert main(["--log-level", "info", "migrate", "--db", str(tmp_path / "a.db")]) == 0  # the flag wins
    info.info("an INFO line")
    assert "an INFO line" in capsys.readouterr().err


def test_a_bad_algobot_log_level_is_named_by_the_command_that_needs_the_settings(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ALGOBOT_LOG_LEVEL", "loud")
    assert main(["migrate", "--db", str(tmp_path / "a.db")]) == 1
    err = capsys.readouterr().err
    assert "ALGOBOT_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, not 'loud'." in err
    assert not (tmp_path / "a.db").exists()
    assert main(["settings", "--markdown"]) == 0  # a command that does not need them still runs
