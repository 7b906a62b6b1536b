"""Installed connectors, found through the ``portico.connectors`` entry-point group.

Built-ins register there exactly as a third-party package does (``pyproject.toml``). A package
installed while Portico runs is picked up without a restart: an unknown factory id triggers a
re-scan (at most once per ``MISS_RESCAN`` seconds, so a flood of bad ids cannot make every
request walk ``sys.path``), and listings re-scan when older than ``LIST_RESCAN`` seconds.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from importlib.metadata import EntryPoint, entry_points

from portico.connectors.errors import ConnectorError, not_found
from portico.connectors.kit import Connector
from portico.connectors.types import ConnectorType

GROUP = "portico.connectors"
MISS_RESCAN = 1.0
LIST_RESCAN = 30.0
# Used only when the installed metadata predates the entry point (an old editable install):
# Portico must still send mail, and the log says to reinstall.
BUILTIN_FALLBACK = {"simple-mail-transfer-protocol": "portico.connectors.smtp:SmtpConnector"}

log = logging.getLogger("portico.connectors")


class Registry:
    def __init__(self, miss_rescan: float = MISS_RESCAN) -> None:
        self._miss_rescan = miss_rescan
        self._factories: dict[str, type[Connector]] = {}  # type: ignore[type-arg]
        self._origins: dict[str, tuple[str, str]] = {}  # factory id -> (package, version)
        self._scanned_at = float("-inf")
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Re-read the entry points (new ``*.dist-info`` on ``sys.path`` included)."""
        importlib.invalidate_caches()
        found: dict[str, type[Connector]] = {}  # type: ignore[type-arg]
        origins: dict[str, tuple[str, str]] = {}
        for point in entry_points(group=GROUP):
            factory = _load(point)
            if factory is not None and factory.metadata.id not in found:
                found[factory.metadata.id] = factory
                dist = point.dist
                origins[factory.metadata.id] = (dist.name, dist.version) if dist else ("?", "?")
        for factory_id, target in BUILTIN_FALLBACK.items():
            if factory_id not in found:
                log.warning("connector %s has no entry point; reinstall portico", factory_id)
                found[factory_id] = _load(EntryPoint(factory_id, target, GROUP))  # type: ignore[assignment]
        with self._lock:
            self._factories = found
            self._origins = origins
            self._scanned_at = time.monotonic()

    def origin(self, factory_id: str) -> tuple[str, str]:
        """(distribution, version) that provides ``factory_id``."""
        return self._origins.get(factory_id, ("portico", "built-in"))

    def _age(self) -> float:
        return time.monotonic() - self._scanned_at

    def get(self, factory_id: str) -> type[Connector]:  # type: ignore[type-arg]
        factory = self._factories.get(factory_id)
        if factory is None and self._age() > self._miss_rescan:
            self.refresh()
            factory = self._factories.get(factory_id)
        if factory is None:
            raise not_found(f"No installed connector has the factory id {factory_id!r}.")
        return factory

    def find(self, factory_id: str) -> type[Connector] | None:  # type: ignore[type-arg]
        try:
            return self.get(factory_id)
        except ConnectorError:
            return None

    def all(self, kind: ConnectorType | None = None) -> list[type[Connector]]:  # type: ignore[type-arg]
        if self._age() > LIST_RESCAN:
            self.refresh()
        factories = sorted(self._factories.values(), key=lambda f: f.metadata.id)
        return [f for f in factories if kind is None or f.type == kind]


def _load(point: EntryPoint) -> type[Connector] | None:  # type: ignore[type-arg]
    """Load one entry point; a broken plug-in is logged and skipped, never fatal."""
    try:
        factory = point.load()
    except Exception as exc:
        log.error("cannot load connector entry point %s: %s", point.value, exc)
        return None
    if not (isinstance(factory, type) and issubclass(factory, Connector)):
        log.error("entry point %s is not a portico Connector class", point.value)
        return None
    return factory


registry = Registry()
"""The process-wide registry (entry points are per interpreter, so one is enough)."""
