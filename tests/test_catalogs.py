"""The hosted pages and the console speak every language they offer: each catalog (domain
``messages`` for the pages, ``console`` for the console) holds the same phrases as the
English one with the same placeholders, and every phrase a template or handler names
exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from portico.saml_idp.formats import NameIdFormat
from portico.services.applications import AppType
from portico.web.console import sign_in_experience as sie
from portico.web.console.frameworks import FRAMEWORKS

SRC = Path(__file__).resolve().parent.parent / "src" / "portico"
LOCALES = sorted(p.name for p in (SRC / "locales").iterdir() if p.is_dir())
DOMAINS = ("messages", "console")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# ``t("key")``, ``t.markup("key")``, ``ctx.t("key")``, ``ENGLISH("key")``; whole keys only:
# ``t("app_type." ~ a.type)`` builds its key from a prefix (checked below).
CONSOLE_KEY = re.compile(r"(?:\bt|\bENGLISH)(?:\.markup)?\(\s*[\"']([a-z_]+(?:\.[A-Za-z_]+)+)[\"']")


def _keys(locale: str, domain: str = "messages") -> dict[str, str]:
    with (SRC / "locales" / locale / "LC_MESSAGES" / f"{domain}.po").open("rb") as po:
        return {str(m.id): str(m.string) for m in read_po(po) if m.id}


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_language_has_every_phrase(domain: str) -> None:
    english = _keys("en", domain)
    assert len(LOCALES) >= 5
    for locale in LOCALES:
        found = _keys(locale, domain)
        assert set(found) == set(english), (locale, sorted(set(english) ^ set(found))[:10])
        assert all(found.values()), (locale, [k for k, v in found.items() if not v][:10])


def test_console_phrases_keep_their_placeholders() -> None:
    english = _keys("en", "console")
    for locale in LOCALES:
        for key, text in _keys(locale, "console").items():
            wanted = set(PLACEHOLDER.findall(english[key]))
            assert set(PLACEHOLDER.findall(text)) == wanted, (locale, key, text)


def test_every_phrase_a_page_names_exists() -> None:
    english = _keys("en")
    named: set[str] = set()
    for template in (SRC / "web" / "templates").glob("*.html"):
        text = template.read_text()
        # Whole keys only: ``t("action.use_" ~ factor)`` builds its key from a prefix.
        named |= {k for k in re.findall(r't\("([a-z_]+\.[A-Za-z_]+)"', text) if not k.endswith("_")}
    assert named and not named - set(english), sorted(named - set(english))


def test_every_phrase_the_console_names_exists() -> None:
    english = _keys("en", "console")
    named: set[str] = set()
    sources = [
        *(SRC / "web" / "templates" / "console").rglob("*.html"),
        *(SRC / "web" / "console").glob("*.py"),
    ]
    for source in sources:
        named |= set(CONSOLE_KEY.findall(source.read_text()))
    # Keys built from a prefix: application types, framework cards, key statuses, results.
    named |= {f"app_type.{t.value}" for t in AppType}
    named |= {f"framework.{f.key}{part}" for f in FRAMEWORKS for part in ("", ".summary")}
    named |= {f"keys.status.{status}" for status in ("Current", "Previous", "Next")}
    named |= {f"logs.result.{result}" for result in ("Success", "Error")}
    # The sign-in experience's MFA choices and preview pages.
    named |= {f"{p}.{f}" for f in sie.MFA_FACTORS for p in ("mfa.factor", "sie.mfa_factor_hint")}
    named |= {f"sie.mfa_policy{p}.{v}" for v in sie.MFA_POLICIES for p in ("", "_hint")}
    named |= {f"sie.org_policy{p}.{v}" for v in sie.ORG_MFA_POLICIES for p in ("", "_hint")}
    named |= {f"sie.preview_page.{key}" for key in sie.PREVIEW_PAGES.values()}
    named |= {f"connectors.type.{kind}" for kind in ("Email", "Sms", "Social")}
    named |= {f"saml.name_id.{f.name}" for f in NameIdFormat}  # the SAML NameID formats
    assert len(named) > 100 and not named - set(english), sorted(named - set(english))
