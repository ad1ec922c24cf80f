"""Sentences whose wording depends on what algobot knows (unit level; the HTTP paths are in the e2e tests)."""

from algobot import messages
from algobot.algorithmia import Forbidden


def test_a_403_on_an_owner_the_key_manages_is_about_the_keys_permission():
    text = messages.api_error(
        Forbidden("Caller is not authorized", status=403, code=2001),
        algorithm="demo/hello",
        endpoint="https://api.algorithmia.com",
        key_owners=frozenset({"demo"}),
    )
    assert "may not manage *demo/hello*" in text and "/algo login" in text
    assert "does not exist" not in text


def test_a_403_names_every_owner_the_key_manages_escaped():
    text = messages.api_error(
        Forbidden("no", status=403),
        algorithm="nosuch/thing",
        endpoint="x",
        key_owners=frozenset({"demo", "team<b>"}),
    )
    assert "*demo*, *team&lt;b&gt;*" in text and "/algo login" not in text
