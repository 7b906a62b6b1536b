"""The framework cards of "Create application": which application type each one creates,
the redirect URIs its guide uses, its guide template (``console/guides/<key>.html``, code
kept in step with ``examples/``) and its logo (``static/frameworks/<key>.svg``).

Each card's default URIs are the ones its guide's code sends, character for character: the
provider compares redirect and post sign-out URIs exactly, so a default that differs by a
trailing slash makes the guide's sign-out fail with 400. The Go card follows Logto's Go
guide (``SignOut("http://localhost:3000")``) and also registers ``examples/go-gin``'s
``http://localhost:3000/``, which the guide offers to run; Auth.js signs out locally (never
through the provider), so its card registers no post sign-out URI.

The card an application was created from is remembered by ``services.application_guides``.
"""

from __future__ import annotations

from dataclasses import dataclass

from portico.services.application_guides import remember, remembered
from portico.services.applications import AppType

__all__ = ["FRAMEWORKS", "Framework", "guides_for", "remember", "remembered"]


@dataclass(frozen=True)
class Framework:
    key: str
    name: str
    app_type: AppType
    summary: str
    redirect_uri: str = ""
    # The first is the one the guide's code sends; the others keep the repository's example
    # working with the same application.
    post_logout_redirect_uris: tuple[str, ...] = ()

    @property
    def post_logout_redirect_uri(self) -> str:
        return self.post_logout_redirect_uris[0] if self.post_logout_redirect_uris else ""

    @property
    def type_label(self) -> str:
        return TYPE_LABELS[self.app_type]

    @property
    def logo(self) -> str:
        return f"/static/frameworks/{self.key}.svg"


TYPE_LABELS = {
    AppType.TRADITIONAL: "Traditional web",
    AppType.SPA: "Single-page app",
    AppType.NATIVE: "Native app",
    AppType.M2M: "Machine-to-machine",
}

FRAMEWORKS = (
    Framework(
        "go", "Go", AppType.TRADITIONAL, "Gin with the Logto Go SDK",
        "http://localhost:3000/callback", ("http://localhost:3000", "http://localhost:3000/"),
    ),
    Framework(
        "authjs", "Auth.js / Next.js", AppType.TRADITIONAL, "Auth.js v5 or NextAuth v4",
        "http://localhost:3000/api/auth/callback/logto",
    ),
    Framework(
        "python", "Python", AppType.TRADITIONAL, "Flask with the Logto Python SDK",
        "http://localhost:3000/callback", ("http://localhost:3000/",),
    ),
    Framework(
        "traditional", "Traditional web", AppType.TRADITIONAL,
        "Any server-side app using OpenID Connect",
    ),
    Framework(
        "react", "React / SPA", AppType.SPA, "A browser app with PKCE, no secret",
        "http://localhost:3000/callback", ("http://localhost:3000/",),
    ),
    Framework(
        "native", "Native", AppType.NATIVE, "iOS, Android, desktop (RFC 8252)",
        "io.portico.app://callback",
    ),
    Framework(
        "m2m", "Machine-to-machine", AppType.M2M, "Services calling your APIs or /api",
    ),
)  # fmt: skip
BY_KEY = {f.key: f for f in FRAMEWORKS}
# The guide shown for an application created without a card (through /api or the CLI).
DEFAULT_GUIDE = {
    AppType.TRADITIONAL: "traditional",
    AppType.SPA: "react",
    AppType.NATIVE: "native",
    AppType.M2M: "m2m",
}


def guides_for(app_type: AppType) -> list[Framework]:
    return [f for f in FRAMEWORKS if f.app_type is app_type]
