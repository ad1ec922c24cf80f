"""One settings object, read from the environment once and validated at start.

Every setting is documented in README.md ("Settings"). Secrets are excluded from the repr so a
logged or printed Settings never shows them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

from algobot.algorithmia import DEFAULT_API

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it and says how to fix it."""


def _url(name: str, value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(f"{name} must be an http(s) URL, not '{value}'.")
    return value


def _int(name: str, value: str, *, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not '{value}'.") from None
    if number < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {number}.")
    return number


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not '{value}'.")
    return value


_AUDIT_CHANNEL = re.compile(r"^(?:([TE][A-Z0-9]+)/)?([CG][A-Z0-9]+)$")


def _audit_channel(value: str | None) -> str | None:
    if value is not None and not _AUDIT_CHANNEL.match(value):
        raise SettingsError(
            f"ALGOBOT_AUDIT_CHANNEL must be a Slack channel id such as C0123ABCD (with OAuth, the team too: "
            f"T0123ABCD/C0123ABCD), not '{value}'."
        )
    return value


def _database_url(value: str | None, secret_key: str | None) -> str | None:
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("postgresql", "postgres", "postgresql+psycopg") or not parsed.path.strip("/"):
        raise SettingsError(
            "ALGOBOT_DATABASE_URL must be a PostgreSQL URL such as postgresql://algobot@db/algobot "
            "(unset it to use SQLite at ALGOBOT_DB)."
        )
    if not secret_key:
        # Replicas would each generate their own key file and could not read each other's keys.
        raise SettingsError(
            "ALGOBOT_SECRET_KEY is not set: with ALGOBOT_DATABASE_URL every replica needs the same secret key."
        )
    return value


def _app_token(value: str | None) -> str | None:
    if value is not None and not value.startswith("xapp-"):
        raise SettingsError("SLACK_APP_TOKEN must be an app-level token starting with 'xapp-' (Basic Information).")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything algobot reads from its environment."""

    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    db_path: str = "./algobot.db"
    # PostgreSQL instead of the SQLite file: the shared store of several replicas. None: SQLite at db_path.
    database_url: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    algorithmia_api: str = DEFAULT_API
    admins: frozenset[str] = frozenset()
    host: str = "0.0.0.0"
    port: int = 3000
    poll_seconds: int = 10
    log_tail_lines: int = 20
    command_workers: int = 64
    command_queue: int = 256
    log_format: str = "text"
    # Where the daily audit checkpoint is posted: "C0123" or, with OAuth, "T0123/C0123". None: not posted.
    audit_channel: str | None = None
    # Socket Mode (an app-level token) instead of a public Request URL.
    slack_app_token: str | None = field(default=None, repr=False)
    # Multi-workspace installs through OAuth; the bot token then comes from each installation.
    slack_client_id: str | None = None
    slack_client_secret: str | None = field(default=None, repr=False)
    slack_redirect_uri: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the environment; raise SettingsError naming the first bad value."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value and value.strip() else None

        api_url = get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
        if not api_url.endswith("/"):
            api_url += "/"
        admins = frozenset(
            part.strip() for part in (get("ALGOBOT_ADMINS") or "").replace(",", " ").split() if part.strip()
        )
        return cls(
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_api_url=_url("SLACK_API_URL", api_url),
            db_path=get("ALGOBOT_DB") or "./algobot.db",
            database_url=_database_url(get("ALGOBOT_DATABASE_URL"), get("ALGOBOT_SECRET_KEY")),
            secret_key=get("ALGOBOT_SECRET_KEY"),
            algorithmia_api=_url("ALGORITHMIA_API", get("ALGORITHMIA_API") or DEFAULT_API).rstrip("/"),
            admins=admins,
            host=get("HOST") or "0.0.0.0",
            port=_int("PORT", get("PORT") or "3000", minimum=0),
            poll_seconds=_int("ALGOBOT_POLL_SECONDS", get("ALGOBOT_POLL_SECONDS") or "10", minimum=1),
            log_tail_lines=_int("ALGOBOT_LOG_TAIL_LINES", get("ALGOBOT_LOG_TAIL_LINES") or "20", minimum=1),
            command_workers=_int("ALGOBOT_COMMAND_WORKERS", get("ALGOBOT_COMMAND_WORKERS") or "64", minimum=1),
            command_queue=_int("ALGOBOT_COMMAND_QUEUE", get("ALGOBOT_COMMAND_QUEUE") or "256", minimum=0),
            log_format=_choice("ALGOBOT_LOG_FORMAT", (get("ALGOBOT_LOG_FORMAT") or "text").lower(), ("text", "json")),
            audit_channel=_audit_channel(get("ALGOBOT_AUDIT_CHANNEL")),
            slack_app_token=_app_token(get("SLACK_APP_TOKEN")),
            slack_client_id=get("SLACK_CLIENT_ID"),
            slack_client_secret=get("SLACK_CLIENT_SECRET"),
            slack_redirect_uri=_url("SLACK_REDIRECT_URI", uri) if (uri := get("SLACK_REDIRECT_URI")) else None,
        )

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
        values = (
            self.slack_bot_token,
            self.slack_signing_secret,
            self.secret_key,
            self.slack_app_token,
            self.slack_client_secret,
            urlparse(self.database_url).password if self.database_url else None,
        )
        return [s for s in values if s]
