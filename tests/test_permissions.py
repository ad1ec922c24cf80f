"""The permission policy as a table (algobot.permissions)."""

from __future__ import annotations

import pytest

from algobot.permissions import Decision, can_change, can_configure

ADMINS = frozenset({"UADMIN"})
CONFIGURERS = frozenset({"UCONF"})


@pytest.mark.parametrize(
    ("user", "workspace_admin", "allowed", "reason"),
    [
        ("UOWNER", True, True, "workspace admin or owner"),
        ("UADMIN", False, True, "ALGOBOT_ADMINS"),
        ("UCONF", False, True, "configured this channel before"),
        ("USTRANGER", False, False, "Only workspace admins"),
    ],
)
def test_who_may_configure_a_channel(user, workspace_admin, allowed, reason):
    decision = can_configure(user, is_workspace_admin=workspace_admin, admins=ADMINS, configurers=CONFIGURERS)

    assert decision.allowed is allowed and bool(decision) is allowed
    assert reason in decision.reason


def test_nobody_configures_a_fresh_channel_without_being_an_admin():
    decision = can_configure("U1", is_workspace_admin=False, admins=frozenset(), configurers=frozenset())
    assert not decision
    assert "ALGOBOT_ADMINS" in decision.reason


@pytest.mark.parametrize(
    ("user", "allow_list", "allowed", "reason"),
    [
        ("U1", frozenset(), True, "no allow list"),
        ("U1", frozenset({"U1", "U2"}), True, "on this channel's allow list"),
        ("U3", frozenset({"U1", "U2"}), False, "only <@U1>, <@U2> may run"),
    ],
)
def test_who_may_change_algorithms(user, allow_list, allowed, reason):
    decision = can_change(user, allow_list)

    assert decision == Decision(allowed, decision.reason)
    assert reason in decision.reason


def test_a_refusal_says_how_to_get_access():
    decision = can_change("U3", {"U1"}, action="`publish`")
    assert "`publish`" in decision.reason and "/algo allow <@U3>" in decision.reason


def test_being_an_admin_does_not_bypass_the_allow_list():
    """The allow list is the channel's own rule; admins add themselves with `/algo allow`."""
    assert not can_change("UADMIN", allowed_users={"U1"})
