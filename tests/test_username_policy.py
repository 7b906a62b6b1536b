"""Username policy: Logto's config shape and base rule, Portico's four rejection codes."""

from __future__ import annotations

from typing import Any

import pytest

from portico.services.password_policy import Rejection
from portico.services.username_policy import UsernamePolicy, check_username, normalise_username

LOGTO_DEFAULTS = {
    "caseSensitive": True,
    "minLength": 1,
    "maxLength": 128,
    "allowedChars": {"lowercase": True, "uppercase": True, "numbers": True, "underscore": True},
}
ALL = ["lowercase", "uppercase", "numbers", "underscore"]


def codes(username: str, config: dict[str, Any] | None = None) -> list[str]:
    return [r.code for r in check_username(username, UsernamePolicy.from_config(config))]


def test_empty_config_gives_logto_defaults() -> None:
    assert UsernamePolicy.from_config({}).to_config() == LOGTO_DEFAULTS
    assert UsernamePolicy.from_config(None) == UsernamePolicy()


def test_partial_config_merges_and_round_trips() -> None:
    config = UsernamePolicy.from_config(
        {"caseSensitive": False, "allowedChars": {"numbers": False}}
    ).to_config()
    assert config == {
        **LOGTO_DEFAULTS,
        "caseSensitive": False,
        "allowedChars": {**LOGTO_DEFAULTS["allowedChars"], "numbers": False},
    }
    assert UsernamePolicy.from_config(config).to_config() == config


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"minLength": 0}, r"usernamePolicy\.minLength: must be between 1 and 128, got 0"),
        ({"maxLength": 129}, r"usernamePolicy\.maxLength: must be between 1 and 128, got 129"),
        ({"minLength": 10, "maxLength": 9}, r"usernamePolicy\.maxLength: must be between 10"),
        ({"caseSensitive": "yes"}, r"usernamePolicy\.caseSensitive: expected true or false"),
        ({"allowedChars": {"hyphen": True}}, r"usernamePolicy\.allowedChars\.hyphen: unknown"),
        (
            {"allowedChars": {"lowercase": False, "uppercase": False, "underscore": False}},
            r"usernamePolicy\.allowedChars: allow lowercase, uppercase or underscore",
        ),
        (
            {"caseSensitive": False, "allowedChars": {"lowercase": False}},
            r"usernamePolicy\.allowedChars\.lowercase: must be true when caseSensitive is false",
        ),
    ],
)
def test_invalid_config_is_refused_with_the_field_named(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match="^" + message):
        UsernamePolicy.from_config(config)


@pytest.mark.parametrize(
    "username", ["a", "Z", "_", "alice", "Alice_Smith", "_bot9", "a" * 128, "x1_2_3"]
)
def test_logto_shaped_usernames_pass_the_default_policy(username: str) -> None:
    assert codes(username) == []


@pytest.mark.parametrize(
    ("username", "config", "expected"),
    [
        ("", {}, [Rejection("username.too_short", {"min": 1})]),
        ("a" * 129, {}, [Rejection("username.too_long", {"max": 128})]),
        ("abc", {"minLength": 4}, [Rejection("username.too_short", {"min": 4})]),
        ("abcd", {"minLength": 4}, []),
        ("abcdef", {"maxLength": 6}, []),
        ("abcdefg", {"maxLength": 6}, [Rejection("username.too_long", {"max": 6})]),
    ],
)
def test_length_bounds_are_inclusive(
    username: str, config: dict[str, Any], expected: list[Rejection]
) -> None:
    assert check_username(username, UsernamePolicy.from_config(config)) == expected


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("9lives", ["username.invalid_start"]),
        ("0", ["username.invalid_start"]),
        ("john-doe", ["username.invalid_characters"]),
        ("john doe", ["username.invalid_characters"]),
        ("john.doe", ["username.invalid_characters"]),
        ("josé", ["username.invalid_characters"]),
        ("\u0430dmin", ["username.invalid_characters", "username.invalid_start"]),  # Cyrillic a
        ("-admin", ["username.invalid_characters", "username.invalid_start"]),
        ("김철수", ["username.invalid_characters", "username.invalid_start"]),
    ],
)
def test_base_rule_letters_digits_underscore_starting_with_letter_or_underscore(
    username: str, expected: list[str]
) -> None:
    assert codes(username) == expected


@pytest.mark.parametrize(
    ("username", "disallowed", "accepted"),
    [
        ("alice", "lowercase", False),
        ("ALICE", "lowercase", True),
        ("Alice", "uppercase", False),
        ("alice", "uppercase", True),
        ("alice2", "numbers", False),
        ("alice", "numbers", True),
        ("_alice", "underscore", False),
        ("alice", "underscore", True),
    ],
)
def test_allowed_chars_narrow_the_base_rule(username: str, disallowed: str, accepted: bool) -> None:
    policy = UsernamePolicy.from_config({"allowedChars": {disallowed: False}})
    expected = (
        []
        if accepted
        else [
            Rejection(
                "username.invalid_characters", {"allowed": [c for c in ALL if c != disallowed]}
            )
        ]
    )
    assert check_username(username, policy) == expected


def test_case_insensitive_policy_lower_cases_before_checking() -> None:
    policy = UsernamePolicy.from_config(
        {"caseSensitive": False, "allowedChars": {"uppercase": False}}
    )
    assert normalise_username("Alice_Smith", policy) == "alice_smith"
    assert check_username("Alice_Smith", policy) == []


def test_case_sensitive_policy_keeps_the_username_as_typed() -> None:
    policy = UsernamePolicy.from_config({})
    assert normalise_username("Alice_Smith", policy) == "Alice_Smith"
    strict = UsernamePolicy.from_config({"allowedChars": {"uppercase": False}})
    assert [r.code for r in check_username("Alice", strict)] == ["username.invalid_characters"]
