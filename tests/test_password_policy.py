"""Password policy: Logto's config shape and rejection codes; offline common-password check."""

from __future__ import annotations

import random
import string
from typing import Any

import pytest

from portico.services.password_policy import (
    PasswordPolicy,
    Rejection,
    check_password,
    common_passwords,
    is_common_password,
)

LOGTO_DEFAULTS = {
    "length": {"min": 8, "max": 256},
    "characterTypes": {"min": 1},
    "rejects": {"pwned": True, "repetitionAndSequence": True, "userInfo": True, "words": []},
}
ONLY_BASICS = {"rejects": {"pwned": False, "repetitionAndSequence": False, "userInfo": False}}
USER = {
    "username": "jsmith_77",
    "name": "John Smith",
    "primary_email": "john.doe-work@acme-corp.com",
    "primary_phone": "+44 20 7946 0958",
    "id": "ignored-key",
}
# Cycles through all four types without repeating a character or walking a sequence.
NEUTRAL = "Kp9&Xw2%Rm5!Tb8^"


def neutral(length: int) -> str:
    return (NEUTRAL * (length // len(NEUTRAL) + 1))[:length]


def codes(rejections: list[Rejection]) -> list[str]:
    return [rejection.code for rejection in rejections]


def policy(config: dict[str, Any] | None = None) -> PasswordPolicy:
    return PasswordPolicy.from_config(config)


# -- configuration --------------------------------------------------------------------------------


def test_empty_config_gives_logto_defaults() -> None:
    assert PasswordPolicy.from_config({}).to_config() == LOGTO_DEFAULTS
    assert PasswordPolicy.from_config(None) == PasswordPolicy()


def test_partial_config_merges_nested_defaults() -> None:
    config = policy({"length": {"max": 64}, "rejects": {"words": ["acme"]}}).to_config()
    assert config["length"] == {"min": 8, "max": 64}
    assert config["rejects"] == {**LOGTO_DEFAULTS["rejects"], "words": ["acme"]}
    assert PasswordPolicy.from_config(config).to_config() == config


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"length": {"min": 0}}, "passwordPolicy.length.min: must be between 1 and 256, got 0"),
        ({"length": {"min": 257, "max": 256}}, "passwordPolicy.length.min: must be between 1"),
        ({"length": {"max": 7}}, "passwordPolicy.length.max: must be between 8 and 256, got 7"),
        ({"length": {"max": 257}}, "passwordPolicy.length.max: must be between 8 and 256"),
        ({"characterTypes": {"min": 0}}, "passwordPolicy.characterTypes.min: must be between 1"),
        ({"characterTypes": {"min": 5}}, "passwordPolicy.characterTypes.min: must be between 1"),
        ({"length": {"min": "8"}}, "passwordPolicy.length.min: expected an integer"),
        ({"length": {"min": True}}, "passwordPolicy.length.min: expected an integer"),
        ({"rejects": {"pwned": 1}}, "passwordPolicy.rejects.pwned: expected true or false"),
        ({"rejects": {"words": "acme"}}, "passwordPolicy.rejects.words: expected a list"),
        ({"rejects": {"words": [1]}}, "passwordPolicy.rejects.words: expected a list"),
        ({"rejects": {"words": [" "]}}, "passwordPolicy.rejects.words: words must not be blank"),
        ({"lenght": {"min": 8}}, "passwordPolicy.lenght: unknown setting"),
        ({"length": {"minimum": 8}}, "passwordPolicy.length.minimum: unknown setting"),
        ({"length": 8}, "passwordPolicy.length: expected an object"),
    ],
)
def test_invalid_config_is_refused_with_the_field_named(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match="^" + message.replace(".", r"\.").replace("(", r"\(")):
        PasswordPolicy.from_config(config)


# -- length ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "length", "expected"),
    [
        ({}, 7, [Rejection("password_rejected.too_short", {"min": 8})]),
        ({}, 8, []),
        ({}, 256, []),
        ({}, 257, [Rejection("password_rejected.too_long", {"max": 256})]),
        (
            {"length": {"min": 12, "max": 16}},
            11,
            [Rejection("password_rejected.too_short", {"min": 12})],
        ),
        ({"length": {"min": 12, "max": 16}}, 12, []),
        ({"length": {"min": 12, "max": 16}}, 16, []),
        (
            {"length": {"min": 12, "max": 16}},
            17,
            [Rejection("password_rejected.too_long", {"max": 16})],
        ),
    ],
)
def test_length_bounds_are_inclusive(
    config: dict[str, Any], length: int, expected: list[Rejection]
) -> None:
    assert check_password(neutral(length), policy(config)) == expected


def test_too_long_is_reported_alone() -> None:
    overlong = "password" + "a" * 300
    assert codes(check_password(overlong, policy(), USER)) == ["password_rejected.too_long"]


def test_length_counts_code_points_not_utf16_units() -> None:
    assert check_password("🔑🔒🗝️🚪🔐🛡️🧷📎", policy(ONLY_BASICS)) == []  # 10 code points
    assert codes(check_password("🔑🔒🗝🚪🔐🛡🧷", policy(ONLY_BASICS))) == [
        "password_rejected.too_short"
    ]


# -- character types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "types"),
    [
        ("kpxwrmtb", 1),
        ("KPXWRMTB", 1),
        ("92847163", 1),
        ("!%&^*(=}", 1),
        ("kpxwRMTB", 2),
        ("kpxw9284", 2),
        ("kp xw rm", 2),  # space is a symbol
        ("Kpxw9284", 3),
        ("Kp9&Xw2%", 4),
        ("contraseña", 1),  # Latin letters with diacritics: lower-case
        ("Überweisung", 2),
        ("Пароль надёжный", 3),  # Cyrillic upper + lower, space
        ("비밀번호는안전해요", 1),  # caseless letters count as "a letter"
        ("我的密码非常安全", 1),
        ("كلمةالسر٣٤٥٦", 2),  # Arabic letters and Arabic-Indic digits
        ("नमस्तेदुनिया", 1),  # Devanagari: combining vowel signs add no type
        ("🔑🔒🚪🔐🧷📎🪪🗂", 1),  # emoji are symbols
    ],
)
def test_character_types_are_counted_across_scripts(password: str, types: int) -> None:
    assert check_password(password, policy({**ONLY_BASICS, "characterTypes": {"min": types}})) == []
    if types < 4:
        stricter = policy({**ONLY_BASICS, "characterTypes": {"min": types + 1}})
        assert check_password(password, stricter) == [
            Rejection("password_rejected.character_types", {"min": types + 1})
        ]


@pytest.mark.parametrize(
    "char",
    ["\t", "\n", "\x00", "\x7f", "\u2028", "\ue000", "\u0378", "\ud800", "\u200b"],
    ids=[
        "tab",
        "newline",
        "nul",
        "del",
        "line-sep",
        "private-use",
        "unassigned",
        "surrogate",
        "zwsp",
    ],
)
def test_unprintable_characters_are_unsupported(char: str) -> None:
    assert codes(check_password(f"Kp9&{char}Xw2%", policy(ONLY_BASICS))) == [
        "password_rejected.unsupported_characters"
    ]


def test_joiners_inside_emoji_and_words_are_supported() -> None:
    assert check_password("👩‍💻👨‍👩‍👧 می‌خواهم", policy(ONLY_BASICS)) == []


# -- repetition and sequences ---------------------------------------------------------------------

REPETITION = {"rejects": {"pwned": False, "userInfo": False}}


@pytest.mark.parametrize(
    ("password", "rejected"),
    [
        ("Kp9aaaXw", True),
        ("Kp9aAaXw", True),  # case-insensitive
        ("Kp9%%%Xw", True),
        ("Kp9   Xw", True),
        ("Kp9ñññXw", True),
        ("Kp9777Xw", True),
        ("Kp9aaXwa", False),  # two in a row is fine
        ("Kp9aXaXa", False),
    ],
)
def test_three_repeated_characters_are_rejected(password: str, rejected: bool) -> None:
    found = "password_rejected.restricted.repetition" in codes(
        check_password(password, policy(REPETITION))
    )
    assert found is rejected


@pytest.mark.parametrize(
    "sequence",
    [
        *("012", "123", "789", "987", "321", "210"),  # digits
        *("abc", "xyz", "ABC", "cba", "zyx", "mNo"),  # alphabet
        *("qwe", "uio", "asd", "jkl", "zxc", "bnm"),  # qwerty rows
        *("ewq", "poi", "lkj", "dsa", "mnb", "cxz"),  # qwerty rows backwards
        *("890", "90-", "op[", "l;'", "m,."),  # rows into punctuation
        *("!@#", "%^&", "*&^"),  # shifted digit row
        *("1qa", "qaz", "2ws", "3ed", "4rf", "5tg", "6yh", "7uj", "8ik", "9ol", "0p;"),  # columns
        *("zaq", "xsw", "cde", "vfr", "bgt", "nhy", "mju", "ki8", "lo9", ";p0"),  # columns upwards
    ],
)
def test_sequences_of_three_are_rejected(sequence: str) -> None:
    password = f"Wv{sequence}%Ghk"
    assert codes(check_password(password, policy(REPETITION))) == [
        "password_rejected.restricted.sequence"
    ]


@pytest.mark.parametrize("fragment", ["ace", "135", "901", "zab", "qwr", "awz", "1az", "p0o"])
def test_non_sequences_are_accepted(fragment: str) -> None:
    assert check_password(f"Wv{fragment}%Ghk", policy(REPETITION)) == []


def test_repetition_and_sequence_can_be_disabled() -> None:
    assert check_password("aaa123bbb", policy(ONLY_BASICS)) == []


# -- user info ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "field"),
    [
        ("Gh%jsmith_77W", "username"),
        ("Gh%JSMITH77W", "username"),  # joined parts, case-insensitive
        ("Gh%jsmithW", "username"),  # a part of the username
        ("Gh%SmithW", "name"),
        ("Gh%JohnW", "name"),
        ("Gh%johnsmithW", "name"),
        ("Gh%doework2W", "primary_email"),  # local part without its separators
        ("Gh%Work2W", "primary_email"),  # a piece of the local part
        ("Gh%acmeW", "primary_email"),  # domain label
        ("Gh%corp!W", "primary_email"),
        ("Gh%79460958W", "primary_phone"),  # subscriber number
        ("Gh%207946W", "primary_phone"),  # any six consecutive digits
        ("Gh%442079460958W", "primary_phone"),
    ],
)
def test_passwords_containing_user_info_are_rejected(password: str, field: str) -> None:
    rejections = check_password(password, policy({"rejects": {"pwned": False}}), USER)
    assert rejections == [Rejection("password_rejected.restricted.user_info", {"field": field})]


@pytest.mark.parametrize(
    ("password", "user"),
    [
        ("Gh%comW2x", USER),  # top-level domain is not personal
        ("Gh%0958W", USER),  # four digits of a phone are too common to forbid
        ("Gh%77Xw%", USER),  # a two-character username part
        ("Gh%jo li", {"name": "Jo Li"}),  # name parts under three characters
        (
            "Gh%Xw2%Rm",
            {"username": None, "name": None, "primary_email": None, "primary_phone": None},
        ),
        ("Gh%Xw2%Rm", {"primary_email": "not-an-email", "primary_phone": "12"}),
        ("Gh%jsmithW", {}),
    ],
)
def test_unrelated_or_too_short_user_info_is_accepted(password: str, user: dict[str, Any]) -> None:
    assert check_password(password, policy({"rejects": {"pwned": False}}), user) == []


def test_user_info_check_can_be_disabled() -> None:
    relaxed = policy({"rejects": {"userInfo": False, "pwned": False}})
    assert check_password("Gh%jsmith_77W", relaxed, USER) == []


# -- custom words ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "matched"),
    [
        ("Gh%AcmeW2x", ["acme"]),
        ("Gh%ACME-PortalW", ["acme", "Portal"]),
        ("Gh%porTALW2x", ["Portal"]),
        ("Gh%StraßeW", ["STRASSE"]),  # case folding, not just lower-casing
        ("Gh%acmW2xpor", []),
    ],
)
def test_custom_words_are_matched_case_insensitively(password: str, matched: list[str]) -> None:
    custom = policy({"rejects": {"words": ["acme", "Portal", "STRASSE"], "pwned": False}})
    expected = [Rejection("password_rejected.restricted.words", {"words": matched})]
    assert check_password(password, custom) == (expected if matched else [])


# -- common passwords -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        *("password", "123456", "qwerty123", "iloveyou", "12345678", "sunshine", "football"),
        *("PASSWORD", "Password1", "Password123!", "Dragon2024!", "iloveyou!!"),  # case, suffix
        *("P@ssw0rd", "p1nn4cl3", "f1ower", "5unsh1ne", "$unshine", "sh4d0w"),  # leetspeak
    ],
)
def test_common_passwords_are_rejected_as_pwned(password: str) -> None:
    assert "password_rejected.pwned" in codes(check_password(password, policy()))
    assert check_password(password, policy({"rejects": {"pwned": False}})) == [
        r for r in check_password(password, policy()) if r.code != "password_rejected.pwned"
    ]


@pytest.mark.parametrize(
    "password",
    ["monkey83927", "Gh%lovely river stone", "sunshineXk9#mP2", "contraseña larga del río"],
)
def test_long_passwords_built_on_a_common_word_are_not_pwned(password: str) -> None:
    assert not is_common_password(password)


def test_bundled_list_is_large_and_normalised() -> None:
    words = common_passwords()
    assert len(words) >= 10_000
    assert all(word == word.casefold() and word.strip() == word for word in words)
    assert {"123456", "password", "qwerty", "iloveyou", "dragon"} <= words
    assert common_passwords() is words  # loaded once


# -- whole policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "Xk9#mP2$vL7@qR4!wZ",
        "correct-Horse-battery-staple",
        "Gh%lovely river stone",
        "Tä9!ßørgé-flüß",
    ],
)
def test_strong_passwords_pass_the_default_policy(password: str) -> None:
    assert check_password(password, policy(), USER) == []


def test_random_strong_password_passes_the_strictest_policy() -> None:
    rng = random.Random(2024)
    alphabet = string.ascii_letters + string.digits + "!#%&*+-=?@^_~"
    strict = policy({"length": {"min": 16}, "characterTypes": {"min": 4}})
    password = "".join(rng.choice(alphabet) for _ in range(20)) + "aZ3!"
    assert check_password(password, strict, USER) == []


def test_all_rules_are_reported_together_in_a_stable_order() -> None:
    strict = policy({"characterTypes": {"min": 3}, "rejects": {"words": ["smith"]}})
    assert codes(check_password("smith111", strict, USER)) == [
        "password_rejected.character_types",
        "password_rejected.restricted.repetition",
        "password_rejected.restricted.user_info",
        "password_rejected.restricted.words",
    ]
