"""Synthetic users in bulk, for load tests and scale measurements (``portico user seed``).

A million users through the Management API would take hours of Argon2id; here the rows are
built in Python and written in batches of one multi-row statement each, every batch its own
transaction, so progress is kept if the run is stopped and memory stays flat. Seeded users
are ordinary users with varied identifiers (so that search indexes meet the spread of real
data, not one shared prefix): ``<prefix><first>_<last><n>`` usernames (Logto's username
rule), the same with dots at one of a few example domains as e-mail, phone numbers
``1 555 …`` (555 numbers, though only 555-0100 to 0199 are reserved for fiction: these are
test data and never texted), and "First Last" names from lists of 50 and 32 (one name
matches ~1/1600 of the users). When a password is given, one Argon2id hash is computed once
and shared by all of them (they are test accounts).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from portico.ids import short_id
from portico.services.passwords import hash_password
from portico.services.users import USERNAME_RE
from portico.storage import users as repo
from portico.storage.database import now_ms

FIRST = [
    "Ada",
    "Alan",
    "Amara",
    "Ana",
    "Ari",
    "Bea",
    "Ben",
    "Carla",
    "Chen",
    "Dara",
    "Diego",
    "Eli",
    "Emma",
    "Eun",
    "Femi",
    "Grace",
    "Hana",
    "Hugo",
    "Ines",
    "Ivan",
    "Jae",
    "Jin",
    "Kai",
    "Kenji",
    "Lea",
    "Leo",
    "Lina",
    "Luca",
    "Maya",
    "Mei",
    "Min",
    "Nia",
    "Noah",
    "Omar",
    "Ora",
    "Paz",
    "Rafa",
    "Rin",
    "Rosa",
    "Sami",
    "Sara",
    "Seo",
    "Tara",
    "Theo",
    "Uma",
    "Vera",
    "Wen",
    "Yara",
    "Yuki",
    "Zoe",
]
LAST = [
    "Kim",
    "Park",
    "Lee",
    "Garcia",
    "Silva",
    "Chen",
    "Wang",
    "Sato",
    "Suzuki",
    "Novak",
    "Okafor",
    "Haddad",
    "Rossi",
    "Muller",
    "Dubois",
    "Kowalski",
    "Jensen",
    "Nguyen",
    "Tanaka",
    "Ivanova",
    "Costa",
    "Moreau",
    "Fischer",
    "Santos",
    "Ali",
    "Khan",
    "Cohen",
    "Mensah",
    "Larsen",
    "Olsen",
    "Rahman",
    "Reyes",
]
DOMAINS = ("example.com", "mail.example", "corp.example", "school.example", "shop.example")
PHONE_BASE = 15550100000  # +1 555 …


def rows(
    tenant_id: str, prefix: str, start: int, count: int, domain: str, password: tuple[str, str]
) -> Iterator[dict[str, Any]]:
    rng = random.Random(start)  # noqa: S311 - names only; ids come from the CSPRNG
    base = now_ms()
    for n in range(start, start + count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        handle = f"{prefix}{first.lower()}_{last.lower()}{n}"  # Logto's username rule
        yield {
            "tenant_id": tenant_id,
            "id": short_id(),
            "username": handle,
            "primary_email": f"{handle.replace('_', '.')}@{domain or rng.choice(DOMAINS)}",
            "primary_phone": str(PHONE_BASE + n),  # stored as digits with the country code
            "password_encrypted": password[0] or None,
            "password_encryption_method": password[1] or None,
            "name": f"{first} {last}",
            "avatar": None,
            "profile": {},
            "identities": {},
            "custom_data": {},
            "is_suspended": False,
            "last_sign_in_at": None,
            "created_at": base + n,  # distinct, in seeding order
            "updated_at": base + n,
        }


async def seed_users(
    engine: AsyncEngine,
    tenant_id: str,
    count: int,
    *,
    prefix: str = "",
    start: int = 0,
    domain: str = "",
    password: str | None = None,
    batch: int = 5000,
    progress: Callable[[int], None] = lambda _: None,
) -> int:
    """Insert ``count`` users numbered from ``start``; returns how many were inserted.
    A clash with an existing username/e-mail/phone fails that batch (nothing half-written);
    earlier batches stay."""
    if batch < 1 or count < 1:
        raise ValueError("count and batch must be at least 1")
    if prefix and not USERNAME_RE.match(f"{prefix}a_b0"):
        raise ValueError("the prefix must be letters, digits or _ and start with a letter or _")
    hashed = await hash_password(password) if password else ("", "")
    done = 0
    async with repo.bulk_loading(engine):
        while done < count:
            size = min(batch, count - done)
            chunk = list(rows(tenant_id, prefix, start + done, size, domain, hashed))
            async with engine.begin() as conn:
                await repo.insert_users(conn, chunk)
            done += size
            progress(size)
    return done
