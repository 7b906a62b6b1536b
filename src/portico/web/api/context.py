"""What the Management API's route modules take from the runtime: the tenant and
transactions. A write route does all its work in one ``write()`` block, so a request either
changes everything it should or nothing."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from sqlalchemy.ext.asyncio import AsyncConnection

from portico.web.runtime import Runtime


class ApiContext:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def tenant(self) -> str:
        assert self.runtime.provider is not None
        return self.runtime.provider.tenant_id

    def write(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        assert self.runtime.engine is not None
        return self.runtime.engine.begin()

    def read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        assert self.runtime.engine is not None
        return self.runtime.engine.connect()
