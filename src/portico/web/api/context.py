"""What the Management API's route modules take from the runtime: the tenant and
transactions. A write route does all its work in one ``write()`` block, so a request either
changes everything it should or nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

from portico.coherence import EVERYTHING
from portico.web.runtime import Runtime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


class ApiContext:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def tenant(self) -> str:
        assert self.runtime.provider is not None
        return self.runtime.provider.tenant_id

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One transaction: committed when the block ends, rolled back if it raises. After
        the commit every process drops its configuration caches (an API write may touch
        clients, roles, keys... and saying which would be one more thing to get wrong)."""
        assert self.runtime.engine is not None
        async with self.runtime.engine.begin() as conn:
            yield conn
            from portico.services import webhook_events  # the request's event joins its change

            await webhook_events.flush(conn)
        self.runtime.coherence.changed(EVERYTHING)

    async def flush_audit(self) -> None:
        """Write the token-endpoint entries this process still holds (``AuditBuffer``), so
        that reading the log shows every exchange this process has answered."""
        await self.runtime.flush_audit()

    def read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        assert self.runtime.engine is not None
        return self.runtime.engine.connect()
