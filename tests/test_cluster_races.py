"""Races between two processes: many requests at once against one email, one code, one refresh
token, one verification code, one account; every request goes to either process. What must
hold is what one process guarantees: one user per email, single-use codes and refresh tokens
(a replay revokes the grant, deterministically), attempt limits counted exactly."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import delete, func, select

from portico.experience.sentinel import account_target
from portico.services import cookie_keys
from portico.storage.tables import passcodes, sentinel_activities, users
from tests.cluster import Agent, Cluster, Process, agent
from tests.conftest import PASSWORD, make_app, make_user
from tests.lab import DEFAULTS, EMAIL_SIGN_IN
from tests.support import unique

pytestmark = pytest.mark.cluster
T = TypeVar("T")


@pytest.fixture
def defaults(cluster: Cluster) -> Iterator[Cluster]:
    """The cluster with Logto's default sign-in experience, restored after the test."""
    cluster.configure(cluster.a, **DEFAULTS)
    yield cluster
    cluster.configure(cluster.a, **DEFAULTS)


def in_parallel(count: int, work: Callable[[int], T]) -> list[T]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(work, range(count)))


def either(cluster: Cluster, index: int) -> Process:
    return cluster.a if index % 2 == 0 else cluster.b


def signed_in(cluster: Cluster, browser: Agent, user: Any, **params: str) -> str:
    """Sign ``user`` in on process a; the authorization code."""
    page = browser.authorize(cluster.a, **params)
    done = browser.post(cluster.a, "/sign-in", page, identifier=user.username, password=PASSWORD)
    assert done.status_code == 303, done.text[:300]
    return browser.code_from(browser.follow(cluster.b, done))


def sentinel_failures(cluster: Cluster, account_id: str) -> int:
    """Failed sign-in events stored for the account (targets are keyed digests)."""
    identifier = account_target(account_id)

    async def count(conn):  # type: ignore[no-untyped-def]
        key = await cookie_keys.sentinel_key(conn, "default")
        target = hmac.new(key, identifier.encode(), hashlib.sha256).hexdigest()
        return (
            await conn.execute(
                select(func.count()).where(
                    sentinel_activities.c.target_hash == target,
                    sentinel_activities.c.action == "SignIn",
                    sentinel_activities.c.action_result == "Failed",
                )
            )
        ).scalar_one()

    return int(cluster.db(count))


def userinfo(process: Process, access_token: str) -> int:
    headers = {"Authorization": f"Bearer {access_token}"}
    return httpx.get(f"{process.url}/oidc/me", headers=headers).status_code


def test_parallel_sign_ups_of_one_email_create_exactly_one_user(defaults: Cluster) -> None:
    cluster = defaults
    cluster.configure(cluster.a, **EMAIL_SIGN_IN)
    address = f"{unique('race')}@example.com"
    local, domain = address.split("@")
    variants = [
        address, address.upper(), f"  {address}  ", f"{local.upper()}@{domain}",
        f"{local}@{domain.upper()}\t", f" {local.title()}@{domain} ",
    ]  # fmt: skip
    browsers: list[tuple[Agent, Any]] = []

    async def forget_sends(conn):  # type: ignore[no-untyped-def]
        # Setup only: 50 codes to one address would pass the send limit (10 per 10 min),
        # which has its own test; here each sign-up needs its code.
        await conn.execute(
            delete(sentinel_activities).where(sentinel_activities.c.action == "SendMessage")
        )

    try:
        for index in range(50):
            browser = Agent(cluster)
            process = either(cluster, index)
            page = browser.authorize(process, first_screen="register")
            cluster.db(forget_sends)
            seen = len(cluster.mail.messages)
            sent = browser.post(process, "/register", page, identifier=variants[index % 6])
            assert sent.headers.get("location") == "/verification-code", sent.text[:300]
            code = cluster.code_for(address, after=seen)
            form = browser.get(either(cluster, index + 1), "/verification-code")
            browsers.append((browser, (form, code)))

        def verify(index: int) -> httpx.Response:
            browser, (form, code) = browsers[index]
            return browser.post(either(cluster, index), "/verification-code", form, code=code)

        replies = in_parallel(50, verify)
    finally:
        for browser, _ in browsers:
            browser.close()

    assert all(r.status_code < 500 for r in replies), [r.status_code for r in replies]
    created = [r for r in replies if r.headers.get("location", "").startswith("/oidc/auth/")]
    others = Counter(r.headers.get("location") or r.status_code for r in replies)
    del others[created[0].headers["location"] if created else None]
    assert len(created) == 1, others
    # The others were told the address is taken, or offered to sign in to that account.
    assert set(others) <= {"/transition/sign-in", 409}, others

    async def accounts(conn):  # type: ignore[no-untyped-def]
        return (
            await conn.execute(select(users.c.id).where(users.c.primary_email == address))
        ).all()

    assert len(cluster.db(accounts)) == 1


def test_parallel_redemptions_of_one_code_succeed_once_and_revoke_the_grant(
    defaults: Cluster,
) -> None:
    cluster = defaults
    user = make_user(cluster)  # type: ignore[arg-type]
    with agent(cluster) as browser:
        code = signed_in(cluster, browser, user, scope="openid offline_access", prompt="consent")
        replies = in_parallel(20, lambda i: browser.redeem(either(cluster, i), code))
        statuses = Counter(r.status_code for r in replies)
        assert statuses == {200: 1, 400: 19}, statuses
        assert {r.json()["error"] for r in replies if r.status_code == 400} == {"invalid_grant"}
        won = next(r.json() for r in replies if r.status_code == 200)
        # Every loser was a replay of a used code: the grant is revoked, including what the
        # winner was issued while they raced (RFC 6749 §4.1.2), on both processes.
        for process in (cluster.a, cluster.b):
            assert userinfo(process, won["access_token"]) == 401
            again = refresh_with(browser, process, won["refresh_token"])
            assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_parallel_refreshes_of_one_token_succeed_at_most_once_and_keep_one_family(
    defaults: Cluster,
) -> None:
    cluster = defaults
    spa = make_app(cluster, "SPA")  # type: ignore[arg-type]  # public: rotates on every use
    user = make_user(cluster)  # type: ignore[arg-type]
    with agent(cluster) as browser:
        page = browser.authorize(cluster.b, scope="openid offline_access", app=spa,
                                 prompt="consent")  # fmt: skip
        done = browser.post(cluster.b, "/sign-in", page, identifier=user.username,
                            password=PASSWORD)  # fmt: skip
        issued = browser.redeem(cluster.a, browser.code_from(browser.follow(cluster.a, done)))
        assert issued.status_code == 200, issued.text
        first = issued.json()

        def refresh(index: int) -> httpx.Response:
            return browser.client.post(
                f"{either(cluster, index).url}/oidc/token",
                data=browser.token_request(grant_type="refresh_token",
                                           refresh_token=first["refresh_token"]),
            )  # fmt: skip

        replies = in_parallel(20, refresh)
        statuses = Counter(r.status_code for r in replies)
        assert statuses[200] <= 1 and statuses[200] + statuses[400] == 20, statuses
        assert {r.json()["error"] for r in replies if r.status_code == 400} == {"invalid_grant"}
        # One family: the reuse revoked the grant, so no token of it is left alive anywhere,
        # including one the single winner may have received.
        family = [first["refresh_token"]] + [
            r.json()["refresh_token"] for r in replies if r.status_code == 200
        ]
        for token in family:
            again = refresh_with(browser, cluster.b, token)
            assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        for reply in [issued, *(r for r in replies if r.status_code == 200)]:
            assert userinfo(cluster.a, reply.json()["access_token"]) == 401


def refresh_with(browser: Agent, process: Process, token: str) -> httpx.Response:
    return browser.client.post(
        f"{process.url}/oidc/token",
        data=browser.token_request(grant_type="refresh_token", refresh_token=token),
    )


def test_parallel_wrong_codes_count_no_more_than_the_attempt_limit(defaults: Cluster) -> None:
    cluster = defaults
    cluster.configure(cluster.a, **EMAIL_SIGN_IN, verificationCodePolicy={"maxRetryAttempts": 5})
    user = make_user(cluster)  # type: ignore[arg-type]
    with agent(cluster) as browser:
        page = browser.authorize(cluster.a)
        seen = len(cluster.mail.messages)
        sent = browser.post(cluster.b, "/sign-in", page, identifier=user.email)
        assert sent.headers.get("location") == "/verification-code", sent.text[:300]
        right = cluster.code_for(user.email, after=seen)
        form = browser.get(cluster.a, "/verification-code")
        wrong = [f"{(int(right) + n) % 1_000_000:06d}" for n in range(1, 31)]
        replies = in_parallel(
            30,
            lambda i: browser.post(either(cluster, i), "/verification-code", form, code=wrong[i]),
        )
        mismatches = sum("The code is incorrect." in r.text for r in replies)
        exhausted = sum("Too many incorrect attempts" in r.text for r in replies)
        assert (mismatches, exhausted) == (5, 25), [r.status_code for r in replies]
        late = browser.post(cluster.b, "/verification-code", form, code=right)
        assert "Too many incorrect attempts" in late.text

    async def tries(conn):  # type: ignore[no-untyped-def]
        return (
            await conn.execute(select(passcodes.c.try_count).where(passcodes.c.email == user.email))
        ).scalar_one()

    assert cluster.db(tries) == 5
    assert sentinel_failures(cluster, user.id) == 5


def test_parallel_wrong_passwords_lock_after_exactly_the_limit(defaults: Cluster) -> None:
    cluster = defaults
    cluster.configure(cluster.a, sentinelPolicy={"maxAttempts": 5, "lockoutDuration": 1})
    user = make_user(cluster)  # type: ignore[arg-type]
    browsers = [Agent(cluster) for _ in range(30)]
    try:
        pages = [b.authorize(either(cluster, i)) for i, b in enumerate(browsers)]

        def guess(index: int) -> httpx.Response:
            return browsers[index].post(
                either(cluster, index + 1), "/sign-in", pages[index],
                identifier=user.username, password=f"wrong-password-{index}",
            )  # fmt: skip

        replies = in_parallel(30, guess)
        statuses = Counter(r.status_code for r in replies)
        assert statuses == {422: 5, 429: 25}, statuses
        right = browsers[0].post(cluster.b, "/sign-in", pages[0], identifier=user.username,
                                 password=PASSWORD)  # fmt: skip
        assert right.status_code == 429
    finally:
        for browser in browsers:
            browser.close()
    assert sentinel_failures(cluster, user.id) == 5
