"""Action, callback and block ids shared by the Block Kit builders and the Bolt listeners."""

# Buttons that re-run a subcommand through the dispatcher; their value carries the command.
ACTION_MORE_BUILDS = "algo_more_builds"
ACTION_MORE_VERSIONS = "algo_more_versions"
ACTION_MORE_RELEASES = "algo_more_releases"
ACTION_FULL_LOG = "algo_full_log"
ACTION_CONFIRM_PUBLISH = "algo_confirm_publish"
ACTION_REBUILD = "algo_rebuild"
# A release request's Approve (`publish ALGO request=ID`) and Cancel (`requests cancel ID`).
ACTION_APPROVE_REQUEST = "algo_approve_request"
ACTION_CANCEL_REQUEST = "algo_cancel_request"
COMMAND_ACTIONS = (
    ACTION_MORE_BUILDS,
    ACTION_MORE_VERSIONS,
    ACTION_MORE_RELEASES,
    ACTION_FULL_LOG,
    ACTION_CONFIRM_PUBLISH,
    ACTION_REBUILD,
    ACTION_APPROVE_REQUEST,
    ACTION_CANCEL_REQUEST,
)

ACTION_CANCEL = "algo_cancel"

# The login modal.
VIEW_LOGIN = "algo_login"
BLOCK_LOGIN_KEY = "api_key"
ACTION_LOGIN_KEY = "api_key_input"
BLOCK_LOGIN_ENDPOINT = "endpoint"
ACTION_LOGIN_ENDPOINT = "endpoint_input"
BLOCK_LOGIN_SCOPE = "scope"  # this channel's key, or the person's own ("for me")
ACTION_LOGIN_SCOPE = "scope_choice"
LOGIN_SCOPE_CHANNEL = "channel"
LOGIN_SCOPE_ME = "me"

# "Publish…" on a build notice opens this modal.
ACTION_OPEN_PUBLISH = "algo_open_publish"
VIEW_PUBLISH = "algo_publish"
BLOCK_PUBLISH_VERSION = "version_type"
ACTION_PUBLISH_VERSION = "version_type_select"
BLOCK_PUBLISH_NOTES = "notes"
ACTION_PUBLISH_NOTES = "notes_input"
BLOCK_PUBLISH_CALLABILITY = "callability"
ACTION_PUBLISH_CALLABILITY = "callability_select"
BLOCK_PUBLISH_SAMPLE = "sample_input"
ACTION_PUBLISH_SAMPLE = "sample_input_input"

# "Try" on a succeeded build's notice opens this modal.
ACTION_OPEN_TRY = "algo_open_try"
VIEW_TRY = "algo_try"
BLOCK_TRY_INPUT = "try_input"
ACTION_TRY_INPUT = "try_input_input"
# A release request's Reject… opens this modal (an optional reason).
ACTION_REJECT_REQUEST = "algo_reject_request"
VIEW_REJECT_REQUEST = "algo_reject"
BLOCK_REJECT_REASON = "reason"
ACTION_REJECT_REASON = "reason_input"
