"""Building and serving the bot: settings → database → cipher → Bolt app → waitress."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import waitress
from waitress.server import BaseWSGIServer, MultiSocketServer

from algobot.crypto import load_cipher
from algobot.db import migrate
from algobot.settings import Settings
from algobot.slack_app import create_app
from algobot.wsgi import AlgobotWSGI

log = logging.getLogger(__name__)


def build_wsgi(settings: Settings, **app_kwargs) -> AlgobotWSGI:
    """Validate settings, migrate the database and assemble the WSGI application."""
    settings.require_slack()
    migrate(settings.db_path)
    cipher = load_cipher(settings.secret_key, settings.db_path, log)
    app = create_app(settings, cipher, **app_kwargs)
    return AlgobotWSGI(app, settings.db_path)


@dataclass
class BotServer:
    """The bot under waitress, in a thread (tests, the playground) or in the foreground (serve)."""

    wsgi: AlgobotWSGI
    server: BaseWSGIServer | MultiSocketServer
    thread: threading.Thread | None = None

    @classmethod
    def create(cls, wsgi: AlgobotWSGI, host: str, port: int, threads: int = 8) -> BotServer:
        server = waitress.create_server(wsgi, host=host, port=port, threads=threads, asyncore_use_poll=True)
        return cls(wsgi=wsgi, server=server)

    @property
    def url(self) -> str:
        return f"http://{self.server.effective_host}:{self.server.effective_port}"

    def start(self) -> BotServer:
        self.thread = threading.Thread(target=self.server.run, name="algobot-http", daemon=True)
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.close()
        if self.thread is not None:
            self.thread.join(timeout=5)
