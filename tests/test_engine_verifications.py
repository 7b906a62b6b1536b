"""The sign-in engine's verifications without HTTP (``experience/verifications``), and the
identification rules built on them (``experience/identification.py``), on the real database.

A :class:`~portico.experience.turn.Turn` is built from real parts: the sentinel with the
tenant's stable key, verification codes MACed with the tenant's cookie keys, the connector
service (an SMTP connector delivering to a local aiosmtpd server, a Kakao connector calling a
local fake Kakao) and a clock the test moves. One group of tests per class."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from portico.connectors.service import Connectors
from portico.experience.answers import StepError
from portico.experience.codes import VerificationCodes
from portico.experience.identification import bind, register_with, reset_with, sign_in_with
from portico.experience.identifiers import Identifier
from portico.experience.interaction import Event
from portico.experience.sentinel import SEND_LIMIT, SEND_WINDOW, Sentinel
from portico.experience.turn import Turn
from portico.experience.verifications import (
    CodeVerification,
    NewPasswordIdentity,
    PasswordVerification,
    SocialVerification,
)
from portico.experience.verifications.social import SocialMatch
from portico.net import outbound
from portico.services import cookie_keys, identities, passwords, users
from portico.services.bootstrap import DEFAULT_TENANT
from portico.services.sign_in_experience import SignInExperiences
from portico.storage.tables import logs
from tests.conftest import Clock
from tests.fake_kakao import FakeKakao, kakao_user
from tests.smtp_server import Running, smtp_config, smtp_server
from tests.support import LOOPBACK_TARGETS

TENANT = DEFAULT_TENANT
PASSWORD = "correct horse battery staple"
WRONG = "incorrect horse battery staple"
# Issued codes are 6 digits: a 5-digit guess can never be right, so "a guess fails" is
# deterministic (any wrong guess takes the same path: the MAC does not match).
NOT_A_CODE = "12345"
PASSWORD_SUBMIT = "Interaction.SignIn.Verification.Password.Submit"

# The engine's fixtures run on the session's loop (pyproject): so do these tests.
pytestmark = pytest.mark.asyncio(loop_scope="session")


# --- real parts ------------------------------------------------------------------------------


@dataclass
class Services:
    """What ``experience/turn.Services`` asks for, from real parts; ``spawn`` schedules the
    work (as the runtime does, after the response) and :meth:`settle` awaits it."""

    engine: AsyncEngine
    codes: VerificationCodes
    sentinel: Sentinel
    connectors: Connectors
    provider: None = None  # the verifications never save the interaction
    spawned: list[asyncio.Task[None]] = field(default_factory=list)

    def spawn(self, work: Coroutine[object, object, None]) -> None:
        self.spawned.append(asyncio.get_running_loop().create_task(work))

    async def settle(self) -> int:
        """Await what was spawned so far; how many pieces of work that was."""
        pending, self.spawned = self.spawned, []
        await asyncio.gather(*pending)
        return len(pending)


@pytest.fixture
async def services(engine: AsyncEngine, clock: Clock) -> AsyncIterator[Services]:
    async with engine.connect() as conn:
        stable = await cookie_keys.sentinel_key(conn, TENANT)

    async def ring() -> cookie_keys.CookieKeys:
        async with engine.connect() as conn:
            return await cookie_keys.load(conn, TENANT)

    built = Services(
        engine,
        VerificationCodes(engine, ring),
        Sentinel(engine, stable),
        Connectors(engine, b"t" * 32),
    )
    yield built
    for task in built.spawned:
        task.cancel()


MakeTurn = Callable[..., Awaitable[Turn]]


@pytest.fixture
def make_turn(services: Services) -> MakeTurn:
    """A new interaction's turn (``event``), after storing ``patch`` into the tenant's sign-in
    experience (read back through ``SignInExperiences`` as the pages do)."""
    experiences = SignInExperiences(services.engine)

    async def make(event: Event = Event.SIGN_IN, **patch: Any) -> Turn:
        sie = await experiences.update(TENANT, patch) if patch else await experiences.get(TENANT)
        turn = Turn(services, secrets.token_urlsafe(16), {"request": {}}, sie)
        turn.reset(event)
        return turn

    return make


async def new_user(
    engine: AsyncEngine,
    *,
    username: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    password: str | None = PASSWORD,
    suspended: bool = False,
) -> dict[str, Any]:
    async with engine.begin() as conn:
        row = await users.create_user(
            conn, TENANT, username=username, email=email, phone=phone, password=password
        )
        if suspended:
            row = await users.set_suspended(conn, TENANT, row["id"], True)
    return row


def address() -> str:
    return f"u{secrets.token_hex(5)}@example.com"


async def audit_entries(engine: AsyncEngine, key: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(logs.c.payload).where(logs.c.key == key))
        return [dict(payload) for payload in rows.scalars()]


async def refusal(work: Awaitable[object]) -> StepError:
    with pytest.raises(StepError) as raised:
        await work
    return raised.value


def refusal_of(call: Callable[[], object]) -> StepError:
    """The StepError a synchronous call raises."""
    with pytest.raises(StepError) as raised:
        call()
    return raised.value


@dataclass
class Mail:
    """The local SMTP server behind the tenant's Email connector."""

    server: Running

    @property
    def count(self) -> int:
        return len(self.server.handler.messages)

    def code_to(self, to: str, purpose: str = "SignIn") -> str:
        """The code in the newest message to ``to`` (the connector's ``purpose`` template)."""
        handler = self.server.handler
        for (_, recipients), message in zip(
            reversed(handler.envelopes), reversed(handler.messages), strict=True
        ):
            if recipients == [to]:
                assert message["Subject"] == f"{purpose} code"
                body = message.get_body(preferencelist=("plain",))
                assert body is not None
                found = re.fullmatch(rf"Your {purpose} code is (\d{{6}})\.\s*", body.get_content())
                assert found, body.get_content()
                return found.group(1)
        raise AssertionError(f"no message to {to}")


@pytest.fixture
def smtp() -> Iterator[Running]:
    with smtp_server() as running:
        yield running


@pytest.fixture
async def mail(services: Services, smtp: Running) -> Mail:
    await services.connectors.create(
        TENANT, "simple-mail-transfer-protocol", smtp_config(smtp.port)
    )
    return Mail(smtp)


async def proven(turn: Turn, mail: Mail, email: str, purpose: str = "SignIn") -> CodeVerification:
    """A code sent to ``email`` for ``purpose``, read from the mailbox and verified."""
    record = CodeVerification(Identifier("email", email), purpose)
    await record.send(turn)
    assert isinstance(turn.services, Services)
    await turn.services.settle()  # a ForgotPassword code leaves after the response
    await record.verify(turn, mail.code_to(email, purpose))
    assert record.verified
    return record


# --- PasswordVerification --------------------------------------------------------------------
async def test_the_right_password_proves_the_account(
    services: Services, make_turn: MakeTurn
) -> None:
    user = await new_user(services.engine, username="alice", email="alice@example.com")
    turn = await make_turn()
    for typed in (Identifier("username", "alice"), Identifier("email", "alice@example.com")):
        record = PasswordVerification(typed)
        assert (refusal_of(record.identify_user)).key == "error.verification_incomplete"
        await record.verify(turn, PASSWORD)
        assert record.verified and record.identify_user() == user["id"]
    assert await audit_entries(services.engine, PASSWORD_SUBMIT) == []  # failures only


async def test_a_wrong_password_is_refused_and_logged(
    services: Services, make_turn: MakeTurn
) -> None:
    user = await new_user(services.engine, username="bob")
    turn = await make_turn()
    record = PasswordVerification(Identifier("username", "bob"))
    error = await refusal(record.verify(turn, WRONG))
    assert (error.key, error.status, error.params) == ("error.invalid_credentials", 422, {})
    assert not record.verified
    [entry] = await audit_entries(services.engine, PASSWORD_SUBMIT)
    assert entry["result"] == "Error" and entry["identifier"] == "bob"
    assert entry["error"]["code"] == "error.invalid_credentials"
    assert entry["interactionEvent"] == "SignIn"
    assert WRONG not in str(entry) and user["id"] not in str(entry)


async def test_unknown_suspended_and_passwordless_accounts_answer_as_a_wrong_password(
    services: Services, make_turn: MakeTurn
) -> None:
    await new_user(services.engine, username="carol", suspended=True)
    await new_user(services.engine, username="dave")
    await new_user(services.engine, username="edgar", password=None)  # social-only, say
    turn = await make_turn(sentinelPolicy={"maxAttempts": 2, "lockoutDuration": 5})

    async def outcomes(name: str, password: str) -> list[tuple[str, int, dict[str, Any]]]:
        seen = []
        for _ in range(3):
            record = PasswordVerification(Identifier("username", name))
            error = await refusal(record.verify(turn, password))
            seen.append((error.key, error.status, error.params))
        return seen

    wrong = await outcomes("dave", WRONG)
    refused = ("error.invalid_credentials", 422, {})
    assert wrong == [refused, refused, ("error.locked", 429, {"minutes": 5})]
    assert await outcomes("nobody", PASSWORD) == wrong  # no such account
    assert await outcomes("carol", PASSWORD) == wrong  # suspended: the right password too
    assert await outcomes("edgar", "") == wrong
    entries = await audit_entries(services.engine, PASSWORD_SUBMIT)
    assert len(entries) == 8  # the locked attempts are not checked, so not logged
    shapes = {
        tuple(sorted((k, str(v)) for k, v in e.items() if k != "identifier")) for e in entries
    }
    assert len(shapes) == 1  # the same entry whatever the reason
    names = ["carol", "dave", "edgar", "nobody"]
    assert sorted(e["identifier"] for e in entries) == [n for n in names for _ in range(2)]


async def test_the_account_locks_after_the_policys_attempts_until_the_window_passes(
    services: Services, make_turn: MakeTurn, clock: Clock
) -> None:
    user = await new_user(services.engine, username="erin")
    turn = await make_turn(sentinelPolicy={"maxAttempts": 3, "lockoutDuration": 1})
    erin = Identifier("username", "erin")
    for _ in range(3):  # right passwords take their reservation back: no count
        await PasswordVerification(erin).verify(turn, PASSWORD)
    for _ in range(3):
        error = await refusal(PasswordVerification(erin).verify(turn, WRONG))
        assert error.key == "error.invalid_credentials"
    locked = await refusal(PasswordVerification(erin).verify(turn, PASSWORD))
    assert (locked.key, locked.status, locked.params) == ("error.locked", 429, {"minutes": 1})
    clock.advance(59)
    assert (await refusal(PasswordVerification(erin).verify(turn, PASSWORD))).key == (
        "error.locked"
    )
    clock.advance(2)  # the oldest failure leaves the 60-second window
    record = PasswordVerification(erin)
    await record.verify(turn, PASSWORD)
    assert record.identify_user() == user["id"]


async def test_failures_by_username_and_by_email_count_against_one_account(
    services: Services, make_turn: MakeTurn
) -> None:
    await new_user(services.engine, username="frank", email="frank@example.com")
    await new_user(services.engine, username="grace")
    turn = await make_turn(sentinelPolicy={"maxAttempts": 3, "lockoutDuration": 10})
    by_name, by_email = Identifier("username", "frank"), Identifier("email", "frank@example.com")
    for typed in (by_name, by_email, by_name):
        assert (await refusal(PasswordVerification(typed).verify(turn, WRONG))).key == (
            "error.invalid_credentials"
        )
    for typed in (by_email, by_name):
        error = await refusal(PasswordVerification(typed).verify(turn, PASSWORD))
        assert (error.key, error.params) == ("error.locked", {"minutes": 10})
    other = PasswordVerification(Identifier("username", "grace"))  # another account: unlocked
    await other.verify(turn, PASSWORD)
    assert other.verified


# --- CodeVerification ------------------------------------------------------------------------
async def test_a_mailed_code_proves_the_address(
    services: Services, make_turn: MakeTurn, mail: Mail
) -> None:
    owner = await new_user(services.engine, email="hana@example.com")
    turn = await make_turn()
    record = CodeVerification(Identifier("email", "hana@example.com"), "SignIn")
    assert (await refusal(record.identify_user(turn))).key == "error.verification_incomplete"
    await record.send(turn)
    assert mail.count == 1 and mail.server.handler.envelopes[0][1] == ["hana@example.com"]
    code = mail.code_to("hana@example.com")
    await record.verify(turn, code)
    assert record.verified
    found = await record.identify_user(turn)
    assert found is not None and found["id"] == owner["id"]

    turn = await make_turn(Event.REGISTER)
    unused = CodeVerification(Identifier("email", "nobody@example.com"), "Register")
    await unused.send(turn)
    assert mail.count == 2
    await unused.verify(turn, mail.code_to("nobody@example.com", "Register"))
    assert await unused.identify_user(turn) is None


async def test_a_wrong_code_a_reused_code_and_an_expired_code_are_refused(
    services: Services, make_turn: MakeTurn, mail: Mail, clock: Clock
) -> None:
    await new_user(services.engine, email="ivan@example.com")
    # Any sign-in guess that is not released would lock the account at once.
    turn = await make_turn(
        verificationCodePolicy={"expirationDuration": 60},
        sentinelPolicy={"maxAttempts": 2, "lockoutDuration": 60},
    )
    ivan = Identifier("email", "ivan@example.com")
    record = CodeVerification(ivan, "SignIn")
    await record.send(turn)
    code = mail.code_to(ivan.value)
    wrong = await refusal(record.verify(turn, NOT_A_CODE))
    assert (wrong.key, wrong.status) == ("error.code_mismatch", 400) and not record.verified
    [entry] = await audit_entries(
        services.engine, "Interaction.SignIn.Verification.EmailVerificationCode.Submit"
    )
    assert entry["error"]["code"] == "verification_code.code_mismatch"
    assert entry["identifier"] == ivan.value and code not in str(entry)

    clock.advance(59)  # the policy's 60 seconds are not over
    await record.verify(turn, code)
    assert record.verified
    again = CodeVerification(ivan, "SignIn")
    assert (await refusal(again.verify(turn, code))).key == "error.code_not_found"  # used

    await again.send(turn)
    clock.advance(61)
    expired = await refusal(again.verify(turn, mail.code_to(ivan.value)))
    assert (expired.key, expired.status) == ("error.code_expired", 400)
    # Neither the used nor the expired code was a guess: only the wrong one counted, so the
    # account (limit 2) is not locked.
    await again.send(turn)
    await again.verify(turn, mail.code_to(ivan.value))
    assert again.verified


async def test_wrong_sign_in_codes_count_against_the_account_with_its_passwords(
    services: Services, make_turn: MakeTurn, mail: Mail
) -> None:
    await new_user(services.engine, username="jack", email="jack@example.com")
    turn = await make_turn(sentinelPolicy={"maxAttempts": 2, "lockoutDuration": 3})
    record = CodeVerification(Identifier("email", "jack@example.com"), "SignIn")
    await record.send(turn)
    assert (await refusal(record.verify(turn, NOT_A_CODE))).key == "error.code_mismatch"
    password = PasswordVerification(Identifier("username", "jack"))
    assert (await refusal(password.verify(turn, WRONG))).key == "error.invalid_credentials"
    locked = await refusal(record.verify(turn, mail.code_to("jack@example.com")))
    assert (locked.key, locked.status, locked.params) == ("error.locked", 429, {"minutes": 3})
    assert (await refusal(password.verify(turn, PASSWORD))).key == "error.locked"


async def test_a_code_takes_the_policys_number_of_guesses(
    services: Services, make_turn: MakeTurn, mail: Mail
) -> None:
    turn = await make_turn(Event.REGISTER, verificationCodePolicy={"maxRetryAttempts": 2})
    record = CodeVerification(Identifier("email", "kim@example.com"), "Register")
    await record.send(turn)
    for _ in range(2):
        assert (await refusal(record.verify(turn, NOT_A_CODE))).key == "error.code_mismatch"
    spent = await refusal(record.verify(turn, mail.code_to("kim@example.com", "Register")))
    assert spent.key == "error.code_exceed_max_try" and not record.verified


async def test_a_reset_code_is_mailed_only_to_an_account_but_refused_alike(
    services: Services, make_turn: MakeTurn, mail: Mail
) -> None:
    owner = await new_user(services.engine, email="lena@example.com")
    outcomes = []
    for email in ("nobody@example.com", "lena@example.com"):
        turn = await make_turn(Event.FORGOT_PASSWORD)
        record = CodeVerification(Identifier("email", email), "ForgotPassword")
        await record.send(turn)
        assert mail.count == 0  # not before the response (here: before the work is awaited)
        sent = await services.settle()
        assert (sent, mail.count) == ((1, 1) if email == owner["primary_email"] else (0, 0))
        error = await refusal(record.verify(turn, NOT_A_CODE))  # a guess: stored in both cases
        outcomes.append((error.key, error.status, error.params))
    assert outcomes[0] == outcomes[1] == ("error.code_mismatch", 400, {})
    entries = await audit_entries(
        services.engine, "Interaction.ForgotPassword.Verification.EmailVerificationCode.Submit"
    )
    assert [e["error"]["code"] for e in entries] == ["verification_code.code_mismatch"] * 2

    turn = await make_turn(Event.FORGOT_PASSWORD)
    record = CodeVerification(Identifier("email", "lena@example.com"), "ForgotPassword")
    await record.send(turn)
    await services.settle()
    await record.verify(turn, mail.code_to("lena@example.com", "ForgotPassword"))
    await reset_with(turn, record)
    assert turn.state.reset_user_id == owner["id"]


async def test_sends_to_one_address_are_limited(
    services: Services, make_turn: MakeTurn, mail: Mail, clock: Clock
) -> None:
    email = address()
    turn = await make_turn()
    record = CodeVerification(Identifier("email", email), "SignIn")
    for _ in range(SEND_LIMIT):
        await record.send(turn)
    assert mail.count == SEND_LIMIT
    last = mail.code_to(email)
    error = await refusal(record.send(turn))
    assert (error.key, error.status) == ("error.too_many_codes", 429)
    assert mail.count == SEND_LIMIT  # refused before anything left
    other = address()  # the limit is per recipient
    await CodeVerification(Identifier("email", other), "SignIn").send(await make_turn())
    assert mail.count == SEND_LIMIT + 1
    await record.verify(turn, last)  # the refused send did not replace the last code
    assert record.verified
    clock.advance(SEND_WINDOW + 1)
    await record.send(turn)
    assert mail.count == SEND_LIMIT + 2


async def test_without_an_email_connector_no_code_can_be_sent(
    services: Services, make_turn: MakeTurn
) -> None:
    record = CodeVerification(Identifier("email", address()), "SignIn")
    error = await refusal(record.send(await make_turn()))
    assert (error.key, error.status) == ("error.no_connector", 503)


# --- NewPasswordIdentity ---------------------------------------------------------------------
async def test_a_new_username_and_password_make_a_profile(
    services: Services, make_turn: MakeTurn
) -> None:
    turn = await make_turn(Event.REGISTER)
    created = await NewPasswordIdentity.create(turn, "  Mallory ", PASSWORD)
    assert created.verified and created.identify_user() is None
    profile = created.profile()
    assert profile["username"] == "Mallory"  # trimmed; the default policy keeps the case
    assert profile["passwordEncryptionMethod"] == passwords.ARGON2ID
    assert profile["passwordEncrypted"].startswith("$argon2id$")
    assert PASSWORD not in str(created.to_json())
    assert await passwords.verify_password(
        profile["passwordEncrypted"], profile["passwordEncryptionMethod"], PASSWORD
    )
    assert not await passwords.verify_password(
        profile["passwordEncrypted"], profile["passwordEncryptionMethod"], WRONG
    )
    turn = await make_turn(Event.REGISTER, usernamePolicy={"caseSensitive": False})
    lowered = await NewPasswordIdentity.create(turn, "Mallory", PASSWORD)
    assert lowered.profile()["username"] == "mallory"


async def test_a_taken_username_or_a_rejected_password_is_refused(
    services: Services, make_turn: MakeTurn
) -> None:
    await new_user(services.engine, username="niels")
    turn = await make_turn(Event.REGISTER, usernamePolicy={"caseSensitive": False})
    for taken in ("niels", " NIELS"):
        error = await refusal(NewPasswordIdentity.create(turn, taken, PASSWORD))
        assert (error.key, error.status) == ("error.username_taken", 409)
    bad = await refusal(NewPasswordIdentity.create(turn, "9lives", PASSWORD))
    assert bad.key == "username.invalid_start"  # the username policy's own refusals
    short = await refusal(NewPasswordIdentity.create(turn, "olga", "x7!"))
    assert (short.key, short.params) == ("password_rejected.too_short", {"min": 8})
    mine = await refusal(NewPasswordIdentity.create(turn, "olga", "olga-rides-9-bikes"))
    assert mine.key == "password_rejected.restricted.user_info"
    assert mine.params == {"field": "username"}  # a password made of the username
    turn = await make_turn(Event.REGISTER, passwordPolicy={"length": {"min": 40}})
    longer = await refusal(NewPasswordIdentity.create(turn, "olga", PASSWORD))
    assert (longer.key, longer.params) == ("password_rejected.too_short", {"min": 40})


# --- SocialVerification ----------------------------------------------------------------------
@pytest.fixture
def kakao() -> Iterator[FakeKakao]:
    fake = FakeKakao().start()
    yield fake
    fake.stop()


@pytest.fixture
async def loopback() -> AsyncIterator[None]:
    """Connectors may call the fake provider on 127.0.0.1 (as the test servers allow)."""
    with outbound.allowing(LOOPBACK_TARGETS):
        yield


async def kakao_callback(authorization_url: str) -> dict[str, str]:
    """The user agrees on the fake Kakao's consent page: the callback's query parameters."""
    async with httpx.AsyncClient() as client:
        page = await client.get(authorization_url)
        assert page.status_code == 200, page.text
        link = re.search(r"href='(/oauth/decide[^']*agree=1)'", page.text)
        assert link
        back = await client.get(authorization_url.split("/oauth/")[0] + link.group(1))
    assert back.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(back.headers["location"]).query).items()}


async def test_a_kakao_account_is_proven_and_matched_to_users(
    services: Services, make_turn: MakeTurn, kakao: FakeKakao, loopback: None
) -> None:
    connector = await services.connectors.create(TENANT, "kakao-universal", kakao.config())
    cid = connector["id"]
    redirect_uri = f"http://localhost:3000/callback/{cid}"
    kakao.redirect_uris.add(redirect_uri)
    kakao.next_user = kakao_user(4242, "김카카오", "Kakao.User@Example.com")
    turn = await make_turn()
    state = secrets.token_urlsafe(24)
    record, url = await SocialVerification.start(
        turn, cid, "Kakao", state=state, redirect_uri=redirect_uri
    )
    assert url.startswith(f"{kakao.base}/oauth/authorize?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["state"] == state and query["redirect_uri"] == redirect_uri
    assert not record.verified
    assert (await refusal(record.identify_user(turn))).key == "error.verification_incomplete"

    params = await kakao_callback(url)
    assert params["state"] == state
    record.take_state(cid, params["state"])
    error = refusal_of(lambda: record.take_state(cid, params["state"]))
    assert (error.key, error.status) == ("error.social_state", 400)  # single use
    await record.verify(turn, params)

    assert record.verified
    assert record.identity == {
        "target": "kakao",
        "id": "4242",
        "details": record.identity["details"],
        "provider": "Kakao",
        "syncProfile": False,
    }
    assert record.identity["details"]["email"] == "kakao.user@example.com"
    assert record.info is not None and record.info["email"] == "kakao.user@example.com"
    assert record.info["name"] == "김카카오" and "rawData" not in record.info

    assert await record.identify_user(turn) == SocialMatch()  # nobody: neither linked nor related
    error = await refusal(sign_in_with(turn, record))
    assert (error.key, error.status) == ("error.social_no_account", 404)
    assert error.params == {"related": None}
    owner = await new_user(services.engine, email="kakao.user@example.com")
    related = await record.identify_user(turn)
    assert related.user_id is None and related.related is not None
    assert related.related["id"] == owner["id"]
    error = await refusal(sign_in_with(turn, record))  # linking is not automatic (the seed)
    assert error.params == {"related": "email"} and turn.state.user_id is None
    await sign_in_with(turn, record, link=True)  # the user asked to link
    assert turn.state.user_id == owner["id"] and turn.state.social == record.identity
    async with services.engine.begin() as conn:
        await identities.link(
            conn, TENANT, owner["id"], "kakao", record.identity["id"], record.identity["details"]
        )
    assert await record.identify_user(turn) == SocialMatch(user_id=owner["id"])


async def test_a_callback_needs_the_state_the_record_was_started_with(
    services: Services, make_turn: MakeTurn, kakao: FakeKakao, loopback: None
) -> None:
    connector = await services.connectors.create(TENANT, "kakao-universal", kakao.config())
    cid = connector["id"]
    turn = await make_turn()

    async def started() -> SocialVerification:
        record, _ = await SocialVerification.start(
            turn, cid, "Kakao", state="the-state", redirect_uri="http://localhost/cb"
        )
        return record

    for connector_id, state in ((cid, "another-state"), ("other-connector", "the-state")):
        record = await started()
        error = refusal_of(lambda r=record, c=connector_id, s=state: r.take_state(c, s))
        assert (error.key, error.status) == ("error.social_state", 400)
        # A refused callback spends the state too: the right one is refused after it.
        again = refusal_of(lambda r=record: r.take_state(cid, "the-state"))
        assert again.key == "error.social_state"
    record = await started()
    record.take_state(cid, "the-state")
    assert (refusal_of(lambda: record.take_state(cid, "the-state"))).key == ("error.social_state")
    cancelled = await refusal(record.verify(turn, {"error": "access_denied"}))
    assert (cancelled.key, cancelled.params) == ("error.social_cancelled", {"provider": "Kakao"})
    assert not record.verified


# --- identification --------------------------------------------------------------------------
async def test_signing_in_with_a_code_needs_an_active_account(
    services: Services, make_turn: MakeTurn, mail: Mail
) -> None:
    turn = await make_turn()
    nobody = await proven(turn, mail, address())
    error = await refusal(sign_in_with(turn, nobody))
    assert (error.key, error.status) == ("error.account_not_found", 404)
    assert turn.state.user_id is None

    suspended = await new_user(services.engine, email=address(), suspended=True)
    turn = await make_turn()
    record = await proven(turn, mail, suspended["primary_email"])
    error = await refusal(sign_in_with(turn, record))
    assert (error.key, error.status) == ("error.suspended", 401)
    assert turn.state.user_id is None

    active = await new_user(services.engine, email=address())
    turn = await make_turn()
    await sign_in_with(turn, await proven(turn, mail, active["primary_email"]))
    assert turn.state.user_id == active["id"]

    unproven = CodeVerification(Identifier("email", active["primary_email"]), "SignIn")
    error = await refusal(sign_in_with(await make_turn(), unproven))
    assert (error.key, error.status) == ("error.verification_incomplete", 400)


TAKEN_EMAIL = ("error.identifier_taken", 409, {"kind": "email"})


async def test_registering_or_binding_an_address_another_account_has_is_refused(
    services: Services, make_turn: MakeTurn, mail: Mail
) -> None:
    other = await new_user(services.engine, email=address())
    me = await new_user(services.engine, email=address())

    turn = await make_turn(Event.REGISTER)
    record = await proven(turn, mail, other["primary_email"], "Register")
    error = await refusal(register_with(turn, record))
    assert (error.key, error.status, error.params) == TAKEN_EMAIL
    assert turn.state.profile == {}
    free = address()
    turn = await make_turn(Event.REGISTER)
    await register_with(turn, await proven(turn, mail, free, "Register"))
    assert turn.state.profile == {"email": free}

    turn = await make_turn()
    turn.state.user_id = me["id"]  # signed in, completing the profile
    error = await refusal(bind(turn, await proven(turn, mail, other["primary_email"])))
    assert (error.key, error.status, error.params) == TAKEN_EMAIL
    assert turn.state.profile == {}
    await bind(turn, await proven(turn, mail, me["primary_email"]))  # one's own: fine
    assert turn.state.profile == {"email": me["primary_email"]}


async def test_a_password_reset_needs_a_forgot_password_code(
    services: Services, make_turn: MakeTurn, mail: Mail
) -> None:
    user = await new_user(services.engine, email=address())
    turn = await make_turn(Event.FORGOT_PASSWORD)
    sign_in_code = await proven(turn, mail, user["primary_email"], "SignIn")
    error = await refusal(reset_with(turn, sign_in_code))
    assert (error.key, error.status) == ("error.verification_incomplete", 400)
    password = PasswordVerification(Identifier("email", user["primary_email"]))
    await password.verify(turn, PASSWORD)
    assert (await refusal(reset_with(turn, password))).key == "error.verification_incomplete"
    assert turn.state.reset_user_id is None


async def test_an_unknown_identity_names_the_identifier_it_shares_with_an_account(
    services: Services, make_turn: MakeTurn
) -> None:
    owner = await new_user(services.engine, email=address(), phone="14155552671")
    # A provider that gives a phone number and no email (a record as the interaction stores it).
    record = SocialVerification.from_json(
        {
            "connectorId": "c1",
            "provider": "Provider",
            "identity": {"target": "provider", "id": "p1", "details": {"id": "p1"}},
            "info": {"id": "p1", "phone": "14155552671"},
        }
    )
    turn = await make_turn()
    match = await record.identify_user(turn)
    assert match.related is not None and match.related["id"] == owner["id"]
    error = await refusal(sign_in_with(turn, record))
    assert (error.key, error.status) == ("error.social_no_account", 404)
    assert error.params == {"related": "phone"}  # what it shares, not what the account has


# --- WebAuthn related origins -------------------------------------------------------------------
async def test_a_passkey_may_be_registered_from_a_related_origin_only(
    services: Services, make_turn: MakeTurn
) -> None:
    from dataclasses import replace

    from portico.experience.verifications import WebAuthnVerification
    from tests.webauthn_authenticator import SoftAuthenticator

    user = await new_user(services.engine, username=f"wa{secrets.token_hex(4)}")
    turn = await make_turn()
    turn.state.user_id = user["id"]
    turn.origin = replace(turn.origin, host="id.example.com", url="https://id.example.com",
                          related=("https://shop.example.com",))  # fmt: skip
    for origin, accepted in (("https://shop.example.com", True), ("https://evil.example", False)):
        record, options = await WebAuthnVerification.registration(turn)
        answer = SoftAuthenticator(origin).create(options)
        if accepted:
            await record.verify(turn, answer)
            assert record.verified and record.credential is not None
        else:
            error = await refusal(record.verify(turn, answer))
            assert (error.key, error.status) == ("error.webauthn_failed", 400)
