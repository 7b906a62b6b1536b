"""What the pages share around the sign-in engine (``portico.experience``): send a code and
remember it for the code page, and go wherever the engine says comes next.

``advance`` is the pages' one exit after any verification: the engine's
``conclusion.conclude`` decides (profile fulfilment, a second factor to verify or bind,
account creation, sign-in) and this turns its answer into a redirect and the session
cookie.
"""

from __future__ import annotations

import math
import time

from starlette.responses import Response

from portico.experience import conclusion
from portico.experience.answers import StepError
from portico.experience.identifiers import Identifier
from portico.experience.interaction import Event, PendingCode
from portico.experience.next_step import Fulfil, VerifyMfa
from portico.experience.sentinel import SEND_LIMIT, SEND_WINDOW
from portico.experience.verifications import CodeVerification
from portico.web.experience.context import Ctx

# Seconds between two codes asked for from the code page (Logto's pages wait as long).
RESEND_INTERVAL = 60
# The pages' sends (and refused attempts, which the send limit counts too) in this
# interaction: ``[{"to": recipient, "at": epoch seconds}]``, for the code page's countdown.
SENDS = "pageCodeSends"


async def send_code(ctx: Ctx, identifier: Identifier, purpose: str, *, bind: bool = False) -> None:
    """Send a code for ``purpose`` and remember what the code page verifies next (``bind``:
    the identifier joins the profile being fulfilled)."""
    _record_send(ctx, identifier.value)
    try:
        await CodeVerification(identifier, purpose).send(ctx.turn)
    except StepError as error:
        if error.key == "error.too_many_codes":  # the refused attempt counts too
            ctx.interaction[SENDS][-1]["until"] = time.time() + error.params["seconds"]
            await ctx.save()
        raise
    ctx.exp.pending = PendingCode(identifier, purpose, bind)
    await ctx.save()


def _record_send(ctx: Ctx, to: str) -> None:
    now = time.time()
    sends = [s for s in ctx.interaction.get(SENDS) or [] if now - s["at"] < SEND_WINDOW]
    ctx.interaction[SENDS] = [*sends, {"to": to, "at": now}][-4 * SEND_LIMIT :]


def resend_wait(ctx: Ctx, to: str) -> int:
    """Seconds until the server sends ``to`` another code from the code page: the pause
    after the last code, or, once this interaction has used the recipient's budget
    (``SEND_LIMIT`` attempts in ``SEND_WINDOW``, refused ones included, as the sentinel
    counts them), until the oldest of those leaves the window."""
    now = time.time()
    sends = sorted(
        (s for s in ctx.interaction.get(SENDS) or [] if s["to"] == to),
        key=lambda s: float(s["at"]),
    )
    times = [s["at"] for s in sends if now - s["at"] < SEND_WINDOW]
    if not times:
        return 0
    wait = times[-1] + RESEND_INTERVAL - now
    if len(times) >= SEND_LIMIT:
        wait = max(wait, times[-SEND_LIMIT] + SEND_WINDOW + 1 - now)
    elif "until" in sends[-1]:  # sends elsewhere used the budget: the sentinel's figure
        wait = max(wait, sends[-1]["until"] - now)
    return max(0, math.ceil(wait))


def _fulfil_path(need: str) -> str:
    return "/password" if need == "password" else "/continue"


async def advance(ctx: Ctx) -> Response:
    """After any page's step: ask for what is still missing, or finish."""
    if ctx.exp.event != Event.REGISTER and not ctx.exp.user_id:
        return ctx.go("/sign-in")
    concluded = await conclusion.conclude(ctx.turn)
    if isinstance(concluded, str):
        return await finish(ctx, concluded)
    await ctx.save()
    if isinstance(concluded, Fulfil):
        return ctx.go(_fulfil_path(concluded.need))
    return ctx.go("/mfa/verify" if isinstance(concluded, VerifyMfa) else "/mfa/setup")


async def finish(ctx: Ctx, user_id: str) -> Response:
    """Sign in (``conclusion.sign_in``), then back to /oidc/auth with the new session."""
    runtime = ctx.runtime
    old_session = ctx.request.cookies.get(runtime.session_cookie)
    signed_in = await conclusion.sign_in(ctx.turn, user_id, old_session)
    response = ctx.go(f"/oidc/auth/{ctx.uid}")
    runtime.set_signed_in_cookies(response, signed_in, ctx.sie.trustedDevice.days)
    return response
