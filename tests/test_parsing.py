"""Command text → subcommand, arguments and options, as Slack sends it."""

import pytest

from algobot.parsing import UsageError, looks_like_secret, parse_user_reference, split_command


def test_splits_positional_and_quoted_options():
    parsed = split_command('publish demo/sentiment minor notes="faster tokenizer" callability=private')
    assert parsed.name == "publish"
    assert parsed.positional == ("demo/sentiment", "minor")
    assert parsed.options == {"notes": "faster tokenizer", "callability": "private"}


def test_slack_escaping_and_curly_quotes_are_undone():
    parsed = split_command("publish demo/x notes=“a &amp; b &lt;3”")
    assert parsed.options["notes"] == "a & b <3"


def test_unbalanced_quote_is_a_clear_error():
    with pytest.raises(UsageError, match="quote is not closed"):
        split_command('publish demo/x notes="oops')


def test_duplicate_option_is_refused():
    with pytest.raises(UsageError, match="notes= is given twice"):
        split_command("publish demo/x notes=a notes=b")


def test_empty_text_has_no_name():
    assert split_command("   ").name == ""


def test_subcommand_is_case_insensitive():
    assert split_command("INFO demo/x").name == "info"


@pytest.mark.parametrize(
    "token, expected",
    [("<@U0ADMIN|alex>", "U0ADMIN"), ("<@W12345>", "W12345"), ("U0MEMBER", "U0MEMBER"), ("@alex", None)],
)
def test_user_references(token, expected):
    assert parse_user_reference(token) == expected


@pytest.mark.parametrize(
    "text, secret",
    [
        ("simA1b2C3d4E5f6G7h8", True),
        ("xoxb-not-a-real-token", True),
        ("please", False),
        ("demo/hello", False),
    ],
)
def test_secret_detection(text, secret):
    assert looks_like_secret(text) is secret
