"""The framework cards of "Create application": which application type each one creates,
the redirect URIs its guide uses, and its guide template (``console/guides/<key>.html``,
code kept in step with ``examples/``)."""

from __future__ import annotations

from dataclasses import dataclass

from portico.services.applications import AppType


@dataclass(frozen=True)
class Framework:
    key: str
    name: str
    app_type: AppType
    summary: str
    redirect_uri: str = ""
    post_logout_redirect_uri: str = ""

    @property
    def type_label(self) -> str:
        return TYPE_LABELS[self.app_type]


TYPE_LABELS = {
    AppType.TRADITIONAL: "Traditional web",
    AppType.SPA: "Single-page app",
    AppType.NATIVE: "Native app",
    AppType.M2M: "Machine-to-machine",
}

FRAMEWORKS = (
    Framework(
        "go", "Go", AppType.TRADITIONAL, "Gin with the Logto Go SDK",
        "http://localhost:3000/callback", "http://localhost:3000/",
    ),
    Framework(
        "authjs", "Auth.js / Next.js", AppType.TRADITIONAL, "Auth.js v5 or NextAuth v4",
        "http://localhost:3000/api/auth/callback/logto", "http://localhost:3000/",
    ),
    Framework(
        "python", "Python", AppType.TRADITIONAL, "Flask with the Logto Python SDK",
        "http://localhost:3000/callback", "http://localhost:3000/",
    ),
    Framework(
        "traditional", "Traditional web", AppType.TRADITIONAL,
        "Any server-side app using OpenID Connect",
    ),
    Framework(
        "react", "React / SPA", AppType.SPA, "A browser app with PKCE, no secret",
        "http://localhost:3000/callback", "http://localhost:3000/",
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
