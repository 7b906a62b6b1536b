"""Short-lived protocol artifacts: codes, tokens, grants, sessions, interactions.

One generic table keyed by (kind, id) with an expiry, as Logto's ``oidc_model_instances``.
Single use is enforced by the database (``UPDATE ... WHERE consumed_at IS NULL``), never by a
read-then-write in Python, so two processes racing on one code cannot both win.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portico.storage import hot_path
from portico.storage.database import insert_ignore, now_ms
from portico.storage.tables import oidc_model_instances as t
from portico.storage.tables import users

REVOKED_GRANT = "RevokedGrant"
# A user's grant to an application (what one sign-in to it left behind): ``id`` the grant id,
# kept in ``grant_id`` under the user's group (:func:`account_group`) so that the user's
# grants are one indexed read; :meth:`ArtifactStore.revoke_grant` deletes it by ``id``.
GRANT = "Grant"
# Long enough to outlive any issuance in flight when the grant was revoked.
REVOKED_GRANT_TTL = 3600

# The hot statements, built once: every token request runs some of them, and building a
# SQLAlchemy statement (and its cache key) per call cost more than running it on SQLite.
_INSERT = insert(t)
_FIND = select(t.c.payload, t.c.expires_at, t.c.consumed_at, t.c.grant_id).where(
    t.c.model_name == bindparam("p_kind"),
    t.c.id == bindparam("p_id"),
    t.c.tenant_id == bindparam("p_tenant"),
    t.c.expires_at > bindparam("p_now"),
)
_SAVED_COLUMNS = ("tenant_id", "model_name", "id", "payload", "expires_at", "grant_id")
_HOT_INSERT = hot_path.HotStatement(
    insert(t).values({column: bindparam(column) for column in _SAVED_COLUMNS})
)
_HOT_FIND = hot_path.HotStatement(_FIND)
# Insert unless the key exists (a replay cache): PostgreSQL's construct compiles to the same
# ``ON CONFLICT DO NOTHING`` on SQLite.
_INSERT_ONCE = pg_insert(t).values({column: bindparam(column) for column in _SAVED_COLUMNS})
_HOT_INSERT_ONCE = hot_path.HotStatement(_INSERT_ONCE.on_conflict_do_nothing())
# A token or code with the user it was issued to (columns labelled ``account_<name>``), in
# one read: userinfo and the code and refresh grants need both, and on PostgreSQL each read
# is a round trip.
_ACCOUNT = "account_"
_HOT_FIND_WITH_ACCOUNT = hot_path.HotStatement(
    _FIND.add_columns(*(column.label(_ACCOUNT + column.name) for column in users.c)).select_from(
        t.outerjoin(
            users,
            and_(
                users.c.tenant_id == t.c.tenant_id,
                users.c.id == t.c.payload["accountId"].as_string(),
            ),
        )
    )
)
_REPLACE = (
    update(t)
    .where(t.c.model_name == bindparam("p_kind"), t.c.id == bindparam("p_id"))
    .values(payload=bindparam("payload", type_=t.c.payload.type))
)
_DESTROY = delete(t).where(t.c.model_name == bindparam("p_kind"), t.c.id == bindparam("p_id"))


@functools.cache
def _hot_find_kinds(kinds: tuple[str, ...]) -> hot_path.HotStatement:
    """An artifact of any of ``kinds`` (a handful of tuples: the lookup orders of revocation
    and introspection, each built once): one statement where a token of unknown kind would
    otherwise take one per kind."""
    return hot_path.HotStatement(
        select(t.c.model_name, t.c.payload, t.c.expires_at, t.c.consumed_at, t.c.grant_id).where(
            or_(*(t.c.model_name == kind for kind in kinds)),
            t.c.id == bindparam("p_id"),
            t.c.tenant_id == bindparam("p_tenant"),
            t.c.expires_at > bindparam("p_now"),
        )
    )


_CONSUME = (
    update(t)
    .where(
        t.c.model_name == bindparam("p_kind"),
        t.c.id == bindparam("p_id"),
        t.c.tenant_id == bindparam("p_tenant"),
        t.c.consumed_at.is_(None),
        t.c.expires_at > bindparam("p_now"),
    )
    .values(consumed_at=bindparam("p_now"))
)
_HOT_CONSUME = hot_path.HotStatement(_CONSUME)


def account_group(account_id: str) -> str:
    """The ``grant_id`` value that groups one user's :data:`GRANT` rows."""
    return f"account:{account_id}"


@dataclass(frozen=True, slots=True)
class NewArtifact:
    """One row for :meth:`ArtifactStore.save_all`; ``expires_at`` in epoch milliseconds."""

    kind: str
    id: str
    payload: dict[str, Any]
    expires_at: int
    grant_id: str | None = None


@dataclass(frozen=True, slots=True)
class Artifact:
    id: str
    payload: dict[str, Any]
    expires_at: int
    consumed_at: int | None
    grant_id: str | None


class ArtifactStore:
    """Repository over ``oidc_model_instances`` for one tenant."""

    def __init__(self, engine: AsyncEngine, tenant_id: str) -> None:
        self._engine = engine
        self._tenant_id = tenant_id
        self._hot = hot_path.for_engine(engine)
        self._autocommit = hot_path.autocommit(engine)

    async def save(
        self,
        kind: str,
        artifact_id: str,
        payload: dict[str, Any],
        ttl_seconds: int,
        grant_id: str | None = None,
        *,
        expires_at: int | None = None,
        conn: AsyncConnection | None = None,
    ) -> None:
        """``conn``: write in the caller's transaction (else one of its own)."""
        values = {
            "tenant_id": self._tenant_id,
            "model_name": kind,
            "id": artifact_id,
            "payload": payload,
            "expires_at": expires_at or now_ms() + ttl_seconds * 1000,
            "grant_id": grant_id,
        }
        hot = self._hot if conn is None else None  # in a caller's transaction: its connection
        if hot is None or await hot.write(_HOT_INSERT, values) is None:
            await self._write(conn, _INSERT, values)

    async def save_all(self, rows: Sequence[NewArtifact]) -> None:
        """Store several artifacts all or none (a code and the grant it starts)."""
        if len(rows) == 1:  # one statement is atomic by itself: the cheaper way
            row = rows[0]
            await self.save(row.kind, row.id, row.payload, 0, row.grant_id,
                            expires_at=row.expires_at)  # fmt: skip
            return
        values = [
            {
                "tenant_id": self._tenant_id,
                "model_name": row.kind,
                "id": row.id,
                "payload": row.payload,
                "expires_at": row.expires_at,
                "grant_id": row.grant_id,
            }
            for row in rows
        ]
        if self._hot is not None and await self._hot.write_many(_HOT_INSERT, values) is not None:
            return
        async with self._engine.begin() as conn:
            await conn.execute(_INSERT, values)

    async def grants_of(self, account_id: str) -> list[Artifact]:
        """The user's unexpired :data:`GRANT` rows, oldest first."""
        query = (
            select(t.c.id, t.c.payload, t.c.expires_at, t.c.consumed_at, t.c.grant_id)
            .where(
                t.c.model_name == GRANT,
                t.c.grant_id == account_group(account_id),
                t.c.tenant_id == self._tenant_id,
                t.c.expires_at > now_ms(),
            )
            .order_by(t.c.expires_at, t.c.id)  # one TTL for all: the order they began in
        )
        async with self._autocommit.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_artifact(row.id, row._mapping) for row in rows]

    async def save_once(
        self,
        kind: str,
        artifact_id: str,
        payload: dict[str, Any],
        ttl_seconds: int,
        group: str | None = None,
    ) -> bool:
        """Store the artifact unless one with this id exists (expired or not): True for
        exactly one caller, on any number of processes (a replay cache: a client
        assertion's or a DPoP proof's ``jti``). ``group``: kept in ``grant_id``, for
        :meth:`take_group`."""
        values = {
            "tenant_id": self._tenant_id,
            "model_name": kind,
            "id": artifact_id,
            "payload": payload,
            "expires_at": now_ms() + ttl_seconds * 1000,
            "grant_id": group,
        }
        if self._hot is not None:  # every DPoP proof and client assertion: the fast way
            written = await self._hot.write(_HOT_INSERT_ONCE, values)
            if written is not None:
                return written == 1
        async with self._autocommit.begin() as conn:  # one INSERT: atomic by itself
            result = await conn.execute(_HOT_INSERT_ONCE.statement, values)
        return result.rowcount == 1

    async def replace(
        self,
        kind: str,
        artifact_id: str,
        payload: dict[str, Any],
        conn: AsyncConnection | None = None,
    ) -> None:
        params = {"p_kind": kind, "p_id": artifact_id, "payload": payload}
        await self._write(conn, _REPLACE, params)

    async def _write(
        self, conn: AsyncConnection | None, statement: Any, params: dict[str, Any]
    ) -> None:
        if conn is not None:
            await conn.execute(statement, params)
            return
        async with self._autocommit.begin() as own:  # one statement: its own transaction
            await own.execute(statement, params)

    async def find(
        self, kind: str, artifact_id: str, conn: AsyncConnection | None = None
    ) -> Artifact | None:
        """The artifact if it exists and has not expired (consumed ones are returned too).
        ``conn``: read on the caller's connection (one checkout for several reads)."""
        params = {"p_kind": kind, "p_id": artifact_id, "p_tenant": self._tenant_id}
        params["p_now"] = now_ms()
        if conn is None:
            row = await hot_path.first_row(self._engine, _HOT_FIND, params)
        else:
            found = (await conn.execute(_FIND, params)).first()
            row = dict(found._mapping) if found else None
        return _artifact(artifact_id, row) if row else None

    async def find_with_account(
        self, kind: str, artifact_id: str
    ) -> tuple[Artifact | None, dict[str, Any] | None]:
        """The artifact (as :meth:`find`) and the user of its ``accountId``, None when that
        user is gone, in one read."""
        params = {"p_kind": kind, "p_id": artifact_id, "p_tenant": self._tenant_id}
        params["p_now"] = now_ms()
        row = await hot_path.first_row(self._engine, _HOT_FIND_WITH_ACCOUNT, params)
        if row is None:
            return None, None
        account = {
            name[len(_ACCOUNT) :]: value for name, value in row.items() if name.startswith(_ACCOUNT)
        }
        return _artifact(artifact_id, row), account if account["id"] is not None else None

    async def find_kinds(
        self, kinds: tuple[str, ...], artifact_id: str
    ) -> list[tuple[str, Artifact]]:
        """The unexpired artifacts of any of ``kinds`` with this id, in the order of
        ``kinds`` (a token of unknown kind: introspection, revocation)."""
        params = {"p_id": artifact_id, "p_tenant": self._tenant_id, "p_now": now_ms()}
        rows = await hot_path.all_rows(self._engine, _hot_find_kinds(kinds), params)
        found = {row["model_name"]: _artifact(artifact_id, row) for row in rows}
        return [(kind, found[kind]) for kind in kinds if kind in found]

    async def consume(self, kind: str, artifact_id: str) -> bool:
        """Mark as used; True only for the one caller that consumed an unexpired artifact."""
        if self._hot is not None:
            params = {"p_kind": kind, "p_id": artifact_id, "p_tenant": self._tenant_id}
            changed = await self._hot.write(_HOT_CONSUME, {**params, "p_now": now_ms()})
            if changed is not None:
                return changed == 1
        async with self._autocommit.begin() as conn:  # one UPDATE: atomic by itself
            return await consume(conn, self._tenant_id, kind, artifact_id)

    async def destroy(
        self, kind: str, artifact_id: str, conn: AsyncConnection | None = None
    ) -> None:
        await self._write(conn, _DESTROY, {"p_kind": kind, "p_id": artifact_id})

    async def take_group(self, kind: str, group: str) -> list[Artifact]:
        """Delete and return the unexpired artifacts of ``kind`` saved with ``grant_id=group``
        (the applications a browser session signed in to, taken once at its logout): one
        ``DELETE ... RETURNING``, so two logouts racing cannot both take a row."""
        statement = (
            delete(t)
            .where(t.c.model_name == kind, t.c.grant_id == group, t.c.tenant_id == self._tenant_id)
            .returning(t.c.id, t.c.payload, t.c.expires_at, t.c.consumed_at, t.c.grant_id)
        )
        async with self._engine.begin() as conn:
            rows = (await conn.execute(statement)).all()
        now = now_ms()
        return [_artifact(row.id, row._mapping) for row in rows if row.expires_at > now]

    async def revoke_grant(self, grant_id: str) -> int:
        """Delete everything issued under a grant (code replay, refresh reuse, revocation),
        and its :data:`GRANT` row.

        A marker is committed first, then the rows deleted, so that an issuance racing with
        the revocation (the winner of a replayed code) is never left standing: it either
        sees the marker in :meth:`grant_revoked` after storing its tokens, or stored them
        before the delete began, which then removes them."""
        if grant_id:
            async with self._engine.begin() as conn:
                await insert_ignore(
                    conn,
                    t,
                    [
                        {
                            "tenant_id": self._tenant_id,
                            "model_name": REVOKED_GRANT,
                            "id": grant_id,
                            "payload": {},
                            "expires_at": now_ms() + REVOKED_GRANT_TTL * 1000,
                            "grant_id": None,
                        }
                    ],
                )
        async with self._engine.begin() as conn:
            issued = t.c.grant_id == grant_id
            result = await conn.execute(
                delete(t).where(
                    or_(issued, and_(t.c.model_name == GRANT, t.c.id == grant_id)),
                    t.c.tenant_id == self._tenant_id,
                )
            )
        return result.rowcount

    async def grant_revoked(self, grant_id: str) -> bool:
        """True once :meth:`revoke_grant` ran for ``grant_id``: a grant handler asks after
        storing new tokens, and revokes again if so."""
        return await self.find(REVOKED_GRANT, grant_id) is not None


async def revoke_account(conn: AsyncConnection, tenant_id: str, account_id: str) -> int:
    """Delete every session, code and token of one user (suspension, deletion), in the
    caller's transaction. JWT access tokens are not stored and live out their short TTL."""
    result = await conn.execute(
        delete(t).where(
            t.c.tenant_id == tenant_id, t.c.payload["accountId"].as_string() == account_id
        )
    )
    return result.rowcount


async def consume(conn: AsyncConnection, tenant_id: str, kind: str, artifact_id: str) -> bool:
    """:meth:`ArtifactStore.consume` in the caller's transaction, for a single-use artifact
    whose use writes other rows too (an invitation and the account it creates)."""
    params = {"p_kind": kind, "p_id": artifact_id, "p_tenant": tenant_id, "p_now": now_ms()}
    result = await conn.execute(_CONSUME, params)
    return result.rowcount == 1


def _artifact(artifact_id: str, row: Any) -> Artifact:
    return Artifact(
        artifact_id, row["payload"], row["expires_at"], row["consumed_at"], row["grant_id"]
    )
