"""Doubles of external services that are not part of the playground (see algobot.localslack for Slack's Web API)."""
