"""Bolt listeners by kind, as in Bolt's starter template: slash commands, buttons, dialogs, events.

Each module has ``register(app, wiring)``; `register_listeners` calls them all. Listeners are thin:
they parse the payload, hand the work to the intake queue (`algobot.intake`) and ack; everything
else happens in `algobot.dispatch.execute`, behind a `algobot.listeners.responder.BoltResponder`.
"""

from __future__ import annotations

from slack_bolt import App

from algobot.listeners import actions, commands, events, views
from algobot.listeners.common import Wiring

__all__ = ["Wiring", "register_listeners"]


def register_listeners(app: App, wiring: Wiring) -> None:
    """Every listener algobot has; the uninstall events only with OAuth (``wiring.installations``)."""
    commands.register(app, wiring)
    actions.register(app, wiring)
    views.register(app, wiring)
    events.register(app, wiring)
