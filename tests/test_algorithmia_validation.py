"""The client's checks before any request: a person gets a sentence they can act on."""

import pytest

from algobot.algorithmia import (
    AlgorithmiaClient,
    AlgorithmiaError,
    InvalidInput,
    encode_sample_input,
    normalize_version_type,
    split_algo_name,
    validate_settings,
    validate_version_info,
)
from algobot.parsing import UsageError


@pytest.mark.parametrize(
    "name, problem",
    [
        ("hello", "write it as USER/ALGO"),
        ("a/b/c", "write it as USER/ALGO"),
        ("demo/1hello", "start with a letter"),
        ("demo/hello-world", "only letters, digits and underscores"),
        ("de mo/hello", "not a valid user name"),
    ],
)
def test_algorithm_names(name, problem):
    with pytest.raises(UsageError, match=problem):
        split_algo_name(name)


def test_valid_name_splits():
    assert split_algo_name("demo/hello_2") == ("demo", "hello_2")


@pytest.mark.parametrize(
    "settings, problem",
    [
        ({"language": "cobol"}, "language must be one of"),
        ({"license": "wtfpl"}, "license must be one of"),
        ({"pipeline_enabled": "maybe"}, "pipeline_enabled must be true or false"),
        ({"royalty_microcredits": "-1"}, "royalty_microcredits must be a whole number"),
        ({"royalty_microcredits": True}, "royalty_microcredits must be a whole number"),
        ({"colour": "red"}, "'colour' is not a setting"),
        ({"algorithm_callability": "everyone"}, "algorithm_callability must be one of"),
    ],
)
def test_settings_are_checked(settings, problem):
    with pytest.raises(UsageError, match=problem):
        validate_settings(settings)


def test_settings_are_normalised():
    assert validate_settings({"pipeline_enabled": "off", "royalty_microcredits": "5", "environment": "gpu"}) == {
        "pipeline_enabled": False,
        "royalty_microcredits": 5,
        "environment": "gpu",
    }


def test_version_types_and_patch_alias():
    assert normalize_version_type(None) == "minor"
    assert normalize_version_type("PATCH") == "revision"
    with pytest.raises(UsageError, match="major, minor or revision"):
        normalize_version_type("huge")
    assert validate_version_info({"type": "major"}, publish=True)["version_type"] == "major"
    with pytest.raises(UsageError, match="only applies to publish"):
        validate_version_info({"version_type": "major"}, publish=False)


def test_sample_input_is_always_sent_as_a_string():
    assert encode_sample_input({"text": "hi"}) == '{"text": "hi"}'
    assert encode_sample_input([1, 2]) == "[1, 2]"
    assert encode_sample_input("raw") == "raw"


def test_limits_are_bounded_before_sending():
    client = AlgorithmiaClient("simUnused", "http://127.0.0.1:9")
    for bad in (0, 1001, True):
        with pytest.raises(UsageError, match="limit must be a whole number from 1 to 1000"):
            client.builds("demo/hello", limit=bad)
    assert client.request_count == 0


def test_the_key_is_not_in_the_repr():
    client = AlgorithmiaClient("simSecretKeyValue1234567", "http://127.0.0.1:9")
    assert "simSecret" not in repr(client)


def test_local_problems_are_usage_errors_and_the_apis_refusals_are_not(sandbox):
    """One type for what was mistyped (shown with the usage), another for what Algorithmia said."""
    client = sandbox.client("demo")
    with pytest.raises(UsageError) as mistyped:
        client.info("demo/hello\n")
    assert not isinstance(mistyped.value, AlgorithmiaError)
    assert client.request_count == 0
    sandbox.create_algorithm("demo/hello")
    with pytest.raises(InvalidInput, match="push code first") as refused:
        client.compile("demo/hello")
    assert refused.value.status == 400 and not isinstance(refused.value, UsageError)
