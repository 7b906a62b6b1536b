"""The ``state`` of a provider's callback (social and enterprise SSO alike): one check."""

from __future__ import annotations

import hmac
from typing import Protocol

from portico.experience.answers import StepError


class AwaitsCallback(Protocol):
    connector_id: str
    state: str | None


def spend_state(record: AwaitsCallback, connector_id: str, state: str, error_key: str) -> None:
    """Accept the callback's ``state`` once (constant-time comparison): the expected state is
    spent whatever the outcome, so a replayed callback is refused. The caller saves the
    interaction before calling the provider. ``error_key``: the refusal's phrase."""
    expected, record.state = record.state, None
    if (
        expected is None
        or record.connector_id != connector_id
        or not hmac.compare_digest(state.encode(), expected.encode())
    ):
        raise StepError(error_key, 400)
