"""Action, callback and block ids shared by the Block Kit builders and the Bolt listeners."""

# Buttons that re-run a subcommand through the dispatcher; their value carries the command.
ACTION_MORE_BUILDS = "algo_more_builds"
ACTION_MORE_VERSIONS = "algo_more_versions"
ACTION_FULL_LOG = "algo_full_log"
ACTION_CONFIRM_PUBLISH = "algo_confirm_publish"
ACTION_CANCEL = "algo_cancel"

COMMAND_ACTIONS = (ACTION_MORE_BUILDS, ACTION_MORE_VERSIONS, ACTION_FULL_LOG, ACTION_CONFIRM_PUBLISH)

# The login modal.
VIEW_LOGIN = "algo_login"
BLOCK_LOGIN_KEY = "api_key"
ACTION_LOGIN_KEY = "api_key_input"
BLOCK_LOGIN_ENDPOINT = "endpoint"
ACTION_LOGIN_ENDPOINT = "endpoint_input"
