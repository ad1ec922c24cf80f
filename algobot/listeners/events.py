"""Events: a workspace that removes the app loses its installation and everything algobot kept for it.

Registered only with OAuth, where there is an installation store to clear.
"""

from __future__ import annotations

from slack_bolt import App, BoltContext

from algobot import workspaces
from algobot.listeners.common import Wiring


def register(app: App, wiring: Wiring) -> None:
    store, services = wiring.installations, wiring.services
    if store is None:
        return
    settings = services.settings

    def forget(context: BoltContext, reason: str) -> None:
        workspaces.uninstall(
            settings.database_location,
            store,
            team_id=context.team_id,
            enterprise_id=context.enterprise_id,
            reason=reason,
            audit_key=services.cipher.audit_key,
            now=services.clock(),
        )

    @app.event("app_uninstalled")
    def on_app_uninstalled(context: BoltContext) -> None:
        forget(context, "app_uninstalled")

    @app.event("tokens_revoked")
    def on_tokens_revoked(event: dict, context: BoltContext) -> None:
        tokens = event.get("tokens") or {}
        for user_id in tokens.get("oauth") or []:  # algobot asks for no user scopes; tidy up all the same
            store.delete_installation(enterprise_id=context.enterprise_id, team_id=context.team_id, user_id=user_id)
        if tokens.get("bot"):  # without its bot token the app can do nothing more in that workspace
            forget(context, "tokens_revoked")
