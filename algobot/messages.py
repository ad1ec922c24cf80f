"""Every sentence algobot says to a person, in one place.

Values that come from users or from the API are escaped for mrkdwn by the caller's builder
(`algobot.blocks.esc`) or here where the sentence embeds them, so an algorithm summary cannot ping
``@channel`` or forge a link.

Each sentence is a constant or one small function, so many of them share a shape on purpose (a
deliberate mirror, as is `api_error`'s one branch an error type): each reads as the person sees it,
and folding them onto a template would hide the wording behind its parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from algobot.algorithmia import (
    AlgorithmiaError,
    AlreadyPublished,
    ApiUnavailable,
    Forbidden,
    InvalidInput,
    NameTaken,
    NotFound,
    Unauthorized,
)
from algobot.mrkdwn import esc, slack_date

# -- general -----------------------------------------------------------------

WORKING = "Working on `/algo {text}`…"
HELP_INTRO = "*algobot* runs Algorithmia's Algorithm Management API from this channel."
HELP_FOOTER = 'Arguments in [brackets] are optional. Quote values with spaces: `notes="two words"`.'
USAGE = "Usage: `{usage}`"
BAD_INPUT = ":warning: {problem}\n" + USAGE
INTERNAL_ERROR = (
    ":boom: Something went wrong on algobot's side and the command may not have finished. "
    "Reference `{ref}` — give it to whoever runs algobot."
)
NO_RETRY_NOTE = "The command was not carried out."
BUSY = (
    ":hourglass: algobot is busy with other commands right now, so `/algo {name}` was not run. Try again in a minute."
)
BUSY_FIELD = "algobot is busy with other commands right now and did not save this. Try again in a minute."
TIMED_OUT_WAITING = (
    ":hourglass: algobot was too busy to start `/algo {name}` within {seconds} s, so it was not run. "
    "Try again in a minute."
)
NOT_RUN_STOPPING = ":hourglass: algobot is restarting, so `/algo {name}` was not run. Try again in a minute."
TIMED_OUT_RUNNING = (
    ":hourglass: `/algo {name}` got no answer within {seconds} s, so algobot stopped waiting for it. "
    "If it changed something, `/algo audit` shows the outcome once it ends; check before running it again."
)


def unknown_command(name: str) -> str:
    """The subcommand is echoed escaped: inside a code span Slack still acts on `<!here>` and links."""
    return f"I don't know `/algo {esc(name)}`. Here is what I can do:"


def bad_input(problem: str, usage: str) -> str:
    if problem.startswith(":"):  # the sentence brings its own icon (login's refusals): one is enough
        return f"{esc(problem)}\n" + USAGE.format(usage=usage)
    return BAD_INPUT.format(problem=esc(problem), usage=usage)


# The next three are problems (plain text) that `bad_input` escapes once when it shows them.


def unknown_option(key: str, allowed: list[str]) -> str:
    if allowed:
        return f"`{key}=` is not an option of this command; it takes {', '.join(f'`{a}=`' for a in allowed)}."
    return f"`{key}=` is not an option of this command; it takes none."


def too_many_arguments(extra: list[str]) -> str:
    return f"unexpected argument {' '.join(extra)}."


def missing_argument(name: str) -> str:
    return f"{name} is missing."


def not_a_whole_number(option: str, low: int, high: int, shown: str) -> str:
    return f"{option}= must be a whole number from {low} to {high}, not {shown}."


def not_a_choice(option: str, choices: Sequence[str], value: str) -> str:
    return f"{option}= must be one of {', '.join(choices)}, not '{value}'."


def option_help(option: str, purpose: str, accepts: str) -> str:
    """A line of `/algo help CMD` for one option: what it is for and what it takes."""
    return f"`{option}=` " + "; ".join(part for part in (purpose, accepts) if part) + "."


def whole_number_range(low: int, high: int, default: object) -> str:
    return f"{low} to {high}, default {default}"


def one_of(choices: Sequence[str], default: object) -> str:
    return f"one of {', '.join(choices)}" + ("" if default is None else f", default {default}")


def option_required(option: str, example: str) -> str:
    return f"{option}= is required, e.g. {option}={example}."


NOTHING_TO_UPDATE = "give at least one key=value to change, e.g. license=mit."


# -- keys and configuration --------------------------------------------------

NO_KEY = (
    ":key: This channel has no Algorithmia API key yet, so nothing was sent. "
    "Run `/algo login` to add one (workspace admins, or whoever configured this channel)."
)
NO_KEY_FOR_READS = (
    ":key: This channel has no Algorithmia API key, so nothing was sent. Your own key is used only for "
    "changes (create, update, compile, publish); reading needs the channel's key: ask whoever configures "
    "this channel to run `/algo login`."
)
PERSONAL_KEY_REQUIRED = (
    ":key: This channel's policy is that changes use the key of the person making them, and you have "
    "none here, so nothing was sent. Run `/algo login`, choose *for me* and paste your own key; then "
    "run the command again."
)
AUDIT_NO_PERSONAL_KEY = "keys=personal: no personal key for this endpoint"


def personal_key_elsewhere(own_endpoint: str, channel_endpoint: str) -> str:
    """The person's key belongs to another Algorithmia endpoint than this channel's."""
    return (
        f":key: Your own key is for {esc(own_endpoint)}, but this channel works with {esc(channel_endpoint)}, "
        "so nothing was sent with it. Run `/algo login`, choose *for me* and give a key for "
        f"{esc(channel_endpoint)}."
    )


LOGIN_TAKES_NO_TEXT = (
    ":no_entry: `/algo login` takes no arguments (`/algo login me` opens it for your own key): run it and "
    "paste the key into the dialog that opens. Nothing you typed was stored or echoed."
)
LOGIN_LOOKS_LIKE_KEY = (
    ":no_entry: That looks like an API key. Never type keys into a message: run `/algo login` alone "
    "and paste the key into the dialog. What you typed was not stored or echoed, but Slack may keep "
    "the command text — consider creating a new key."
)
DIALOG_NOT_FOR_YOU = (
    "This dialog was not opened for you in this workspace, so nothing was saved. Close it and run the "
    "command again in the channel you mean."
)
DIALOG_FIELD_HOLDS_A_KEY = (
    "This holds something shaped like an API key or a Slack token, and it would be sent to Algorithmia "
    "and announced as typed. Take it out (and if it was a real key, consider creating a new one)."
)


def option_holds_a_key(option: str) -> str:
    """A free-text option (notes=, label=, summary=, ...) holds something shaped like a key or token."""
    return (
        f":no_entry: `{esc(option)}=` holds something shaped like an API key or a Slack token, and it would "
        "be posted to the channel and sent to Algorithmia as typed, so nothing was sent. Take the key out "
        "and run the command again; if it was a real key, consider creating a new one."
    )


LOGIN_MODAL_TITLE = "Algorithmia API key"
LOGIN_MODAL_INTRO = (
    "The key is stored encrypted for *this channel only* and is never shown again. "
    "Create it with *Allow this key to manage my algorithms* turned on."
)
LOGIN_MEMBER_INTRO = (
    "The key is stored encrypted *for you* and never shown again: changes you make from Slack use it, so "
    "Algorithmia records you. Only this channel's configurers can set the channel's key."
)
LOGIN_SCOPE_LABEL = "Whose key is this?"
LOGIN_SCOPE_CHANNEL = "This channel's key"
LOGIN_SCOPE_ME = "My own key (for me)"
LOGIN_SCOPE_ME_HINT = "Yours is used for your changes (create, update, compile, publish) in this workspace."
LOGIN_KEY_LABEL = "API key"
LOGIN_ENDPOINT_LABEL = "API endpoint (for a private cluster)"
LOGIN_ENDPOINT_HINT = "Leave as is for {default}."
LOGIN_KEY_EMPTY = "Paste the API key."
LOGIN_KEY_HAS_SPACES = "An API key has no spaces; paste it exactly as Algorithmia shows it."
LOGIN_ENDPOINT_BAD = "Give an http:// or https:// address, e.g. https://api.algorithmia.com."


def login_saved(channel_id: str, masked: str, endpoint: str) -> str:
    return f":white_check_mark: Saved the key {masked} for <#{channel_id}> (endpoint {esc(endpoint)})."


def login_personal_saved(masked: str, endpoint: str) -> str:
    return (
        f":white_check_mark: Saved your own key {masked} (endpoint {esc(endpoint)}). Changes you make in this "
        "workspace now use it, so Algorithmia records you; reads still use each channel's key. "
        "`/algo logout me` removes it."
    )


def login_announcement(user_id: str, endpoint: str) -> str:
    return f":key: <@{user_id}> set this channel's Algorithmia API key (endpoint {esc(endpoint)})."


def logout_done(user_id: str) -> str:
    return f":lock: <@{user_id}> removed this channel's Algorithmia API key."


LOGOUT_NOTHING = "This channel has no API key to remove."
LOGOUT_WHAT = "`/algo logout` removes this channel's key; `/algo logout me` removes your own. Nothing else follows it."
LOGOUT_ME_DONE = ":lock: Removed your own Algorithmia key: your changes use this channel's key again."
LOGOUT_ME_NOTHING = "You have no key of your own to remove (`/algo logout` alone removes the channel's key)."


def status_configured(endpoint: str, masked: str, set_by: str, set_at: str) -> str:
    who = "the command line" if set_by == "cli" else f"<@{set_by}>"
    return f":key: Endpoint {esc(endpoint)}, key {masked}, set by {who} on {slack_date(set_at)}."


def status_personal(masked: str | None, endpoint: str | None, set_at: str | None, keys_policy: str) -> str:
    """`/algo status`: the asker's own key (never the key), and whose key this channel's changes use."""
    if masked is None:
        own = "You have no key of your own (`/algo login`, *for me*)."
    else:
        when = slack_date(set_at)
        own = f"Your own key {masked} (endpoint {esc(endpoint or '')}, set {when}) is used for your changes."
    if keys_policy == "personal":
        rule = "changes need the person's own key"
    else:
        rule = "changes use your own key when you have one, else the channel's"
    return f":bust_in_silhouette: {own} This channel's policy: {rule}."


def status_allowed(users: list[str]) -> str:
    if not users:
        return "Anyone in this channel may run create, update, compile, publish and call."
    return "Only " + ", ".join(f"<@{u}>" for u in users) + " may run create, update, compile, publish and call."


def allow_done(user_id: str) -> str:
    return f":white_check_mark: <@{user_id}> may now run create, update, compile, publish and call here."


def deny_done(user_id: str, remaining: list[str]) -> str:
    if remaining:
        return f":no_entry_sign: <@{user_id}> was removed from this channel's list. " + status_allowed(remaining)
    return f":no_entry_sign: <@{user_id}> was removed; the list is empty, so anyone here may run changes."


def deny_not_listed(user_id: str) -> str:
    return f"<@{user_id}> is not on this channel's list; nothing changed."


def policy_lines(approvals: bool, public_only: bool, expires: str, keys: str) -> list[str]:
    """What `/algo policy` shows, one line per rule."""
    if not approvals:
        release = "Publishes need no approval: whoever may make changes here publishes at once."
    elif public_only:
        release = (
            "Publishes that make an algorithm *public* need a second person: they become release requests "
            f"someone else approves. Requests expire after {expires}."
        )
    else:
        release = (
            "Every publish needs a second person: it becomes a release request someone else approves. "
            f"Requests expire after {expires}."
        )
    if keys == "personal":
        key = "Changes need your own key: run `/algo login` and choose *for me*."
    else:
        key = "Changes use your own key when you have one (`/algo login`, *for me*), else the channel's key."
    return [release, key]


def policy_shown(lines: list[str], set_by: str, set_at: str) -> str:
    by = f"\n_Set by <@{set_by}> on {set_at}._" if set_by else "\n_This channel has the default policy._"
    return ":scroll: *This channel's release policy*\n" + "\n".join(f"• {line}" for line in lines) + by


def policy_changed(user_id: str, lines: list[str]) -> str:
    return f":scroll: <@{user_id}> changed this channel's release policy:\n" + "\n".join(f"• {line}" for line in lines)


def not_a_duration(option: str, value: str, low: str, high: str) -> str:
    return f"{option}= must be a duration such as 30m, 24h or 7d, from {low} to {high}, not '{value}'."


MENTION_NEEDED = (
    "name the person with an @-mention (e.g. `/algo allow @alex`). If mentions arrive as plain text, "
    "turn on *Escape channels, users, and links* for the /algo command in the Slack app settings."
)

# -- permissions -------------------------------------------------------------


def refused(reason: str) -> str:
    return f":no_entry: {reason} Nothing was changed."


REFUSED_CONFIGURE = (
    "Only workspace admins and owners, the bot's admins (ALGOBOT_ADMINS) and people who configured "
    "this channel before can change its configuration."
)


def refused_change(allowed: list[str], user_id: str, action: str = "this command") -> str:
    people = ", ".join(f"<@{user}>" for user in allowed)
    return (
        f"This channel limits create, update, compile, publish and call to its allow list: only {people} may run "
        f"{action}. Ask someone who can configure the channel to run `/algo allow <@{user_id}>`."
    )


# -- API errors --------------------------------------------------------------


def _forbidden(algorithm: str | None, key_owners: frozenset[str]) -> str:
    """A 403: another owner's namespace (often a typo) is not a reason to replace a good key."""
    name = f"*{esc(algorithm)}*" if algorithm else "that"
    owner = algorithm.split("/", 1)[0] if algorithm and "/" in algorithm else None
    if owner and key_owners and owner not in key_owners:
        owners = ", ".join(f"*{esc(o)}*" for o in sorted(key_owners))
        return (
            f":mag: {name} does not exist or belongs to someone this channel's key cannot manage. The key "
            f"manages algorithms of {owners}: check the owner's spelling (names are case-sensitive). "
            "The key itself is fine; nothing was changed."
        )
    if owner and owner in key_owners:
        return (
            f":no_entry: This channel's key may not manage {name}: create a key with *Allow this key to "
            "manage my algorithms* turned on (and owned by the algorithm's account), then `/algo login`."
        )
    return (
        f":no_entry: This channel's key may not manage {name}. Either it does not exist or belongs to someone "
        "this key cannot manage (check the owner's spelling; names are case-sensitive), or the key lacks "
        "*Allow this key to manage my algorithms*: then create one with it turned on and `/algo login`."
    )


def api_error(
    error: AlgorithmiaError,
    *,
    algorithm: str | None,
    endpoint: str,
    key_owners: frozenset[str] = frozenset(),
    personal: bool = False,
) -> str:
    """A person's sentence for each failure class of the management API.

    `key_owners`: whose algorithms this channel's key is known to manage, to word a 403. `personal`:
    the request used the person's own key, so a 401/403 is about that key.
    """
    name = f"*{esc(algorithm)}*" if algorithm else "that"
    if personal and isinstance(error, Unauthorized | Forbidden):
        return (
            f":key: Algorithmia refused your own key for {name} ({esc(error.message)}); nothing was changed. "
            "Run `/algo login` and choose *for me* to replace it, or `/algo logout me` to use the channel's key."
        )
    if isinstance(error, Unauthorized):
        return ":key: The key for this channel was rejected by Algorithmia; run `/algo login` to set a new one."
    if isinstance(error, Forbidden):
        return _forbidden(algorithm, key_owners)
    if isinstance(error, NameTaken):
        return f":warning: An algorithm named {name} already exists; pick another name."
    if isinstance(error, AlreadyPublished):
        return (
            f":warning: The newest build of {name} is already published. Push a change or run "
            f"`/algo compile {esc(algorithm or 'USER/ALGO')}` first, then publish."
        )
    if isinstance(error, NotFound):
        return f":mag: No such algorithm {name} (or it is not visible to this channel's key)."
    if isinstance(error, ApiUnavailable):
        return (
            f":warning: Algorithmia at {esc(endpoint)} could not be reached or kept failing "
            f"({esc(error.message)}). {NO_RETRY_NOTE}"
        )
    if isinstance(error, InvalidInput):
        return f":warning: Algorithmia refused the request: {esc(error.message)}"
    return f":warning: Algorithmia answered with an error ({error.status}): {esc(error.message)}"


def build_not_found(algorithm: str, build_id: str) -> str:
    return f":mag: {esc(algorithm)} has no build `{esc(build_id)}`."


def logs_still_running(algorithm: str, build_id: str) -> str:
    return (
        f":hourglass_flowing_sand: Build `{esc(build_id)}` of {esc(algorithm)} is still running; "
        "its log is available when it ends."
    )


# -- results -----------------------------------------------------------------


def created(user_id: str, algorithm: str) -> str:
    return f":sparkles: <@{user_id}> created *{esc(algorithm)}*."


def clone_instructions(clone_url: str) -> str:
    return (
        f"Next: `git clone {esc(clone_url)}`, add your code, commit and `git push`; every push starts a build. "
        "Git asks for your Algorithmia user name and, as the password, an API key of yours."
    )


def updated(user_id: str, algorithm: str, changes: str) -> str:
    return f":pencil2: <@{user_id}> updated *{esc(algorithm)}*: {esc(changes)}."


def compile_started(user_id: str, algorithm: str, build_id: str | None, commit: str | None) -> str:
    parts = [f":hammer_and_wrench: <@{user_id}> started a build of *{esc(algorithm)}*"]
    if build_id:
        parts.append(f" (build `{esc(build_id)}`")
        parts.append(f", commit `{esc(commit[:7])}`)" if commit else ")")
    return "".join(parts) + "."


def published(
    user_id: str,
    algorithm: str,
    version: str,
    notes: str | None,
    callability: str,
    *,
    build_id: str | None = None,
    commit: str | None = None,
) -> str:
    text = f":rocket: <@{user_id}> published *{esc(algorithm)}* *{esc(version)}* ({esc(callability)})"
    text += f" from {_build_and_commit(build_id, commit)}." if build_id or commit else "."
    if notes:
        text += f"\n>{esc(notes)}"
    return text


# -- release requests (a channel's approval policy) ------------------------------------------------

REQUEST_TITLE = "Release request"
REQUEST_APPROVE = "Approve"
REQUEST_REJECT = "Reject…"
REQUEST_CANCEL = "Cancel request"
REQUEST_PUBLIC_MARKER = ":warning: *Public*: once approved, anyone may call this version."
REQUEST_LABELS = {
    "build": "Build",
    "commit": "Commit",
    "version_type": "Version type",
    "callability": "Callability",
    "notes": "Release notes",
    "sample_input": "Sample input",
}
REJECT_MODAL_TITLE = "Reject request"
REJECT_MODAL_SUBMIT = "Reject"
REJECT_REASON_LABEL = "Reason (optional)"
NO_OPEN_REQUESTS = "This channel has no open release requests."
REQUESTS_TITLE = "Open release requests"
REQUEST_NEEDS_ID = "`/algo requests cancel|reject` needs the request's id (`/algo requests` lists them)."
REQUEST_ACTIONS_TAKE_ID = "`/algo requests` takes `cancel` or `reject` and a request id, or nothing to list them."
REQUEST_REASON_ONLY_REJECT = "reason= goes with `reject` only."
PUBLISH_REQUEST_ALONE = (
    "request= approves a release request exactly as it was asked for: leave out the version type, build=, "
    "notes=, callability= and sample_input=."
)


def release_requested(user_id: str, algorithm: str) -> str:
    """The request message's headline, and its fallback text."""
    return (
        f":eyes: <@{user_id}> asks to publish *{esc(algorithm)}*. This channel's policy needs a second "
        "person: someone else approves, and exactly this build is published."
    )


def release_requested_reject_intro(algorithm: str) -> str:
    return f"Reject the release request for *{esc(algorithm)}*? Nothing is published; the reason is shown on it."


def request_expires(expires: str, request_id: str) -> str:
    return f"Expires {expires} · request `{esc(request_id)}`"


def request_outcome(status: str, decided_by: str | None, version: str | None, reason: str | None) -> str:
    """The line a request message shows once decided (updated in place)."""
    who = f"<@{esc(decided_by)}>" if decided_by else "someone"
    because = f": {esc(reason)}" if reason else ""
    return {
        "approved": f":white_check_mark: Approved by {who}, published as *{esc(version)}*.",
        "publishing": f":hourglass_flowing_sand: Approved by {who}, publishing…",
        "rejected": f":no_entry_sign: Rejected by {who}{because}",
        "cancelled": f":x: Cancelled by {who}.",
        "expired": ":hourglass: Expired: nobody approved it in time. Nothing was published.",
        "closed": f":no_entry: Closed{because} Nothing was published.",
    }.get(status, esc(status))


def request_expired(user_id: str, algorithm: str, build_id: str) -> str:
    """Said once in the channel when a request lapses."""
    return (
        f":hourglass: The release request of <@{user_id}> for *{esc(algorithm)}* (build `{esc(build_id)}`) "
        "expired without an approval. Nothing was published; run `/algo publish` again to ask anew."
    )


def request_not_found(request_id: str) -> str:
    return (
        f":no_entry: This channel has no release request `{esc(request_id)}`. `/algo requests` lists the open ones. "
        "Nothing was changed."
    )


def request_no_build(algorithm: str) -> str:
    return (
        f":no_entry: *{esc(algorithm)}* has no succeeded build to publish, so no release request was made. "
        "Run `/algo compile` first."
    )


def not_a_request_id(text: str) -> str:
    return f"'{esc(text)}' is not a release request id: ids are 8 letters and digits, as `/algo requests` lists them."


def request_already_published(algorithm: str, build_id: str, version: str) -> str:
    return (
        f":no_entry: Build `{esc(build_id)}` of *{esc(algorithm)}* was already published as *{esc(version)}*, "
        "so no release request was made. Compile a new build first."
    )


def request_newer_build(algorithm: str, build_id: str, newer: dict) -> str:
    """Approving a request whose pinned build is no longer the newest: nothing is published."""
    status = str(newer.get("status") or "")
    newer_text = _build_and_commit(str(newer.get("build_id") or ""), newer.get("commit_sha"))
    return (
        f":no_entry: The request pins build `{esc(build_id)}` of *{esc(algorithm)}*, but {newer_text} is newer and "
        f"{BUILD_STATUS_NEWER.get(status, esc(status))}. Nothing was published."
    )


SELF_APPROVAL = ":no_entry: You asked for this release, so someone else must approve it. Nothing was published."


def request_cancel_not_yours(requester: str) -> str:
    return (
        f":no_entry: Only <@{esc(requester)}>, who asked for this release, can cancel it; anyone else may "
        "*Reject* it. Nothing was changed."
    )


def request_already_decided(status: str, decided_by: str | None, version: str | None, reason: str | None) -> str:
    """Someone else got there first (two approvers at once, or an approval after a rejection)."""
    outcome = request_outcome(status, decided_by, version, reason)
    return f":information_source: This request is no longer open. {outcome}"


def request_stays_open(text: str) -> str:
    """An approval that failed safe: the reason, and that nothing changed about the request."""
    return f"{text}\nThe request stays open; its requester can cancel it and ask again for the newer build."


def request_closed_published(build_id: str, version: str) -> str:
    return f" build `{esc(build_id)}` was already published as *{esc(version)}*."


def request_closed_unpublishable(build_id: str, status: str) -> str:
    return f" build `{esc(build_id)}` {BUILD_STATUS_NEWER.get(status, esc(status))}, so it can no longer be published."


def request_closed(text: str) -> str:
    """The approver is told why the request closed instead of publishing."""
    return f":no_entry: The request is closed:{text} Nothing was published."


def request_approved_announcement(published_text: str, requester: str, approver: str) -> str:
    return f"{published_text}\nRequested by <@{esc(requester)}>, approved by <@{esc(approver)}>."


def request_rejected_or_cancelled(status: str, user_id: str, algorithm: str) -> str:
    """The ephemeral confirmation to whoever rejected or cancelled."""
    verb = "rejected" if status == "rejected" else "cancelled"
    return f"You {verb} the release request for *{esc(algorithm)}*. Nothing was published."


def request_line(
    request_id: str, requester: str, algorithm: str, build_id: str, commit: str | None, expires: str, public: bool
) -> str:
    """One open request in `/algo requests`."""
    marker = " · :warning: *public*" if public else ""
    return (
        f"`{esc(request_id)}` · *{esc(algorithm)}* {_build_and_commit(build_id, commit)} · asked by <@{esc(requester)}>"
        f" · expires {expires}{marker}"
    )


# What Algorithmia did stands even when algobot could not record it or Slack would not show it.
DATABASE_BUSY = (
    ":hourglass: algobot's database is locked by another process, so nothing was changed. "
    "Try again in a minute; if it keeps happening, tell whoever runs algobot."
)


def unrecorded(action: str, algorithm: str | None, build_id: str | None, result: str | None) -> str:
    """The command reached Algorithmia but its record (audit row, tracked build) waits in memory."""
    subject = f" of *{esc(algorithm)}*" if algorithm else ""
    if build_id:
        return (
            f":warning: Build `{esc(build_id)}`{subject} started at Algorithmia, but algobot could not record it "
            "yet: its database is locked. It keeps the record in memory and follows the build, posting how it "
            "ends here, as soon as the database answers."
        )
    done = f" ({esc(result)})" if result else ""
    return (
        f":warning: `/algo {esc(action)}`{subject} was done at Algorithmia{done}, but algobot could not write it to "
        "the audit trail yet: its database is locked. It keeps the record in memory and writes it as soon as "
        "the database answers."
    )


def announcement_refused(announcement: str, followed: bool) -> str:
    """Slack refused the channel message of a command that succeeded: the caller sees it instead."""
    text = ":warning: Slack refused to post this in the channel, so only you see it:\n" + announcement
    if followed:
        text += "\nalgobot follows the build and will post how it ends in the channel as a new message."
    return text


def confirm_public_publish(algorithm: str) -> str:
    return (
        f":warning: Publishing *{esc(algorithm)}* with *public* callability lets any Algorithmia user call it. "
        "Publish anyway?"
    )


CONFIRM_PUBLIC_TITLE = "Publish publicly?"
CONFIRM_PUBLIC_BODY = "Any Algorithmia user will be able to call this version."
CONFIRM_PUBLIC_YES = "Publish publicly"
CONFIRM_CANCELLED = "Publishing was cancelled; nothing changed."
BUTTON_VALUE_TOO_LONG = "these options are too long to carry on a confirmation button; shorten notes=."
NO_BUILDS = "{algorithm} has no builds yet: push code or run `/algo compile {algorithm}`."
NO_VERSIONS = "{algorithm} has no published versions yet."
NO_AUDIT = "Nothing has been recorded for this channel yet."


def audit_title(algorithm: str | None) -> str:
    """The heading of `/algo audit` (a plain-text header: nothing to escape)."""
    return f"Audit trail of {algorithm}" if algorithm else "Audit trail of this channel"


# How `/algo audit` words a row: the command as people type it, where it came from, on what, the
# outcome. The stored row keeps the machine form (action "button:logs", raw ids) for `audit export`.
AUDIT_VIA = {"button": " (with a button)", "modal": " (in a dialog)", "cli": " (from the command line)"}
AUDIT_SYSTEM_ACTIONS = {
    "notify": "stopped this channel's build notices",
    "uninstall": "forgot the workspace after it removed the app",
    "anchor": "sealed the audit trail",
    "checkpoint": "posted an audit checkpoint",
    "expire": "expired the release request nobody approved",
}
# The steps of a release request (publish under a channel's approval policy), in words.
AUDIT_REQUEST_ACTIONS = {
    "request": "asked for a release",
    "reject": "rejected the release request",
    "cancel": "cancelled the release request",
}
AUDIT_REFUSED_CONFIGURE = "refused: only workspace admins, the bot's admins and the channel's configurers may do that"
AUDIT_REFUSED_CHANGE = "refused: not on this channel's allow list"
AUDIT_REFUSED_PERSONAL = "refused: this channel's changes need the person's own key, and they had none"


def audit_entry(row: dict, *, configure_actions: frozenset[str]) -> str:
    """One audit row in words: outcome, who, what (as the command is typed), on what, result, when.

    Internal ids (build ids, created algorithm ids) are not shown; versions and masked keys are.
    """
    action, source = str(row.get("action") or ""), str(row.get("source") or "")
    name = action.split(":", 1)[-1]
    user = str(row.get("user_id") or "")
    if source == "system":
        who, what = "algobot", AUDIT_SYSTEM_ACTIONS.get(name, esc(name))
    else:
        who = "An operator" if source == "cli" else f"<@{esc(user)}>"
        what = f"ran `/algo {esc(name)}`{AUDIT_VIA.get(source, '')}"
        if name in AUDIT_REQUEST_ACTIONS:
            what = AUDIT_REQUEST_ACTIONS[name]
    arguments = row.get("arguments") if isinstance(row.get("arguments"), dict) else {}
    target = ""
    if row.get("algorithm") and (name in AUDIT_REQUEST_ACTIONS or name == "expire"):
        target = f" of *{esc(row['algorithm'])}*"
        if arguments.get("build_id"):
            target += f" (build `{esc(arguments['build_id'])}`)"
        target += AUDIT_VIA.get(source, "") if name in AUDIT_REQUEST_ACTIONS else ""
    elif row.get("algorithm"):
        target = f" on *{esc(row['algorithm'])}*"
    elif name in ("allow", "deny") and row.get("result"):
        target = f" for <@{esc(row['result'])}>"
    outcome = str(row.get("outcome") or "")
    if outcome == "refused" and arguments.get("request_id") and row.get("error"):
        tail = f" — refused: {esc(str(row['error'])[:300])}"  # the request's own rules, not a permission
    elif outcome == "refused":
        tail = f" — {AUDIT_REFUSED_CONFIGURE if name in configure_actions else AUDIT_REFUSED_CHANGE}"
        if row.get("error") == AUDIT_NO_PERSONAL_KEY:
            tail = f" — {AUDIT_REFUSED_PERSONAL}"
    elif outcome == "error":
        reason = " ".join(str(row.get("error") or "").split())
        tail = f" — failed: {esc(reason[:300])}" if reason else " — failed"
    elif name == "publish" and row.get("result"):
        tail = f" → version *{esc(row['result'])}*"
        if arguments.get("requested_by"):
            tail += f", requested by <@{esc(arguments['requested_by'])}>"
    elif name == "reject" and arguments.get("reason"):
        tail = f": {esc(str(arguments['reason'])[:300])}"
    elif name == "login" and row.get("result"):
        tail = f" → key `{esc(row['result'])}`"
    else:
        tail = ""
    arguments = row.get("arguments")
    if isinstance(arguments, dict) and arguments.get("acted_with") == "personal":
        what += " with their own key"
    elif isinstance(arguments, dict) and name in ("login", "logout") and arguments.get("scope") == "personal":
        what += " for their own key"
    emoji = {"ok": ":white_check_mark:", "error": ":x:", "refused": ":no_entry:"}.get(outcome, "")
    return f"{emoji} {who} {what}{target}{tail} · {slack_date(row.get('time'))}"


def audit_checkpoint(rows: int, head: str, moment: datetime) -> str:
    """The daily checkpoint posted to ALGOBOT_AUDIT_CHANNEL: a record of the trail kept outside it."""
    return (
        f":lock: Audit checkpoint, {moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC: the trail has *{rows}* rows, "
        f"head hash `{head}`. To check later that nothing up to here was removed or rewritten: "
        f"`algobot audit verify --head {head} --rows {rows}`"
    )


NO_RELEASES = "{algorithm} has no published version yet."
FULL_LOG_COMMENT = "Full build log of *{algorithm}* build `{build_id}`, requested by <@{user_id}>."
FULL_LOG_PRIVATE = (
    ":page_facing_up: I sent you the full log of *{algorithm}* build `{build_id}` in your direct "
    "messages with algobot: reads answer only you, and build logs can hold secrets."
)
FULL_LOG_NEEDS_IM_WRITE = (
    ":warning: I could not send you the full log privately: this installation of algobot lacks Slack's "
    "`im:write` scope. Ask whoever runs algobot to reinstall the app with the current manifest; nothing "
    "was posted to the channel."
)
FULL_LOG_NOT_IN_CHANNEL = (
    ":page_facing_up: I'm not a member of this channel, so I sent the full log to your direct messages "
    "with algobot instead. `/invite` me here to get logs in the notice's thread."
)
LOG_EMPTY = "(the build printed nothing)"
MORE = "More"
FULL_LOG = "Full log"

# -- build notifications -------------------------------------------------------------------------

BUILD_STATUS_WORD = {"succeeded": "succeeded", "failed": "failed", "in-progress": "is running"}
REBUILD = "Rebuild"
PUBLISH_ELLIPSIS = "Publish…"
LOG_TAIL_HEADER = "Last {count} line{s} of the build log:"
PUBLISH_MODAL_TITLE = "Publish"
PUBLISH_MODAL_INTRO = "Publish the newest build of *{algorithm}* as a new version."


def _build_and_commit(build_id: str | None, commit: str | None) -> str:
    """`build `b1` (commit `abc1234`)`, or whichever of the two is known."""
    parts = []
    if build_id:
        parts.append(f"build `{esc(build_id)}`")
    if commit:
        parts.append(f"(commit `{esc(commit[:7])}`)" if build_id else f"commit `{esc(commit[:7])}`")
    return " ".join(parts)


BUILD_STATUS_NEWER = {"succeeded": "succeeded", "failed": "failed", "in-progress": "is still running"}


def newer_build_exists(algorithm: str, build_id: str, newer: dict) -> str:
    """Publishing from an older build's notice: name the newer build and its status."""
    status = str(newer.get("status") or "")
    newer_text = _build_and_commit(str(newer.get("build_id") or ""), newer.get("commit_sha"))
    text = (
        f":no_entry: Build `{esc(build_id)}` is no longer the newest of *{esc(algorithm)}*: {newer_text} is "
        f"newer and {BUILD_STATUS_NEWER.get(status, esc(status))}. Nothing was published."
    )
    if status == "succeeded":
        return text + " To release the newer one, publish from its notice or here:"
    return text + " Publish from its notice once it has succeeded."


def will_publish(build_id: str, commit: str | None) -> str:
    """Under the public-publish question: what confirming will release."""
    return f"Confirming publishes {_build_and_commit(build_id, commit)}, or nothing if a newer build exists by then."


def build_not_publishable(algorithm: str, build_id: str, status: str) -> str:
    return (
        f":no_entry: Build `{esc(build_id)}` of *{esc(algorithm)}* {BUILD_STATUS_NEWER.get(status, esc(status))}; "
        "only a succeeded build can be published. Nothing was published."
    )


def publish_modal_intro(algorithm: str, build_id: str | None, commit: str | None) -> str:
    """The dialog says exactly which build and commit it will publish."""
    if not build_id:
        return PUBLISH_MODAL_INTRO.format(algorithm=esc(algorithm))
    return (
        f"Publish {_build_and_commit(build_id, commit)} of *{esc(algorithm)}* as a new version. "
        "If a newer build has succeeded meanwhile, nothing is published and I'll tell you."
    )


# -- calling an algorithm: /algo call and Try ----------------------------------------------------

TRY = "Try"
TRY_MODAL_TITLE = "Try this build"
TRY_INPUT_LABEL = "Input"
TRY_INPUT_HINT = 'Sent as JSON when it parses as JSON ("Sam" or {"name": "Sam"}), else as text.'
TRY_SUBMIT = "Call"
CALL_INPUT_HELP = (
    'sent as JSON when it parses as JSON, else as text; quote JSON in single quotes: input=\'{"name": "Sam"}\''
)
CALL_TIMEOUT_HELP = "seconds the algorithm may run"


def try_modal_intro(algorithm: str, build_id: str | None, commit: str) -> str:
    """The Try dialog names the build and commit it calls, and where the answer goes."""
    return (
        f"Call {_build_and_commit(build_id, commit)} of *{esc(algorithm)}*; the result is posted in the "
        "notice's thread. A call costs credits."
    )


def publish_modal_tried(line: str) -> str:
    return f":test_tube: Tried here, it answered: {esc(line)}"


def call_input_mangled(value: str) -> str:
    """JSON whose double quotes the command line removed (shell-style quoting) reaches us broken."""
    return (
        f"input `{esc(value[:80])}` starts like JSON but is not valid JSON. Slack command quoting removes "
        'double quotes: put JSON in single quotes, e.g. input=\'{"name": "Sam"}\'.'
    )


def call_target_bad(target: str) -> str:
    return (
        f"'{target}' is not an algorithm to call: write USER/ALGO, USER/ALGO/VERSION (1.2.3, 1.*, latest) "
        "or USER/ALGO/COMMIT for a build of your own algorithm, e.g. demo/hello/0.1.0."
    )


def call_headline(algorithm: str, version: str | None, content_type: str, duration: float | None) -> str:
    """Above a result: what was called, what came back and how long it ran (as Algorithmia reports)."""
    took = f" in {duration:.3f} s" if duration is not None else ""
    return f":white_check_mark: *{esc(algorithm)}* {_called_version(version)} answered{took} · {esc(content_type)}"


def tried_headline(user_id: str, algorithm: str, commit: str, content_type: str, duration: float | None) -> str:
    took = f" in {duration:.3f} s" if duration is not None else ""
    return (
        f":test_tube: <@{user_id}> tried *{esc(algorithm)}* at commit `{esc(commit[:7])}`: "
        f"answered{took} · {esc(content_type)}"
    )


def _called_version(version: str | None) -> str:
    return f"`{esc(version)}`" if version else "(latest version)"


def call_failed(algorithm: str, version: str | None, message: str, user_id: str | None = None) -> str:
    """The algorithm's own error, as it said it."""
    who = f"<@{user_id}> tried it: " if user_id else ""
    return f":x: {who}*{esc(algorithm)}* {_called_version(version)} failed: {esc(message)}"


def call_not_found(algorithm: str, version: str | None) -> str:
    return (
        f":mag: No callable version of *{esc(algorithm)}* matches {_called_version(version)}, or no such algorithm. "
        "Without a version the latest published one is called; a commit hash works for your own "
        f"algorithm's builds only. `/algo versions {esc(algorithm)}` lists versions."
    )


CALL_RESULT_CUT = "{cut} more characters not shown"
CALL_BINARY_RESULT = "{size} bytes of binary data (base64 below)"
CALL_VOID_RESULT = "(no result: the call was not waited for)"


PUBLISH_VERSION_LABEL = "Version type"
PUBLISH_NOTES_LABEL = "Release notes"
PUBLISH_CALLABILITY_LABEL = "Who may call it"
PUBLISH_SAMPLE_LABEL = "Sample input"


def build_notice(status: str, algorithm: str, build_id: str) -> str:
    return f"Build `{esc(build_id)}` of *{esc(algorithm)}* {BUILD_STATUS_WORD.get(status, esc(status))}"


_ONLY_PHRASES = {
    "all": "every build and release",
    "failed": "failed builds",
    "succeeded": "succeeded builds",
    "changes": "builds that break or fix it",
    "releases": "releases",
}


def only_phrase(only: str) -> str:
    """What a stored ``only=`` value posts, in words ("failed builds and releases")."""
    words = [word for word in only.split(",") if word] or ["all"]
    phrases = [_ONLY_PHRASES.get(word, esc(word)) for word in words]
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def only_empty(raw: str) -> str:
    return f"only= takes a comma list of words without blanks, e.g. only=failed,releases, not '{raw}'."


def only_unknown(word: str, words: Sequence[str]) -> str:
    return f"only= takes a comma list of {', '.join(words)}; '{word}' is not one of them."


ONLY_ALL_ALONE = "only=all already means every build and release: give it alone, or list just what you want."
ONLY_CHANGES_ALONE = (
    "only=changes already picks which failed and succeeded builds to post: give it without failed or "
    "succeeded (only=changes,releases adds releases)."
)


def watching_started(user_id: str, algorithm: str, only: str, mention: bool = True) -> str:
    quiet = "" if mention else " Failures mention nobody."
    return f":eyes: <@{user_id}> subscribed this channel to {only_phrase(only)} of *{esc(algorithm)}*.{quiet}"


def build_failed_mention(user_id: str) -> str:
    """The line of a failed build notice that pings the person who started the build."""
    return f"<@{user_id}>, this build of yours failed."


def broken_since(commit: str | None, failures: int) -> str:
    """A failed build's place in its failing streak (``only=changes`` and every watched failure)."""
    count = "" if failures < 2 else f" ({failures} failed builds in a row)"
    return f"Broken since `{esc((commit or '?')[:12])}`{count}"


def fixed_after(failures: int) -> str:
    return f"Fixed after {failures} failed build{'s' if failures != 1 else ''}"


def me_shown(name: str | None) -> str:
    """`/algo me`: which Algorithmia user the person said they are."""
    if name is None:
        return (
            "You have not said which Algorithmia user you are. `/algo me algorithmia=USERNAME` lets failed "
            "builds and releases of that user's algorithms mention you."
        )
    return f"You are *{esc(name)}* on Algorithmia: failed builds and releases of `{esc(name)}/…` mention you."


def me_set(name: str) -> str:
    return (
        f":bust_in_silhouette: Noted: you are *{esc(name)}* on Algorithmia. Failed builds and releases of "
        f"`{esc(name)}/…` in watching channels of this workspace will mention you (unless a channel said mention=off)."
    )


def release_notice(algorithm: str, version: str) -> str:
    return f":rocket: *{esc(algorithm)}* *{esc(version)}* was published"


def release_requested_and_approved(requested_by: str, approved_by: str) -> str:
    return f"requested by <@{requested_by}>, approved by <@{approved_by}>"


def release_published_by(user_id: str) -> str:
    return f"published from Slack by <@{user_id}>"


RELEASE_OUTSIDE_SLACK = "published outside Slack"


def release_owner(user_id: str) -> str:
    """Who a release made outside Slack is attributed to: the person mapped to the algorithm's owner."""
    return f"owner <@{user_id}>"


def watching_stopped(user_id: str, algorithms: list[str]) -> str:
    names = ", ".join(f"*{esc(a)}*" for a in algorithms)
    return f":see_no_evil: <@{user_id}> unsubscribed this channel from {names}."


def not_watching(algorithm: str | None) -> str:
    if algorithm:
        return f"This channel does not watch *{esc(algorithm)}*; nothing changed."
    return "This channel watches nothing; nothing changed."


NOTHING_WATCHED = "This channel watches no algorithm. Start with `/algo watch USER/ALGO`."


def watching_line(algorithm: str, only: str, created_by: str, mention: bool = True) -> str:
    quiet = ", failures mention nobody" if not mention else ""
    return f"• *{esc(algorithm)}* — {only_phrase(only)} (set up by <@{created_by}>{quiet})"


def outage_notice(endpoint: str, minutes: int) -> str:
    return (
        f":warning: Algorithmia at {esc(endpoint)} has been unreachable for {minutes} minutes. Builds stay "
        "tracked; notices will follow when it answers again."
    )


def recovery_notice(endpoint: str) -> str:
    return f":white_check_mark: Algorithmia at {esc(endpoint)} answers again; build notices resume."


AUTH_NOTICE = (
    ":key: Algorithmia refused this channel's key while checking builds, so build notices have stopped. "
    "Run `/algo login` with a key that may manage these algorithms to resume them."
)


def still_running_notice(algorithm: str, build_id: str, hours: int) -> str:
    return (
        f":hourglass: Build `{esc(build_id)}` of *{esc(algorithm)}* has been running for over {hours} hours; "
        "I'll still post when it ends."
    )


def build_gone_notice(algorithm: str, build_id: str) -> str:
    return f":grey_question: Build `{esc(build_id)}` of *{esc(algorithm)}* no longer exists; I stopped tracking it."


def algorithm_gone_notice(algorithm: str) -> str:
    return f":grey_question: *{esc(algorithm)}* no longer exists (or this key cannot see it); I stopped watching it."
