"""Commands declare their arguments once: the usage line, the checks and the help come from that."""

from __future__ import annotations

import pytest

from algobot import messages
from algobot.dispatch import CommandSpec, Kind, Reply
from algobot.options import PAGE_LIMIT, PAGE_MARKER, Arg, Option
from algobot.parsing import UsageError, split_command
from commands import load_registry
from tests.fixtures.bot import message_text

REGISTRY = load_registry()


def _spec(**kw) -> CommandSpec:
    return CommandSpec(name="demo", summary="Demo.", kind=Kind.LOCAL, run=lambda ctx, parsed: Reply(), **kw)


def test_the_usage_line_is_generated_from_the_declarations():
    spec = _spec(
        args=(Arg("USER/ALGO"), Arg("KIND", required=False, shown="a|b")),
        options=(
            Option("label", required=True, shown='"Label"'),
            PAGE_LIMIT,
            Option("only", default="all", choices=("all", "some")),
            Option("license", setting=True),
            Option("pipeline_enabled", setting=True, default="false"),
            PAGE_MARKER,  # set by a button: never shown
        ),
    )
    assert spec.usage == (
        '/algo demo USER/ALGO [a|b] label="Label" [limit=10] [only=all|some] '
        "[license=apl|apache2|gpl3|mit] [pipeline_enabled=false]"
    )


@pytest.mark.parametrize(
    "text, problem",
    [
        ("builds demo/hello limit=0", "limit= must be a whole number from 1 to 40, not 0."),
        ("builds demo/hello limit=ten", "limit= must be a whole number from 1 to 40, not 'ten'."),
        ("watch demo/hello only=Sometimes", "'Sometimes' is not one of them."),
        ("create demo/x label=", 'label= is required, e.g. label="Sentiment analysis".'),
        ("create demo/x label=X pipeline_enabled=maybe", "pipeline_enabled must be true or false, not 'maybe'."),
        ("update demo/x license=wtfpl", "license must be one of apl, apache2, gpl3, mit; 'wtfpl' is not."),
        ("publish demo/x marker=abc", "`marker=` is not an option of this command; it takes `build=`, `notes=`"),
        ("logs demo/x", "BUILD_ID is missing."),
        ("audit a b", "unexpected argument b."),
    ],
)
def test_each_declared_check_raises_the_one_usage_error(text, problem):
    parsed = split_command(text)
    with pytest.raises(UsageError) as caught:
        REGISTRY[parsed.name].check(parsed)
    assert problem in caught.value.message


def test_typed_values_and_defaults():
    assert PAGE_LIMIT.number(split_command("builds demo/x")) == 10
    assert PAGE_LIMIT.number(split_command("builds demo/x limit=25")) == 25
    only = REGISTRY["watch"].options[0]
    assert only.text(split_command("watch demo/x only=FAILED")) == "failed"


def test_help_for_a_command_explains_its_options_from_the_declarations(bot):
    bot.command("help logs")
    text = message_text(bot.reply_containing("/algo logs USER/ALGO BUILD_ID [lines=30]"))
    assert messages.option_help("lines", "how many of the log's last lines to show", "1 to 500, default 30") in text
    assert "upload=" not in text and "thread=" not in text  # set by buttons, not typed


@pytest.mark.parametrize(
    "text, problem",
    [
        ("builds demo/hello limit=many", "limit= must be a whole number from 1 to 40, not 'many'."),
        ("watch demo/hello only=sometimes", "only= takes a comma list of all, failed, succeeded, changes, releases"),
        ("create demo/sentiment", "label= is required"),
        ("create demo/sentiment label=S language=cobol", "language must be one of java, javascript"),
    ],
)
def test_a_bad_option_is_answered_in_the_ack_before_the_key_is_looked_up(bot, text, problem):
    """No key in this channel: the mistyped option is still what the person hears, at once."""
    before = sum(bot.sandbox.sandbox.request_counts.values())
    response = bot.command(text)
    assert response.status_code == 200 and problem in response.text
    reply = bot.reply_containing(problem)
    assert reply.is_ephemeral and "Usage: `/algo" in message_text(reply)
    assert "/algo login" not in response.text  # not the "no key yet" answer
    assert sum(bot.sandbox.sandbox.request_counts.values()) == before
