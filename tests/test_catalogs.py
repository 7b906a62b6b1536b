"""The hosted pages speak every language they offer: each catalog holds the same phrases as
the English one, and every phrase a page template names exists."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

SRC = Path(__file__).resolve().parent.parent / "src" / "portico"
LOCALES = sorted(p.name for p in (SRC / "locales").iterdir() if p.is_dir())


def _keys(locale: str) -> dict[str, str]:
    with (SRC / "locales" / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return {str(m.id): str(m.string) for m in read_po(po) if m.id}


def test_every_language_has_every_phrase() -> None:
    english = _keys("en")
    assert len(LOCALES) >= 5
    for locale in LOCALES:
        found = _keys(locale)
        assert set(found) == set(english), (locale, sorted(set(english) ^ set(found))[:10])
        assert all(found.values()), (locale, [k for k, v in found.items() if not v][:10])


def test_every_phrase_a_page_names_exists() -> None:
    english = _keys("en")
    named: set[str] = set()
    for template in (SRC / "web" / "templates").glob("*.html"):
        text = template.read_text()
        # Whole keys only: ``t("action.use_" ~ factor)`` builds its key from a prefix.
        named |= {k for k in re.findall(r't\("([a-z_]+\.[A-Za-z_]+)"', text) if not k.endswith("_")}
    assert named and not named - set(english), sorted(named - set(english))
