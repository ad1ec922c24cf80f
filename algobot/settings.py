"""Every setting algobot reads from its environment, declared once as a table.

Each field of `Settings` is one row: its environment variable, type (the annotation), default,
help, and how a value is read and checked. `Settings.from_env` reads the environment through that
table, and `algobot settings --env-example` / `--markdown` render deploy/env.example and the
README's settings table from it (a test fails when either differs from what the table renders).
The environment is read once, where a command starts (`algobot.cli.main`), and passed down.
Secrets are excluded from the repr so a logged or printed Settings never shows them.
The rows share one ``setting(NAME, default, help, group, read=..., ...)`` shape on purpose (a deliberate
mirror, which `duplicates` reports as shape-alike pairs): each declares one variable.
"""

from __future__ import annotations

import argparse
import os
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlparse

from algobot.algorithmia import DEFAULT_API

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it and says how to fix it."""


# -- readers: (variable name, non-blank text) -> value, or SettingsError naming the variable ----------


def _text(name: str, value: str) -> str:
    return value


def _url(name: str, value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(f"{name} must be an http(s) URL, not '{value}'.")
    return value


def _slack_api_url(name: str, value: str) -> str:
    return _url(name, value if value.endswith("/") else value + "/")  # the SDK joins method names onto it


def _api_url(name: str, value: str) -> str:
    return _url(name, value).rstrip("/")


def _whole(minimum: int) -> Callable[[str, str], int]:
    def read(name: str, value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, not '{value}'.") from None
        if number < minimum:
            raise SettingsError(f"{name} must be at least {minimum}, not {number}.")
        return number

    return read


def _choice(*choices: str, case: Callable[[str], str] = str.lower) -> Callable[[str, str], str]:
    def read(name: str, value: str) -> str:
        if case(value) not in choices:
            raise SettingsError(f"{name} must be one of {', '.join(choices)}, not '{value}'.")
        return case(value)

    return read


def _user_ids(name: str, value: str) -> frozenset[str]:
    return frozenset(value.replace(",", " ").split())


_AUDIT_CHANNEL = re.compile(r"^(?:([TE][A-Z0-9]+)/)?([CG][A-Z0-9]+)$")


def _audit_channel(name: str, value: str) -> str:
    if not _AUDIT_CHANNEL.match(value):
        raise SettingsError(
            f"{name} must be a Slack channel id such as C0123ABCD (with OAuth, the team too: "
            f"T0123ABCD/C0123ABCD), not '{value}'."
        )
    return value


def _database_url(name: str, value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("postgresql", "postgres", "postgresql+psycopg") or not parsed.path.strip("/"):
        raise SettingsError(
            f"{name} must be a PostgreSQL URL such as postgresql://algobot@db/algobot "
            "(unset it to use SQLite at ALGOBOT_DB)."
        )
    return value


def _app_token(name: str, value: str) -> str:
    if not value.startswith("xapp-"):
        raise SettingsError(f"{name} must be an app-level token starting with 'xapp-' (Basic Information).")
    return value


# -- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One row of the table: what the environment variable is, and how it is read and documented."""

    env: str  # the environment variable
    help: str  # what it is, in Markdown (README table, env.example comment)
    section: str  # its heading in env.example
    read: Callable[[str, str], Any] = _text
    secret: bool = False  # never in a repr, a log line or a message
    unset: str | None = None  # what the docs say instead of the default when there is no default value
    fill_in: bool = False  # env.example lists it uncommented, to be filled in
    attr: str = ""  # the Settings field (set by SETTINGS)
    type: str = ""  # its annotation (set by SETTINGS)
    default: Any = None  # (set by SETTINGS)


def setting(env: str, default: Any, help: str, section: str, **options: Any) -> Any:
    """A `Settings` field that is a row of the table."""
    row = Setting(env, help, section, **options)
    return field(default=default, repr=not row.secret, metadata={"setting": row})


SLACK = "Slack"
STORAGE = "Storage and encryption"
ALGORITHMIA = "Algorithmia"
PERMISSIONS = "Permissions"
SERVING = "Serving"
NOTIFICATIONS = "Build notifications"
LOGGING = "Logging"


@dataclass(frozen=True)
class Settings:
    """Everything algobot reads from its environment: one field a setting, in the order of the docs.

    Each field is a row of the table, so the declarations below share one shape on purpose.
    """

    slack_bot_token: str | None = setting(
        "SLACK_BOT_TOKEN",
        None,
        'the bot token (`xoxb-…`), from "OAuth & Permissions" after installing the app; not used with OAuth '
        "(`SLACK_CLIENT_ID` and `SLACK_CLIENT_SECRET`), where each install brings its own token",
        SLACK,
        secret=True,
        unset="required for one workspace",
        fill_in=True,
    )
    slack_signing_secret: str | None = setting(
        "SLACK_SIGNING_SECRET",
        None,
        'the Signing Secret, from "Basic Information": verifies that HTTP requests come from Slack; required '
        "over HTTP (and for OAuth installs), optional in Socket Mode",
        SLACK,
        secret=True,
        unset="required over HTTP",
        fill_in=True,
    )
    # Socket Mode (an app-level token) instead of a public Request URL.
    slack_app_token: str | None = setting(
        "SLACK_APP_TOKEN",
        None,
        'app-level token (`xapp-…`, scope `connections:write`, from "Basic Information" → "App-Level '
        'Tokens"): set it to use Socket Mode, with no public URL (create the app from '
        "`deploy/slack-app-manifest-socket-mode.yml`); unset, Slack posts to `https://YOUR-HOST/slack/events`",
        SLACK,
        read=_app_token,
        secret=True,
        unset="unset (HTTP)",
    )
    # Multi-workspace installs through OAuth; the bot token then comes from each installation.
    slack_client_id: str | None = setting(
        "SLACK_CLIENT_ID",
        None,
        'with `SLACK_CLIENT_SECRET` (both from "Basic Information"): several workspaces install the app '
        "through `https://YOUR-HOST/slack/install` (OAuth; installations are kept in the database)",
        SLACK,
        unset="unset (one workspace)",
    )
    slack_client_secret: str | None = setting(
        "SLACK_CLIENT_SECRET", None, "the app's client secret, for OAuth", SLACK, secret=True, unset="unset"
    )
    slack_redirect_uri: str | None = setting(
        "SLACK_REDIRECT_URI",
        None,
        "with OAuth: where Slack sends an installer back (`https://YOUR-HOST/slack/oauth_redirect`)",
        SLACK,
        read=_url,
        unset="the app's configured Redirect URL (the manifest sets it)",
    )
    slack_api_url: str = setting(
        "SLACK_API_URL",
        DEFAULT_SLACK_API_URL,
        "Slack's Web API base URL; change it only to point at a local Slack double",
        SLACK,
        read=_slack_api_url,
    )
    db_path: str = setting(
        "ALGOBOT_DB",
        "./algobot.db",
        "the SQLite database, created and migrated at start; keep it on a local disk of the one host that "
        "runs algobot (Docker image: `/data/algobot.db`; systemd unit: `/var/lib/algobot/algobot.db`)",
        STORAGE,
    )
    # PostgreSQL instead of the SQLite file: the shared store of several replicas. None: SQLite at db_path.
    database_url: str | None = setting(
        "ALGOBOT_DATABASE_URL",
        None,
        "a PostgreSQL URL (`postgresql://USER:PASSWORD@HOST/DB`): every piece of state lives there instead of "
        'the SQLite file, so several replicas can share it (see "PostgreSQL and several replicas"); needs '
        "`ALGOBOT_SECRET_KEY`, the same in every replica",
        STORAGE,
        read=_database_url,
        secret=True,
        unset="unset (SQLite at `ALGOBOT_DB`)",
    )
    secret_key: str | None = setting(
        "ALGOBOT_SECRET_KEY",
        None,
        "key that encrypts stored API keys and OAuth tokens and seals the audit trail: a Fernet key (used as "
        'is; `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"` '
        "makes one) or any passphrase (stretched with scrypt and a random salt kept in the database, so a "
        "restored backup still opens with it); when unset, a key file `<db>.key` is generated beside the "
        "database with mode 0600 and a warning is logged: back it up with the database (`algobot backup` "
        "does). Changing it makes the stored API keys unreadable (channels must `/algo login` again) and the "
        "audit trail unverifiable; `algobot audit verify` needs it",
        STORAGE,
        secret=True,
        unset="generated",
    )
    # Where the daily audit checkpoint is posted: "C0123" or, with OAuth, "T0123/C0123". None: not posted.
    audit_channel: str | None = setting(
        "ALGOBOT_AUDIT_CHANNEL",
        None,
        "a channel id (`C0123ABCD`; with OAuth `T0123ABCD/C0123ABCD`) where a daily audit checkpoint (row "
        "count and head hash) is posted, a record of the trail outside the database for `algobot audit "
        "verify --head --rows`; invite the bot there",
        STORAGE,
        read=_audit_channel,
        unset='unset (no checkpoint; the "audit head" log lines remain)',
    )
    algorithmia_api: str = setting(
        "ALGORITHMIA_API",
        DEFAULT_API,
        "the Algorithmia API endpoint for channels whose `/algo login` set none",
        ALGORITHMIA,
        read=_api_url,
    )
    admins: frozenset[str] = setting(
        "ALGOBOT_ADMINS",
        frozenset(),
        "Slack user ids (comma or space separated, e.g. `U0123ABCD,U0456EFGH`) allowed to configure any "
        "channel (login, logout, allow, deny) besides workspace admins and owners",
        PERMISSIONS,
        read=_user_ids,
        unset="none",
    )
    host: str = setting(
        "HOST",
        "0.0.0.0",
        "the interface `algobot serve` listens on (HTTP: `/slack/events`, `/healthz`, `/metrics`); "
        "`--host` overrides it",
        SERVING,
    )
    port: int = setting(
        "PORT", 3000, "the port `algobot serve` listens on; `--port` overrides it", SERVING, read=_whole(0)
    )
    command_workers: int = setting(
        "ALGOBOT_COMMAND_WORKERS",
        64,
        "commands, buttons and dialogs handled at once (each waits on Algorithmia after its ack)",
        SERVING,
        read=_whole(1),
    )
    command_queue: int = setting(
        "ALGOBOT_COMMAND_QUEUE",
        256,
        "how many more may wait for a free worker; beyond that the person is told at once that algobot is "
        "busy and to try again in a minute",
        SERVING,
        read=_whole(0),
    )
    poll_seconds: int = setting(
        "ALGOBOT_POLL_SECONDS",
        10,
        "how often a young build is polled (older ones less often, up to 6×) and watched algorithms are "
        "checked for new builds",
        NOTIFICATIONS,
        read=_whole(1),
    )
    log_tail_lines: int = setting(
        "ALGOBOT_LOG_TAIL_LINES",
        20,
        "lines of the build log quoted in a finished build's notice",
        NOTIFICATIONS,
        read=_whole(1),
    )
    log_level: str = setting(
        "ALGOBOT_LOG_LEVEL",
        "INFO",
        "`DEBUG`, `INFO`, `WARNING` or `ERROR` (any case); `algobot --log-level LEVEL …` overrides it. At "
        "`INFO` the log holds algobot's own events; other libraries (APScheduler, Bolt, waitress, urllib3) "
        "show only warnings and errors unless the level is `DEBUG`",
        LOGGING,
        read=_choice(*LOG_LEVELS, case=str.upper),
    )
    log_format: str = setting(
        "ALGOBOT_LOG_FORMAT",
        "text",
        "`text` (one readable line per event), or `json` (one object per line) for log collectors; secrets "
        "are scrubbed from both",
        LOGGING,
        read=_choice("text", "json"),
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the environment; raise SettingsError naming the first bad value.

        A variable that is unset or blank takes the table's default.
        """
        env = os.environ if env is None else env
        values = {}
        for row in SETTINGS:
            text = (env.get(row.env) or "").strip()
            if text:
                values[row.attr] = row.read(row.env, text)
        settings = cls(**values)
        if settings.database_url and not settings.secret_key:
            # Replicas would each generate their own key file and could not read each other's keys.
            raise SettingsError(
                "ALGOBOT_SECRET_KEY is not set: with ALGOBOT_DATABASE_URL every replica needs the same secret key."
            )
        return settings

    @property
    def database_location(self) -> str:
        """Where the state lives, for `algobot.store.connect`: the PostgreSQL URL, else the SQLite path."""
        return self.database_url or self.db_path

    @property
    def socket_mode(self) -> bool:
        """Slack's requests arrive over a Socket Mode WebSocket (SLACK_APP_TOKEN is set)."""
        return bool(self.slack_app_token)

    @property
    def oauth_enabled(self) -> bool:
        """Workspaces install the app through /slack/install (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set)."""
        return bool(self.slack_client_id and self.slack_client_secret)

    def require_slack(self) -> None:
        """The bot cannot serve Slack without these; say which one is missing.

        Over HTTP Slack's requests are verified with the signing secret; in Socket Mode they arrive
        over the app token's connection and the signing secret is optional. With OAuth the bot token
        of each workspace comes from its installation, so SLACK_BOT_TOKEN is not needed.
        """
        for name, value, partner in (
            ("SLACK_CLIENT_ID", self.slack_client_id, self.slack_client_secret),
            ("SLACK_CLIENT_SECRET", self.slack_client_secret, self.slack_client_id),
        ):
            if partner and not value:
                raise SettingsError(f"{name} is not set: OAuth needs both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET.")
        required = []
        if not self.socket_mode:
            required.append(("SLACK_SIGNING_SECRET", self.slack_signing_secret))
        if not self.oauth_enabled:
            required.append(("SLACK_BOT_TOKEN", self.slack_bot_token))
        for name, value in required:
            if not value:
                raise SettingsError(f"{name} is not set: copy it from your Slack app's settings page.")
        if self.audit_channel and self.oauth_enabled and "/" not in self.audit_channel:
            raise SettingsError(
                "ALGOBOT_AUDIT_CHANNEL needs the channel's team with OAuth installs, e.g. T0123ABCD/C0123ABCD."
            )

    def secrets(self) -> list[str]:
        """The values that must never appear in logs or messages (used by tests and log filters)."""
        values = [getattr(self, row.attr) for row in SETTINGS if row.secret]
        values.append(urlparse(self.database_url).password if self.database_url else None)  # alone, too
        return [value for value in values if value]


SETTINGS: tuple[Setting, ...] = tuple(
    replace(f.metadata["setting"], attr=f.name, type=str(f.type), default=f.default) for f in fields(Settings)
)

# -- rendering: deploy/env.example and the README's table ---------------------------------------------

ENV_EXAMPLE_INTRO = """\
# algobot's environment: every setting, with its default and meaning.
# Generated by `algobot settings --env-example` from the table in algobot/settings.py: edit that, not this.
#
# Copy to /etc/algobot/env (systemd: EnvironmentFile=; Docker: --env-file; Heroku-style hosts: config
# vars) and fill in the required ones. KEY=VALUE per line, no quotes, no `export`; lines starting with
# # are comments, so a commented-out line shows the default that applies when it is unset. Keep the file
# readable only by root and the service (mode 0640, group algobot): it holds secrets.
# A missing or malformed setting stops start-up with one line naming it."""
WIDTH = 100


def shown_default(row: Setting) -> str:
    """The default as it would be written in the environment ("" for none)."""
    if row.default is None:
        return ""
    if isinstance(row.default, frozenset):
        return ",".join(sorted(row.default))
    return str(row.default)


def _comment(text: str) -> list[str]:
    return textwrap.wrap(
        text, WIDTH, initial_indent="# ", subsequent_indent="# ", break_long_words=False, break_on_hyphens=False
    )


def env_example() -> str:
    """deploy/env.example: each setting's help as a comment, then the variable (commented out: its default)."""
    lines = [ENV_EXAMPLE_INTRO]
    section = None
    for row in SETTINGS:
        if row.section != section:
            section = row.section
            heading = f"# --- {section} "
            lines += ["", heading + "-" * (WIDTH - len(heading))]
        lines += _comment(row.help[0].upper() + row.help[1:] + ".")
        if row.unset:
            lines += _comment(f"Default: {row.unset}.")
        lines.append(f"{'' if row.fill_in else '# '}{row.env}={shown_default(row)}")
    return "\n".join(lines) + "\n"


def markdown_table() -> str:
    """The README's settings table (section "Settings")."""
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for row in SETTINGS:
        default = row.unset or f"`{shown_default(row)}`"
        lines.append(f"| `{row.env}` | {default} | {row.help} |")
    return "\n".join(lines) + "\n"


def _print_table(args: argparse.Namespace) -> int:
    print(args.render(), end="")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "settings", help="print the settings table, as deploy/env.example or as the README's Markdown table"
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--env-example", dest="render", action="store_const", const=env_example, help="as env.example")
    what.add_argument("--markdown", dest="render", action="store_const", const=markdown_table, help="as Markdown")
    parser.set_defaults(handler=_print_table)
