"""Cookie-key rotation across two ``portico serve`` processes (``tests/cluster.py``): after
``POST /api/configs/oidc/cookie-keys/rotate`` on one process, the other MACs codes and
sign-out forms with the new key (it re-reads the ring through the coherent ``keys`` cache;
each process used to keep the key it read at start), codes and forms from before the
rotation verify on either process, and lockout counters are shared and unchanged."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.cluster import Cluster, Process, agent
from tests.conftest import PASSWORD, make_user
from tests.lab import DEFAULTS, EMAIL_SIGN_IN
from tests.test_cluster_races import sentinel_failures

pytestmark = pytest.mark.cluster
PROPAGATION = 0.6  # the coherence bound (0.5 s) when Redis is slow; with Redis: milliseconds


@pytest.fixture
def defaults(cluster: Cluster) -> Iterator[Cluster]:
    cluster.configure(cluster.a, **DEFAULTS)
    yield cluster
    cluster.configure(cluster.a, **DEFAULTS)


def rotate(cluster: Cluster, process: Process) -> None:
    with cluster.api(process) as api:
        response = api.post("/api/configs/oidc/cookie-keys/rotate")
    assert response.status_code == 200, response.text
    time.sleep(PROPAGATION)


def test_codes_made_on_either_process_verify_on_the_other_across_rotations(
    defaults: Cluster,
) -> None:
    cluster = defaults
    cluster.configure(cluster.a, **EMAIL_SIGN_IN)
    user = make_user(cluster)  # type: ignore[arg-type]

    def code_flow(issuer: Process, checker: Process, rotations: int) -> str:
        """Send a code from ``issuer``, rotate on process a, check it on ``checker``."""
        with agent(cluster) as browser:
            page = browser.authorize(issuer)
            seen = len(cluster.mail.messages)
            sent = browser.post(issuer, "/sign-in", page, identifier=user.email)
            assert sent.headers.get("location") == "/verification-code", sent.text[:300]
            code = cluster.code_for(user.email, after=seen)
            form = browser.get(issuer, "/verification-code")
            for _ in range(rotations):
                rotate(cluster, cluster.a)
            done = browser.post(checker, "/verification-code", form, code=code)
            return browser.code_from(browser.follow(checker, done))

    # A code b sent before the rotation (old key) verifies on a after it.
    assert code_flow(cluster.b, cluster.a, rotations=1)
    # b has moved to the new key: its code still verifies after one more rotation, which
    # drops the key from before the first (a stale b would have used that one).
    assert code_flow(cluster.b, cluster.a, rotations=1)
    assert code_flow(cluster.a, cluster.b, rotations=1)


def test_sign_out_forms_from_one_process_are_accepted_by_the_other_after_rotation(
    defaults: Cluster,
) -> None:
    cluster = defaults
    user = make_user(cluster)  # type: ignore[arg-type]
    with agent(cluster) as browser:
        for form_on, confirm_on in ((cluster.b, cluster.a), (cluster.a, cluster.b)):
            page = browser.authorize(cluster.a)
            done = browser.post(
                cluster.a, "/sign-in", page, identifier=user.username, password=PASSWORD
            )
            browser.code_from(browser.follow(cluster.a, done))
            rotate(cluster, cluster.a)  # every process now signs with the new key
            form = browser.get(form_on, f"/oidc/session/end?client_id={cluster.app_id}")
            assert "Yes, sign me out" in form.text
            rotate(cluster, cluster.a)  # and the form's key is now the older one
            confirmed = browser.post(
                confirm_on, "/oidc/session/end/confirm", form,
                logout="yes", client_id=cluster.app_id,
            )  # fmt: skip
            assert confirmed.status_code in (200, 303), confirmed.text[:300]


def test_lockout_counts_survive_rotation_on_both_processes(defaults: Cluster) -> None:
    cluster = defaults
    cluster.configure(cluster.a, sentinelPolicy={"maxAttempts": 4, "lockoutDuration": 1})
    user = make_user(cluster)  # type: ignore[arg-type]
    with agent(cluster) as browser:
        page = browser.authorize(cluster.a)
        for process in (cluster.a, cluster.b):
            wrong = browser.post(
                process, "/sign-in", page, identifier=user.username, password="wrong-pw"
            )
            assert wrong.status_code == 422
        rotate(cluster, cluster.a)
        rotate(cluster, cluster.b)
        # A process started after the rotations (it reads only today's keys) counts on the
        # same digests: keyed by the cookie key, its counter would have started from zero.
        cluster.b.stop()
        cluster.restart("b")
        for process in (cluster.b, cluster.a):
            wrong = browser.post(
                process, "/sign-in", page, identifier=user.username, password="wrong-pw"
            )
            assert wrong.status_code == 422
        assert sentinel_failures(cluster, user.id) == 4
        locked = browser.post(
            cluster.b, "/sign-in", page, identifier=user.username, password=PASSWORD
        )
        assert locked.status_code == 429
