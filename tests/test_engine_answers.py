"""One table of the engine's refusals (``experience/answers.py``): each has a page phrase in
every language and a Logto code for the Experience API."""

from __future__ import annotations

from portico.experience.answers import LOGTO, StepError, logto_answer
from portico.web.i18n import SUPPORTED, catalog


def test_every_refusal_has_a_page_phrase_in_every_language() -> None:
    for language in SUPPORTED:
        phrases = catalog(language)
        missing = sorted(key for key in LOGTO if not phrases.get(key))
        assert not missing, (language, missing)


def test_the_api_answer_follows_the_table() -> None:
    assert logto_answer(StepError("error.locked", 429, minutes=3)) == (
        400, "session.verification_blocked_too_many_attempts", {"lockedMinutes": 3},
    )  # fmt: skip
    assert logto_answer(StepError("error.suspended", 401)) == (401, "user.suspended", None)
    assert logto_answer(StepError("error.send_failed", 503))[:2] == (502, "connector.general")
    rejected = logto_answer(StepError("password_rejected.too_short", min=8))
    assert rejected == (422, "password.rejected",
                        {"result": [{"code": "password_rejected.too_short",
                                     "data": {"min": 8}}]})  # fmt: skip
    assert logto_answer(StepError("something.unlisted", 418)) == (418, "request.general", None)
