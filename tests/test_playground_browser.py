"""The local Slack's page in a real browser (Debian's Chromium through Playwright) against the real bot.

Needs ``apt-get install -y chromium`` and ``pip install playwright``; ``playwright install`` is not
needed (and not possible offline): the system Chromium is launched directly. Skips otherwise.
Waiting is Playwright's auto-waiting (``expect``) and the sandbox's build event, never a sleep.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient

from algobot import dev
from algobot.db import database
from algobot.ids import ACTION_APPROVE_REQUEST, ACTION_CONFIRM_PUBLISH, ACTION_FULL_LOG
from tests.fixtures.sandbox import BROKEN_PY, HELLO_PY, push_files
from tests.fixtures.slack import ADMIN, BOT_TOKEN, DEV_CHANNEL, MEMBER

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LEAD_SCREENSHOT = Path("/tmp/playground.png")

try:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright
except ImportError:
    pytest.skip(
        "playwright is not installed (pip install playwright; no `playwright install` needed)", allow_module_level=True
    )
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """``new_page(origin, **context_options)``: a fresh tab (1280×900 unless ``viewport=`` says
    otherwise; ``timezone_id=``, ``locale=``...); it may request nothing outside origin and raise no JS error."""
    contexts: list[BrowserContext] = []
    problems: list[str] = []

    def make(origin: str, **options) -> Page:
        context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
        context.set_default_timeout(15_000)
        contexts.append(context)
        tab = context.new_page()
        tab.on("request", lambda r: None if r.url.startswith(origin) else problems.append(f"request to {r.url}"))
        tab.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
        return tab

    expect.set_options(timeout=15_000)
    yield make
    for context in contexts:
        context.close()
    assert problems == []


@pytest.fixture
def page(new_page: Callable[[str], Page], bot) -> Page:
    """A tab on the local Slack's page, with the bot connected."""
    bot.slack.bot_url = bot.url
    return new_page(bot.slack.url)


def open_as(page: Page, bot_or_slack, user: str = ADMIN) -> None:
    """Open the page, pick the user and #algo-dev the way a person would."""
    slack = getattr(bot_or_slack, "slack", bot_or_slack)
    page.goto(slack.url + "/")
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    page.get_by_test_id("user-switcher").select_option(user)
    page.locator("[data-testid=channel][data-channel-name=algo-dev]").click()
    expect(page.get_by_test_id("channel-title")).to_have_text("# algo-dev")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")


def run(page: Page, text: str) -> None:
    composer = page.get_by_test_id("composer")
    composer.fill(text)
    composer.press("Enter")
    expect(composer).to_have_value("")


def message(page: Page, text: str) -> Locator:
    """The newest top-level message containing text (auto-waits when asserted on)."""
    return page.get_by_test_id("message").filter(has_text=text).last


def save_screenshot(page: Page, tmp_path: Path, name: str = "playground.png") -> Path:
    """Save in the test's tmp_path, and a copy in /tmp for a person to look at."""
    path = tmp_path / name
    page.screenshot(path=str(path))
    shutil.copyfile(path, LEAD_SCREENSHOT.with_name(name))
    return path


def test_help_info_publish_and_full_log(page: Page, bot, tmp_path: Path) -> None:
    open_as(page, bot)

    run(page, "/algo help")
    help_message = message(page, "/algo publish")
    expect(help_message).to_be_visible()
    expect(help_message.get_by_test_id("ephemeral-note")).to_have_text("Only visible to you")
    expect(help_message.locator("code").first).to_be_visible()  # `usage` rendered as code, no backticks
    assert "`/algo" not in help_message.inner_text()

    page.get_by_test_id("user-switcher").select_option(MEMBER)  # bob does not see alice's ephemeral
    expect(page.get_by_test_id("composer")).to_have_attribute(
        "placeholder", "Message #algo-dev as bob — try /algo help"
    )
    expect(page.get_by_test_id("message").filter(has_text="/algo publish")).to_have_count(0)
    page.get_by_test_id("user-switcher").select_option(ADMIN)
    expect(help_message).to_be_visible()

    clone = bot.sandbox.create_algorithm("demo/hello")
    bot.login_demo()
    run(page, "/algo info demo/hello")
    info = message(page, "not published")
    expect(info).to_be_visible()
    expect(info.locator("[data-block-type=header]")).to_contain_text("demo/hello")
    expect(info.get_by_test_id("ephemeral-note")).to_be_visible()

    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
    bot.box.wait_for_builds()
    run(page, "/algo publish demo/hello")
    announcement = page.locator("[data-testid=message][data-ephemeral=false]").filter(has_text="0.1.0").last
    expect(announcement).to_contain_text("published demo/hello 0.1.0")  # *bold* rendered, no asterisks
    expect(announcement.locator("b", has_text="0.1.0")).to_be_visible()
    expect(announcement.locator(".mention")).to_have_text("@alice")  # <@U0ADMIN> shown as a name

    broken = bot.sandbox.create_algorithm("demo/broken")
    push_files(broken, {"src/broken.py": BROKEN_PY}, tmp_path)
    bot.box.wait_for_builds()
    build_id = bot.sandbox.client().builds("demo/broken")["results"][0]["build_id"]
    run(page, f"/algo logs demo/broken {build_id}")
    logs = message(page, "SyntaxError")
    expect(logs.locator("pre.code-block")).to_contain_text("SyntaxError")
    logs.locator(f"button[data-action-id={ACTION_FULL_LOG}]").click()

    # A read answers only you: the whole log goes to your DM with the bot, not into #algo-dev.
    expect(message(page, "in your direct messages")).to_be_visible()
    expect(page.get_by_test_id("message").filter(has=page.get_by_test_id("file"))).to_have_count(0)
    page.locator("[data-testid=channel]").filter(has_text="algobot").click()
    file_message = page.get_by_test_id("message").filter(has=page.get_by_test_id("file")).last
    expect(file_message.get_by_test_id("file-title")).to_be_visible()
    link = file_message.get_by_test_id("file-link")
    expect(link).to_have_attribute("href", re.compile(r"^/_ui/files/F\d+$"))
    file_message.locator("summary").click()
    expect(file_message.get_by_test_id("file-preview-text")).to_contain_text("SyntaxError")
    save_screenshot(page, tmp_path)


def test_confirm_dialog_guards_the_public_publish(page: Page, bot, built_algorithm, tmp_path: Path) -> None:
    open_as(page, bot)

    run(page, "/algo publish demo/hello callability=public")
    question = message(page, "public callability")
    button = question.locator(f"button[data-action-id={ACTION_CONFIRM_PUBLISH}]")
    expect(button).to_have_class("btn danger")

    button.click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_be_visible()
    page.get_by_test_id("confirm-cancel").click()
    expect(dialog).to_have_count(0)
    assert bot.slack.interactions("block_actions") == []  # cancelling the dialog sends nothing

    button.click()
    page.get_by_test_id("confirm-ok").click()
    announcement = page.locator("[data-testid=message][data-ephemeral=false]").filter(has_text="(public)").last
    expect(announcement).to_contain_text("published demo/hello 0.1.0 (public)")


def test_login_modal_shows_errors_then_saves(page: Page, bot) -> None:
    open_as(page, bot)
    run(page, "/algo login")
    modal = page.get_by_test_id("modal")
    expect(modal).to_be_visible()
    expect(page.get_by_test_id("modal-title")).not_to_be_empty()
    key_input = modal.locator("input[data-block-id=api_key]")
    expect(key_input).to_be_focused()

    page.get_by_test_id("modal-submit").click()  # required and empty: Slack's client refuses itself
    expect(modal.locator(".input-error[data-block-id=api_key]")).to_have_text("Please complete this required field.")
    assert bot.slack.interactions("view_submission") == []

    key_input.fill("two words")
    page.get_by_test_id("modal-submit").click()  # the bot answers response_action=errors
    expect(modal.locator(".input-error[data-block-id=api_key]")).to_contain_text("space")
    expect(modal).to_be_visible()

    key_input.fill(bot.sandbox.key("demo"))
    page.get_by_test_id("modal-submit").click()
    expect(modal).to_have_count(0)
    expect(message(page, "Saved the key")).to_be_visible()

    run(page, "/algo login")
    expect(modal).to_be_visible()
    page.get_by_test_id("modal-close").click()
    expect(modal).to_have_count(0)
    bot.slack.wait_for(lambda: not bot.slack.views(user=ADMIN), message="the modal to close")


def test_login_for_me_saves_a_personal_key_privately(page: Page, bot) -> None:
    open_as(page, bot)
    run(page, "/algo login")
    modal = page.get_by_test_id("modal")
    expect(modal.locator("input[data-block-id=api_key]")).to_be_focused()  # the radio choice is not focused
    expect(modal.locator("[data-testid=modal-radio][value=channel]")).to_be_checked()
    modal.get_by_label("My own key (for me)").check()
    modal.locator("input[data-block-id=api_key]").fill(bot.sandbox.key("demo"))
    page.get_by_test_id("modal-submit").click()
    expect(modal).to_have_count(0)
    expect(message(page, "Saved your own key")).to_be_visible()
    with database(bot.settings.db_path) as db:
        assert db["personal_keys"].count == 1 and db["channel_keys"].count == 0


# -- rendering, with the local Slack alone -----------------------------------------------------

RICH_TEXT = (
    "*bold* _italics_ ~gone~ `code` <https://example.invalid/docs|the docs> <@U0MEMBER> <#C0DEV> "
    "&lt;b&gt;not html&lt;/b&gt; &amp; more snake_case_name\n>quoted line\n```\nx = 1 &lt; 2\n```"
)
RICH_BLOCKS = [
    {"type": "header", "text": {"type": "plain_text", "text": "Release :rocket:"}},
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": RICH_TEXT},
        "fields": [{"type": "mrkdwn", "text": "*Field*\nvalue"}],
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "context _note_"}]},
    {"type": "divider"},
    {"type": "image", "image_url": "https://example.invalid/chart.png", "alt_text": "a chart"},
    {
        "type": "actions",
        "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "style": "primary", "action_id": "go"},
            {"type": "button", "text": {"type": "plain_text", "text": "Stop"}, "style": "danger", "action_id": "stop"},
        ],
    },
]


def test_block_kit_and_mrkdwn_render_as_text_never_as_html(new_page: Callable[[str], Page], slack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    rich = client.chat_postMessage(channel=DEV_CHANNEL, text="fallback", blocks=RICH_BLOCKS)["ts"]
    client.chat_postMessage(channel=DEV_CHANNEL, text="in the thread", thread_ts=rich)
    client.chat_postMessage(
        channel=DEV_CHANNEL, text='<img src=x onerror="window.pwned=1"> &lt;script&gt;x&lt;/script&gt;'
    )
    page = new_page(slack.url)
    open_as(page, slack)

    shown = page.locator(f"[data-testid=message][data-ts='{rich}']")
    expect(shown.locator("[data-block-type=header]")).to_have_text("Release 🚀")
    section = shown.locator("[data-block-type=section] .section-main > .mrkdwn")
    expect(section.locator("b").first).to_have_text("bold")
    expect(section.locator("i")).to_have_text("italics")
    expect(section.locator("s")).to_have_text("gone")
    expect(section.locator("code")).to_have_text("code")
    expect(section.locator("a")).to_have_text("the docs")
    expect(section.locator("a")).to_have_attribute("href", "https://example.invalid/docs")
    expect(section.locator("[data-user-id=U0MEMBER]")).to_have_text("@bob")
    expect(section.locator("[data-channel-id=C0DEV]")).to_have_text("#algo-dev")
    expect(section).to_contain_text("<b>not html</b> & more snake_case_name")
    expect(section.locator("blockquote")).to_have_text("quoted line")
    expect(section.locator("pre.code-block")).to_have_text("x = 1 < 2")
    expect(shown.locator(".section-fields b")).to_have_text("Field")
    expect(shown.locator("[data-block-type=context] i")).to_have_text("note")
    expect(shown.locator("hr")).to_have_count(1)
    expect(shown.locator("[data-block-type=image]")).to_contain_text("a chart")
    expect(shown.locator("button[data-action-id=go]")).to_have_class("btn primary")
    expect(shown.locator("button[data-action-id=stop]")).to_have_class("btn danger")
    expect(shown.get_by_test_id("thread").get_by_test_id("reply")).to_have_text(re.compile("in the thread"))

    hostile = message(page, "onerror")
    expect(hostile).to_contain_text('img src=x onerror="window.pwned=1" <script>x</script>')  # <…> is Slack syntax
    expect(page.locator("[data-testid=messages] img, [data-testid=messages] script")).to_have_count(0)
    assert page.evaluate("window.pwned") is None

    page.get_by_test_id("banner").wait_for()  # no bot_url: clicking explains instead of failing silently
    shown.locator("button[data-action-id=go]").click()
    expect(page.get_by_test_id("toast")).to_contain_text("LocalSlack.bot_url")

    client.chat_update(channel=DEV_CHANNEL, ts=rich, text="fallback", blocks=RICH_BLOCKS[:1])
    expect(shown.get_by_test_id("edited")).to_be_visible()  # updated in place, same ts
    expect(shown.locator("[data-block-type=section]")).to_have_count(0)
    expect(page.get_by_test_id("message")).to_have_count(2)


def test_slack_date_tokens_show_in_the_readers_own_time_zone(new_page: Callable[..., Page], slack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    stamp = 1700000000  # 2023-11-14 22:13:20 UTC, which is 2023-11-15 07:13:20 in Tokyo (UTC+9)
    client.chat_postMessage(
        channel=DEV_CHANNEL,
        text=f"Built <!date^{stamp}^{{date_num}} {{time_secs}}|2023-11-14 22:13 UTC> and "
        f"<!date^{stamp}^{{date_long}} at {{time}}^https://example.invalid/build|Nov 14>",
    )
    now = int(time.time())
    client.chat_postMessage(
        channel=DEV_CHANNEL,
        text="fallback",
        blocks=[
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"<!date^{now}^{{date_short_pretty}} at {{time}}|x>"},
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "<!date^soon^{date}|whenever it is ready>"}]},
        ],
    )
    page = new_page(slack.url, timezone_id="Asia/Tokyo", locale="en-US")
    open_as(page, slack)

    built = message(page, "Built")
    dates = built.get_by_test_id("slack-date")
    expect(dates.first).to_have_text("2023-11-15 7:13:20 AM")  # the reader's time, not the fallback's UTC
    expect(dates.last).to_have_text("Wednesday, November 15th, 2023 at 7:13 AM")
    expect(built.locator("a:has([data-testid=slack-date])")).to_have_attribute("href", "https://example.invalid/build")
    expect(dates.first).to_have_attribute("title", "2023-11-14 22:13 UTC")
    assert "<!date" not in built.inner_text() and "{" not in built.inner_text()

    today = page.get_by_test_id("message").last
    expect(today.get_by_test_id("slack-date")).to_have_text(re.compile(r"^Today at \d{1,2}:\d\d [AP]M$"))
    expect(today.locator("[data-block-type=context]")).to_have_text("whenever it is ready")  # a bad stamp: fallback


def test_typing_a_mention_offers_people_and_the_allow_succeeds(page: Page, bot, tmp_path: Path) -> None:
    open_as(page, bot)
    composer = page.get_by_test_id("composer")
    composer.press_sequentially("/algo allow @b")
    menu = page.get_by_test_id("mention-menu")
    expect(menu).to_be_visible()
    expect(menu.get_by_test_id("mention-option")).to_have_count(1)  # bob; alice does not match "b"
    save_screenshot(page, tmp_path, "mentions.png")
    menu.locator(f"[data-user-id={MEMBER}]").click()
    expect(menu).to_be_hidden()
    expect(composer).to_have_value("/algo allow @bob ")
    composer.press("Enter")

    done = page.locator("[data-testid=message][data-ephemeral=false]").filter(has_text="may now run").last
    expect(done.locator(f".mention[data-user-id={MEMBER}]")).to_have_text("@bob")
    assert bot.slack.interactions("slash_command")[-1].payload["text"] == f"allow <@{MEMBER}|bob>"

    composer.press_sequentially("/algo deny @")  # the keyboard works too: arrows move, Enter picks
    expect(menu.get_by_test_id("mention-option")).to_have_count(2)
    composer.press("ArrowDown")
    expect(menu.locator("[aria-selected=true]")).to_have_attribute("data-user-id", MEMBER)
    composer.press("Enter")
    expect(composer).to_have_value("/algo deny @bob ")
    composer.press("Escape")
    composer.fill("")


def test_at_420_pixels_the_sidebar_folds_away_and_messages_keep_the_width(
    new_page: Callable[..., Page], slack, tmp_path: Path
) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    client.chat_postMessage(
        channel=DEV_CHANNEL,
        text="A build of demo/hello finished: the log's last lines follow, and buttons to act on it.",
        blocks=[
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*demo/hello* build succeeded in 12 s; ready to publish."},
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*Version*\n0.1.0"},
                    {"type": "mrkdwn", "text": "*By*\n<@U0ADMIN>"},
                ],
            },
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Publish…"}, "action_id": "p"}],
            },
        ],
    )
    page = new_page(slack.url, viewport={"width": 420, "height": 800})
    page.goto(f"{slack.url}/?user={ADMIN}&channel={DEV_CHANNEL}")
    expect(page.locator("body[data-ready=true]")).to_have_count(1)

    sidebar = page.get_by_test_id("sidebar")
    expect(sidebar).not_to_be_in_viewport()
    content = page.get_by_test_id("message").last.get_by_test_id("message-content")
    expect(content).to_contain_text("build succeeded")
    assert content.bounding_box()["width"] > 300  # not one character per line
    assert page.get_by_test_id("messages").bounding_box()["width"] >= 400
    save_screenshot(page, tmp_path, "narrow.png")

    page.get_by_test_id("sidebar-toggle").click()  # ☰ opens the channels and the user switcher
    expect(sidebar).to_be_in_viewport()
    save_screenshot(page, tmp_path, "narrow-sidebar.png")
    page.get_by_test_id("user-switcher").select_option(MEMBER)
    page.locator("[data-testid=channel][data-channel-name=algo-other]").click()
    expect(sidebar).not_to_be_in_viewport()  # picking a channel closes the drawer
    expect(page.get_by_test_id("channel-title")).to_have_text("# algo-other")


def test_modal_inputs_and_selects_reach_the_app(new_page: Callable[[str], Page], slack, serve_wsgi) -> None:
    received: list[dict] = []

    def app(environ, start_response):  # a stand-in for the bot: records the payload, closes the modal
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
        received.append(json.loads(parse_qs(body)["payload"][0]))
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    slack.bot_url = serve_wsgi(app)
    option = lambda value: {"text": {"type": "plain_text", "text": value.title()}, "value": value}  # noqa: E731
    view = {
        "type": "modal",
        "callback_id": "pick",
        "title": {"type": "plain_text", "text": "Pick one"},
        "submit": {"type": "plain_text", "text": "Go"},
        "blocks": [
            {
                "type": "input",
                "block_id": "colour",
                "label": {"type": "plain_text", "text": "Colour"},
                "element": {"type": "static_select", "action_id": "c", "options": [option("red"), option("blue")]},
            },
            {
                "type": "input",
                "block_id": "notes",
                "optional": True,
                "label": {"type": "plain_text", "text": "Notes"},
                "element": {"type": "plain_text_input", "action_id": "n", "multiline": True},
            },
        ],
    }
    WebClient(token=BOT_TOKEN, base_url=slack.api_url).views_open(trigger_id=slack.issue_trigger_id(ADMIN), view=view)
    page = new_page(slack.url)
    page.goto(f"{slack.url}/?user={ADMIN}&channel={DEV_CHANNEL}")  # the open modal covers the sidebar

    modal = page.get_by_test_id("modal")
    expect(page.get_by_test_id("modal-title")).to_have_text("Pick one")
    modal.locator("select[data-block-id=colour]").select_option("blue")
    modal.locator("textarea[data-block-id=notes]").fill("two\nlines")
    page.get_by_test_id("modal-submit").click()
    expect(modal).to_have_count(0)
    values = received[0]["view"]["state"]["values"]
    assert values["colour"]["c"]["selected_option"]["value"] == "blue"
    assert values["notes"]["n"] == {"type": "plain_text_input", "value": "two\nlines"}


# -- the whole playground (`algobot dev`): sandbox builds, the poller's notices, buttons --------------


def test_playground_compile_notice_full_log_and_publish(new_page: Callable[[str], Page], tmp_path: Path) -> None:
    playground = dev.start(tmp_path / "dev", port=0, build_delay=0, poll_seconds=1)
    try:
        page = new_page(playground.slack.url)
        open_as(page, playground.slack, user=dev.ADMIN_ID)
        run(page, "/algo info demo/hello")
        expect(message(page, "not published")).to_be_visible()

        run(page, "/algo compile demo/broken")
        notices = page.locator("[data-testid=message][data-ephemeral=false]")
        failed = notices.filter(has_text="demo/broken").filter(has_text="failed").last
        expect(failed).to_be_visible(timeout=30_000)  # the "build started" message, updated in place
        thread = failed.get_by_test_id("thread")
        expect(thread).to_contain_text("SyntaxError", timeout=30_000)
        failed.locator(f"button[data-action-id={ACTION_FULL_LOG}]").click()
        expect(thread.get_by_test_id("file-title")).to_be_visible(timeout=30_000)

        run(page, "/algo compile demo/hello")
        expect(notices.filter(has_text="demo/hello").filter(has_text="succeeded").last).to_be_visible(timeout=30_000)
        run(page, '/algo publish demo/hello notes="from the playground"')
        announcement = notices.filter(has_text="0.1.0").last
        expect(announcement).to_contain_text("published demo/hello 0.1.0", timeout=30_000)
        save_screenshot(page, tmp_path)
    finally:
        playground.close()


def test_playground_sam_requests_a_release_and_alex_approves_it(
    new_page: Callable[[str], Page], tmp_path: Path
) -> None:
    playground = dev.start(tmp_path / "dev", port=0, build_delay=0, poll_seconds=1)
    try:
        page = new_page(playground.slack.url)
        open_as(page, playground.slack, user=dev.ADMIN_ID)
        notices = page.locator("[data-testid=message][data-ephemeral=false]")
        run(page, "/algo policy approvals=on")
        expect(notices.filter(has_text="Every publish needs a second person").last).to_be_visible()
        run(page, "/algo compile demo/hello")
        expect(notices.filter(has_text="demo/hello").filter(has_text="succeeded").last).to_be_visible(timeout=30_000)

        page.get_by_test_id("user-switcher").select_option(dev.MEMBER_ID)
        run(page, '/algo publish demo/hello notes="reviewed in Slack"')
        request = notices.filter(has_text="asks to publish").last
        expect(request).to_contain_text("@sam asks to publish demo/hello", timeout=30_000)
        expect(request).to_contain_text("reviewed in Slack")
        approve = request.locator(f"button[data-action-id={ACTION_APPROVE_REQUEST}]")
        approve.click()  # Sam's own approval is refused, privately
        expect(message(page, "someone else must approve")).to_be_visible()

        page.get_by_test_id("user-switcher").select_option(dev.ADMIN_ID)
        approve.click()
        expect(request).to_contain_text("Approved by @alex, published as 0.1.0", timeout=30_000)
        expect(request.locator(f"button[data-action-id={ACTION_APPROVE_REQUEST}]")).to_have_count(0)
        announcement = notices.filter(has_text="Requested by").last
        expect(announcement).to_contain_text("published demo/hello 0.1.0")
        expect(announcement).to_contain_text("Requested by @sam, approved by @alex")
        save_screenshot(page, tmp_path, "release-request.png")
    finally:
        playground.close()
