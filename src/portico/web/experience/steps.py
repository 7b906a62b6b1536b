"""What the pages share around the sign-in engine (``portico.experience``): send a code and
remember it for the code page, and go wherever the engine says comes next.

``advance`` is the pages' one exit after any verification: the engine's
``conclusion.conclude`` decides (profile fulfilment, a second factor to verify or bind,
account creation, sign-in) and this turns its answer into a redirect and the session
cookie.
"""

from __future__ import annotations

from starlette.responses import Response

from portico.experience import conclusion
from portico.experience.identifiers import Identifier
from portico.experience.interaction import Event, PendingCode
from portico.experience.next_step import Fulfil, VerifyMfa
from portico.experience.verifications import CodeVerification
from portico.web.experience.context import Ctx


async def send_code(ctx: Ctx, identifier: Identifier, purpose: str, *, bind: bool = False) -> None:
    """Send a code for ``purpose`` and remember what the code page verifies next (``bind``:
    the identifier joins the profile being fulfilled)."""
    await CodeVerification(identifier, purpose).send(ctx.turn)
    ctx.exp.pending = PendingCode(identifier, purpose, bind)
    await ctx.save()


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
