"""SQL for ``users``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    table,
    text,
    update,
)
from sqlalchemy import (
    column as column_clause,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portico.storage import hot_path
from portico.storage import search as search_sql
from portico.storage.database import settle_bulk_load
from portico.storage.tables import organization_user_relations, users, users_roles

log = logging.getLogger("portico")

# Logto's searchable user fields (``userSearchKeys``).
SEARCH_FIELDS = {
    "id": users.c.id,
    "primaryEmail": users.c.primary_email,
    "primaryPhone": users.c.primary_phone,
    "username": users.c.username,
    "name": users.c.name,
}


# SQLite's trigram index of the searched columns (migration 0005), kept by triggers.
_USERS_SEARCH = table("users_search", column_clause("id"))
_TRIGRAM = 3  # FTS5's trigram tokenizer finds nothing shorter


def _fts_prefilter(fields: Sequence[str], match: search_sql.Match) -> ColumnElement[bool] | None:
    """Users whose indexed fields hold every literal run of the match's pattern (or its
    exact value), from one FTS5 query: a superset, since a run may sit in another field or
    differ in non-ASCII case. Runs under three characters are left to the check that
    follows; a value with no longer run cannot be narrowed (None)."""
    alternatives = []
    for runs in search_sql.literal_runs(match):
        quoted = ('"' + run.replace('"', '""') + '"' for run in runs if len(run) >= _TRIGRAM)
        phrases = list(quoted)
        if not phrases:
            return None
        alternatives.append("(" + " AND ".join(phrases) + ")")
    columns = " ".join(SEARCH_FIELDS[f].name for f in fields)
    query = "{" + columns + "} : (" + " OR ".join(alternatives) + ")"
    ids = select(_USERS_SEARCH.c.id).where(
        literal_column("users_search").op("MATCH")(bindparam(None, query, type_=String))
    )
    return users.c.id.in_(ids)


def _trgm_prefilter(fields: Sequence[str], match: search_sql.Match) -> ColumnElement[bool] | None:
    """PostgreSQL's ``ILIKE`` and ``LIKE`` use the pg_trgm indexes (migration 0005) as they
    are; a case-insensitive ``exact`` match compares ``lower()`` values, which they cannot
    answer, so it is narrowed by the same value as an escaped ``ILIKE`` first."""
    if match.mode != "exact":
        return None
    return or_(
        *(
            SEARCH_FIELDS[f].ilike(search_sql.escape_like(value))
            for f in fields
            for value in match.values
        )
    )


# A prepared statement is planned for its parameters five times, then PostgreSQL may keep a
# generic plan, which cannot see how rare a pattern's trigrams are and reads every user
# (14 ms a search instead of 1.3 at 10k users, bench/scale.py). A search is planned for its
# own pattern, to the end of the transaction (or of this statement, outside one).
_CUSTOM_PLANS = text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)")


# PostgreSQL's trigram indexes of the searched columns (migrations 0005 and 0008).
TRIGRAM_INDEXES = tuple(f"ix_users_{column.name}_trgm" for column in SEARCH_FIELDS.values())


@asynccontextmanager
async def bulk_loading(engine: AsyncEngine) -> AsyncIterator[None]:
    """Around many user inserts at once (seeding): on PostgreSQL the trigram indexes queue
    new entries in their pending list meanwhile (``fastupdate``: 12-14k users/s instead of
    4k with direct writes), and at the end the list is merged and direct writes come back
    (migration 0008 says why searches need them). Searches during the load may be slower.
    Where the indexes cannot be switched within a few seconds (locked by a long query),
    the load runs at the slower pace. A load that completes ends settled
    (:func:`~portico.storage.database.settle_bulk_load`)."""
    if engine.dialect.name != "postgresql":
        yield
        await settle_bulk_load(engine, "users")
        return
    try:
        switched = await _set_fastupdate(engine, True, wait="5s")
    except DBAPIError as error:
        log.warning("bulk load with direct index writes: %s", type(error.orig).__name__)
        switched = []
    try:
        yield
    finally:
        if switched:
            await _set_fastupdate(engine, False, wait="60s")
    await settle_bulk_load(engine, "users")


async def _set_fastupdate(engine: AsyncEngine, on: bool, wait: str) -> list[str]:
    """Switch the trigram indexes that exist (none without pg_trgm); off merges the pending
    list too. Returns their names. ``wait``: how long to wait for each index's lock."""
    async with engine.begin() as conn:
        await conn.execute(text(f"SET LOCAL lock_timeout = '{wait}'"))
        found = await conn.execute(
            text("SELECT relname FROM pg_class WHERE relkind = 'i' AND relname = ANY(:names)"),
            {"names": list(TRIGRAM_INDEXES)},
        )
        names = [row[0] for row in found]
        setting = "on" if on else "off"
        for name in names:
            await conn.execute(text(f"ALTER INDEX {name} SET (fastupdate = {setting})"))
            if not on:
                await conn.execute(text(f"SELECT gin_clean_pending_list('{name}'::regclass)"))
    return names


async def insert_user(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(users).values(row))


async def insert_users(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Many complete rows in one statement (executemany): bulk seeding and import."""
    await conn.execute(insert(users), rows)


# Built once: every token and userinfo request reads a user (see storage/artifacts.py).
_GET_USER = select(users).where(
    users.c.tenant_id == bindparam("p_tenant"), users.c.id == bindparam("p_id")
)
_GET_USER_FOR_UPDATE = _GET_USER.with_for_update()
_HOT_GET_USER = hot_path.HotStatement(_GET_USER)


async def get_user(
    conn: AsyncConnection, tenant_id: str, user_id: str, *, for_update: bool = False
) -> dict[str, Any] | None:
    """One user; ``for_update`` locks the row (PostgreSQL) for a read-modify-write."""
    query = _GET_USER_FOR_UPDATE if for_update else _GET_USER
    row = (await conn.execute(query, {"p_tenant": tenant_id, "p_id": user_id})).first()
    return dict(row._mapping) if row else None


async def read_user(engine: AsyncEngine, tenant_id: str, user_id: str) -> dict[str, Any] | None:
    """One user outside any transaction, a hot read (storage/hot_path.py): the sign-in
    steps ask it. The token endpoints and userinfo read the user with the token instead
    (``ArtifactStore.find_with_account``)."""
    return await hot_path.first_row(engine, _HOT_GET_USER, {"p_tenant": tenant_id, "p_id": user_id})


async def update_user(
    conn: AsyncConnection, tenant_id: str, user_id: str, values: dict[str, Any]
) -> bool:
    result = await conn.execute(
        update(users).where(users.c.tenant_id == tenant_id, users.c.id == user_id).values(values)
    )
    return result.rowcount == 1


async def delete_user(conn: AsyncConnection, tenant_id: str, user_id: str) -> bool:
    result = await conn.execute(
        delete(users).where(users.c.tenant_id == tenant_id, users.c.id == user_id)
    )
    return result.rowcount == 1


# Built once (a sign-in asks it every time). Each branch names the tenant itself: written as
# ``tenant AND (a OR b OR c)``, SQLite without ANALYZE statistics scanned every user of the
# tenant (73 ms at 100k users); in this form it looks up each unique index (bench/scale.py).
_FIND_BY_IDENTIFIER = (
    select(users)
    .where(
        or_(
            and_(
                users.c.tenant_id == bindparam("p_tenant"),
                users.c.username == bindparam("p_identifier"),
            ),
            and_(
                users.c.tenant_id == bindparam("p_tenant"),
                users.c.primary_email == bindparam("p_lowered"),
            ),
            and_(
                users.c.tenant_id == bindparam("p_tenant"),
                users.c.primary_phone == bindparam("p_identifier"),
            ),
        )
    )
    .limit(1)
)
_HOT_FIND_BY_IDENTIFIER = hot_path.HotStatement(_FIND_BY_IDENTIFIER)


def _identifier_params(tenant_id: str, identifier: str) -> dict[str, str]:
    return {"p_tenant": tenant_id, "p_identifier": identifier, "p_lowered": identifier.lower()}


async def find_by_identifier(
    conn: AsyncConnection, tenant_id: str, identifier: str
) -> dict[str, Any] | None:
    """Username (exact), e-mail (stored lower-cased) or phone; each is unique per tenant."""
    params = _identifier_params(tenant_id, identifier)
    row = (await conn.execute(_FIND_BY_IDENTIFIER, params)).first()
    return dict(row._mapping) if row else None


async def read_by_identifier(
    engine: AsyncEngine, tenant_id: str, identifier: str
) -> dict[str, Any] | None:
    """:func:`find_by_identifier` outside any transaction, as :func:`read_user`: the password
    sign-in reads the user this way, so no connection is held while the password is hashed."""
    params = _identifier_params(tenant_id, identifier)
    return await hot_path.first_row(engine, _HOT_FIND_BY_IDENTIFIER, params)


async def taken_identifier(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    username: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    other_than: str | None = None,
) -> str | None:
    """Which of the given identifiers (``username``, ``email``, ``phone``) another user holds."""
    for name, column, value in (
        ("username", users.c.username, username),
        ("email", users.c.primary_email, email),
        ("phone", users.c.primary_phone, phone),
    ):
        if not value:
            continue
        query = select(users.c.id).where(users.c.tenant_id == tenant_id, column == value)
        if other_than:
            query = query.where(users.c.id != other_than)
        if (await conn.execute(query.limit(1))).first():
            return name
    return None


async def find_users(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    search: search_sql.Search | None = None,
    role_id: str | None = None,
    exclude_role_id: str | None = None,
    organization_id: str | None = None,
    exclude_organization_id: str | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[int, list[dict[str, Any]]]:
    """``(total, page)`` newest first; ``organization_id`` keeps the members of one
    organization, ``exclude_organization_id`` everyone else."""
    conditions = [users.c.tenant_id == tenant_id]
    if search is not None and not search.empty:
        dialect = conn.dialect.name
        if dialect == "postgresql":
            await conn.execute(_CUSTOM_PLANS)
        prefilter = _fts_prefilter if dialect == "sqlite" else _trgm_prefilter
        conditions.append(search_sql.condition(search, SEARCH_FIELDS, dialect, prefilter))
    if role_id:
        conditions.append(users.c.id.in_(_with_role(role_id)))
    if exclude_role_id:
        conditions.append(users.c.id.not_in(_with_role(exclude_role_id)))
    if organization_id:
        conditions.append(users.c.id.in_(_member_of(organization_id)))
    if exclude_organization_id:
        conditions.append(users.c.id.not_in(_member_of(exclude_organization_id)))
    total = (
        await conn.execute(select(func.count()).select_from(users).where(*conditions))
    ).scalar_one()
    rows = await conn.execute(
        select(users)
        .where(*conditions)
        .order_by(users.c.created_at.desc(), users.c.id)
        .offset(offset)
        .limit(limit)
    )
    return int(total), [dict(r._mapping) for r in rows]


def _with_role(role_id: str):  # type: ignore[no-untyped-def]
    return select(users_roles.c.user_id).where(users_roles.c.role_id == role_id)


def _member_of(organization_id: str):  # type: ignore[no-untyped-def]
    members = organization_user_relations
    return select(members.c.user_id).where(members.c.organization_id == organization_id)


_TOUCH_SIGN_IN = (
    update(users)
    .where(users.c.id == bindparam("p_id"))
    .values(last_sign_in_at=bindparam("p_at", type_=users.c.last_sign_in_at.type))
)


async def touch_sign_in(conn: AsyncConnection, user_id: str, at: int) -> None:
    """Every sign-in runs it: built once (see ``_GET_USER``)."""
    await conn.execute(_TOUCH_SIGN_IN, {"p_id": user_id, "p_at": at})


async def count_users(conn: AsyncConnection, tenant_id: str) -> int:
    result = await conn.execute(
        select(func.count()).select_from(users).where(users.c.tenant_id == tenant_id)
    )
    return int(result.scalar_one())


async def replace_password(
    conn: AsyncConnection,
    user_id: str,
    old_encrypted: str,
    encrypted: str,
    method: str,
    at: int,
) -> bool:
    """Swap the stored hash only if it is still ``old_encrypted``; True when it was swapped."""
    result = await conn.execute(
        update(users)
        .where(users.c.id == user_id, users.c.password_encrypted == old_encrypted)
        .values(password_encrypted=encrypted, password_encryption_method=method, updated_at=at)
    )
    return result.rowcount == 1
