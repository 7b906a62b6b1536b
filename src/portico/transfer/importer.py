"""Reading an export (or Logto's user rows) into one transaction: all of it, or nothing.

Lines are read one at a time and checked in three steps, each error naming its line:

1. the line itself: UTF-8, JSON, a known record type, the record's model (``records.py``);
2. its references: an id it points to must be on an earlier line or already stored;
3. conflicts: a record whose primary key or unique key (read from the table's constraints)
   is already taken, by a stored row or by an earlier line. ``fail`` makes that an error;
   ``skip`` keeps what is there and leaves the record (and the records that depend on a
   record skipped for another key's sake) out. Besides the tables' own keys, a user has one
   TOTP factor and one set of backup codes (``services/mfa.py`` keeps it so).

Secrets sealed with the encryption key (connector secrets, TOTP keys) stay sealed in the file:
they are imported as they are when the target has the source's key (the header's
``encryptionKeyCheck`` says), re-sealed when the source's key is given, else refused. Backup
codes are HMACs keyed from the encryption key and the codes themselves are nowhere: they can
only be kept where the key is the same, so elsewhere they are left out, with a note.

Records of one type are checked and written in batches (one query per key per batch), so
memory and round trips stay bounded for large files. After the first error nothing more is
written or looked up, but every further line is still checked on its own, so one run reports
every malformed line (up to ``MAX_ERRORS``). Then the transaction is rolled back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from pydantic import ValidationError
from sqlalchemy import Table, UniqueConstraint, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portico.connectors import ConnectorError
from portico.connectors import secrets as sealing
from portico.connectors.registry import registry
from portico.services import sign_in_experience as sie_service
from portico.services import sso_signing_keys
from portico.services.applications import SecretSealer
from portico.services.errors import ServiceError
from portico.services.mfa import MfaKeys
from portico.services.saml_applications import KeySealer
from portico.services.webhooks import HookSealer
from portico.sso import provider_class as sso_provider_class
from portico.storage.tables import user_identities, user_mfa_factors, users
from portico.transfer import logto
from portico.transfer.records import (
    FORMAT,
    KINDS,
    VERSION,
    ApplicationSecret,
    Connector,
    Hook,
    Kind,
    MfaBackupCode,
    Record,
    SamlApplicationSecret,
    SamlSsoConnectorSigningKey,
    SsoConnector,
    UserMfaFactor,
    encryption_key_check,
)

MAX_ERRORS = 20
BATCH = 500
MAX_LINE_BYTES = 16 * 1024 * 1024
OnConflict = Literal["fail", "skip"]
Source = Literal["portico", "logto-users"]
# A key Portico keeps that no table declares: one TOTP factor and one set of backup codes per
# user (a second TOTP factor would never be asked for; a new set of codes replaces the old).
PER_USER = ("tenant_id", "user_id", "type")
ONE_PER_USER = ("Totp", "BackupCode")


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportFailed(Exception):
    """The import was rolled back; ``errors`` says why, line by line."""

    def __init__(self, errors: list[LineError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


@dataclass
class ImportOptions:
    on_conflict: OnConflict = "fail"
    source: Source = "portico"
    dry_run: bool = False
    # The target's key; called only when the file holds connectors or MFA factors.
    encryption_key: Callable[[], bytes] = field(default=lambda: b"")
    # The source's key, to re-seal connector secrets and TOTP keys under the target's key.
    reencrypt_from: bytes | None = None


@dataclass
class ImportSummary:
    imported: dict[str, int]
    skipped: dict[str, int]
    lines: int
    dry_run: bool
    notes: list[str]


class _DryRun(Exception):
    """Raised to roll back a dry run that succeeded."""


@dataclass
class _Item:
    line: int
    record: Record | None
    row: dict[str, Any]


def _keys(table: Table) -> list[tuple[str, ...]]:
    """Every key a row may collide on: the primary key and each unique constraint."""
    keys = [tuple(c.name for c in table.primary_key.columns)]
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            keys.append(tuple(c.name for c in constraint.columns))
    if table is user_mfa_factors:
        keys.append(PER_USER)
    return keys


def _has_key(table: Table, key: tuple[str, ...], row: dict[str, Any]) -> bool:
    """Whether ``row`` takes ``key`` (a null never collides; the per-user key is of a TOTP
    factor or a set of backup codes only)."""
    if any(row[name] is None for name in key):
        return False
    return not (table is user_mfa_factors and key == PER_USER) or row["type"] in ONE_PER_USER


def _camel(column: str) -> str:
    head, *rest = column.split("_")
    return head + "".join(part.title() for part in rest)


def _describe(key: tuple[str, ...], values: tuple[Any, ...]) -> str:
    return ", ".join(
        f"{_camel(name)} {value!r}"
        for name, value in zip(key, values, strict=True)
        if name != "tenant_id"
    )


def _has_sealed(value: Any) -> bool:
    if isinstance(value, dict):
        return sealing.SEALED in value or any(_has_sealed(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_sealed(v) for v in value)
    return False


def _validation_message(kind: str, error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{kind}{'.' + where if where else ''}: {message}{more}"


class _Run:
    def __init__(self, conn: AsyncConnection, tenant_id: str, options: ImportOptions) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.options = options
        self.errors: list[LineError] = []
        self.imported: dict[str, int] = {}
        self.skipped: dict[str, int] = {}
        self.notes: list[str] = []
        self.header: dict[str, Any] | None = None
        self.ended_at: int | None = None
        self.records = 0
        self.batch_kind: Kind | None = None
        self.batch: list[_Item] = []
        self.present: dict[str, set[str]] = {}  # ids stored (or found) in the target
        self.absent: dict[str, set[str]] = {}  # ids skipped while another row keeps the key
        self.seen: dict[tuple[str, tuple[str, ...]], dict[tuple[Any, ...], int]] = {}
        self.sie_line: int | None = None
        self.mfa_users = 0
        self.mfa_keys: dict[bytes, MfaKeys] = {}
        self.totp_refused = False
        self.codes_kept: bool | None = None  # whether backup codes stay valid here
        self.factor_types: dict[str, str] = {}  # factor id -> type, of the file's factors
        self.dropped_sets = 0
        self.dropped_codes = 0

    # -- errors -------------------------------------------------------------------------
    def error(self, line: int, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(LineError(line, message))
        self.batch = []  # nothing more is written once anything is wrong

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    def count(self, counter: dict[str, int], kind: str) -> None:
        counter[kind] = counter.get(kind, 0) + 1

    # -- lines --------------------------------------------------------------------------
    async def line(self, number: int, raw: bytes) -> None:
        if len(raw) > MAX_LINE_BYTES:
            self.error(number, f"longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB")
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.error(number, f"not valid UTF-8 (byte {exc.start + 1})")
            return
        if not text.strip():
            return
        try:
            value = json.loads(text)
        except ValueError as exc:
            message = getattr(exc, "msg", "invalid JSON")
            column = getattr(exc, "colno", None)
            self.error(
                number, f"not valid JSON: {message}" + (f" at column {column}" if column else "")
            )
            if self.header is None:
                self.header = {}  # a broken first line: judge the next ones as records
            return
        if self.ended_at is not None:
            self.error(number, f"nothing may follow the end line (line {self.ended_at})")
            return
        if self.options.source == "logto-users":
            await self.logto_user(number, value)
        elif self.header is None:
            self.read_header(number, value)
        else:
            await self.record(number, value)

    def read_header(self, number: int, value: Any) -> None:
        if not (isinstance(value, dict) and value.get("type") == "header"):
            self.error(
                number,
                f'not a Portico export: the first line must be the header {{"type": "header", '
                f'"format": "{FORMAT}", ...}} (Logto user rows: use --from logto-users)',
            )
            self.header = {}
            return
        self.header = value
        if value.get("format") != FORMAT:
            self.error(number, f"header: format must be {FORMAT!r}")
        elif not isinstance(value.get("version"), int) or value["version"] < 1:
            self.error(number, "header: version must be a positive integer")
        elif value["version"] > VERSION:
            self.error(
                number,
                f"header: format version {value['version']} is newer than this Portico "
                f"reads (up to {VERSION}); import with a newer Portico",
            )
        elif value.get("tenantId", self.tenant_id) != self.tenant_id:
            self.error(
                number,
                f"header: the export is of tenant {value['tenantId']!r}, "
                f"this instance imports into {self.tenant_id!r}",
            )

    async def record(self, number: int, value: Any) -> None:
        kind_name = value.get("type") if isinstance(value, dict) else None
        allowed = {"type", "records", "counts"} if kind_name == "end" else {"type", "data"}
        if not isinstance(value, dict) or set(value) - allowed:
            self.error(number, 'a record is {"type": ..., "data": {...}}, nothing more')
            return
        if kind_name == "end":
            self.ended_at = number
            if value.get("records") != self.records and not self.failed:
                self.error(
                    number,
                    f"the end line counts {value.get('records')!r} records, the file holds "
                    f"{self.records}: the file is damaged or was edited",
                )
            return
        self.records += 1
        kind = KINDS.get(kind_name) if isinstance(kind_name, str) else None
        if kind is None:
            self.error(number, f"unknown record type {kind_name!r}")
            return
        data = value.get("data")
        if not isinstance(data, dict):
            self.error(number, f"{kind_name}: data must be a JSON object")
            return
        if kind.model is None:
            await self.sign_in_experience(number, data)
            return
        await self.add(number, kind, data)

    async def logto_user(self, number: int, value: Any) -> None:
        try:
            data, had_mfa = logto.user_data(value)
        except ValueError as exc:
            self.error(number, f"user: {exc}")
            return
        self.records += 1
        self.mfa_users += had_mfa
        await self.add(number, KINDS["user"], data)

    async def add(self, number: int, kind: Kind, data: dict[str, Any]) -> None:
        assert kind.model is not None
        try:
            record = kind.model.model_validate(data)
        except ValidationError as exc:
            self.error(number, _validation_message(kind.name, exc))
            return
        if self.batch_kind is not kind or len(self.batch) >= BATCH:
            await self.flush()
            self.batch_kind = kind
        kept: Record | None = record
        if isinstance(record, Connector):
            kept = self.connector_config(number, record)
        elif isinstance(record, SsoConnector):
            kept = self.sso_connector_config(number, record)
        elif isinstance(record, UserMfaFactor):
            kept = self.mfa_factor(number, record)
        elif isinstance(record, ApplicationSecret) and record.valueSealed is not None:
            kept = self.sealed_secret(number, record)
        elif isinstance(record, SamlApplicationSecret):
            kept = self.saml_key(number, record)
        elif isinstance(record, SamlSsoConnectorSigningKey):
            kept = self.sso_signing_key(number, record)
        elif isinstance(record, Hook):
            kept = self.hook_key(number, record)
        elif isinstance(record, MfaBackupCode) and not self.keeps_codes():
            self.dropped_codes += 1
            kept = None
        if kept is not None and not self.failed:
            self.batch.append(_Item(number, kept, kind.row_of(kept, self.tenant_id)))

    async def sign_in_experience(self, number: int, data: dict[str, Any]) -> None:
        if self.sie_line is not None:
            self.error(number, f"a second signInExperience (the first is on line {self.sie_line})")
            return
        self.sie_line = number
        try:
            sie = sie_service.SignInExperience.model_validate({**data, "tenantId": None})
        except ValidationError as exc:
            self.error(number, _validation_message("signInExperience", exc))
            return
        await self.flush()
        if not self.failed:
            # A singleton every instance has: the file's replaces the target's.
            await sie_service.replace(self.conn, self.tenant_id, sie)
            self.count(self.imported, "signInExperience")

    # -- connectors -----------------------------------------------------------------------
    def connector_config(self, number: int, record: Connector) -> Connector | None:
        """The record with its sealed values usable here: unchanged when both instances share
        the encryption key, re-sealed when the source's key is given, else an error."""
        assert self.header is not None
        if not _has_sealed(record.config):
            return record  # nothing encrypted: no key involved
        source_check = self.header.get("encryptionKeyCheck")
        target_key = self.options.encryption_key()
        old_key = self.options.reencrypt_from
        if old_key is None:
            if source_check != encryption_key_check(target_key):
                self.error(
                    number,
                    f"connector {record.id!r}: its secrets are sealed with another encryption "
                    "key than this instance's (PORTICO_ENCRYPTION_KEY); import with the same "
                    "key, or give the source's key with --reencrypt-from-key-file",
                )
                return None
            return record
        if source_check != encryption_key_check(old_key):
            self.error(
                number,
                "the key given with --reencrypt-from-key-file is not the key this export's "
                "connector secrets are sealed with",
            )
            return None
        factory = registry.find(record.connectorId)
        if factory is None:
            self.error(
                number,
                f"connector {record.id!r}: connector type {record.connectorId!r} is not "
                "installed here, so its secrets cannot be re-sealed",
            )
            return None
        paths = sealing.confidential_paths(factory.config_schema())
        context = f"{self.tenant_id}/{record.id}"
        try:
            plain = sealing.Sealer(old_key).open(record.config, paths, context)
        except (ConnectorError, ValueError):  # wrong key for this value, or a mangled value
            self.error(number, f"connector {record.id!r}: a sealed value does not open")
            return None
        config = sealing.Sealer(target_key).seal(plain, paths, context)
        return record.model_copy(update={"config": config})

    def sso_connector_config(self, number: int, record: SsoConnector) -> SsoConnector | None:
        """As :meth:`connector_config`, for an enterprise SSO connector (its provider says
        which config values are sealed)."""
        assert self.header is not None
        if not _has_sealed(record.config):
            return record
        source_key = self.options.reencrypt_from or self.options.encryption_key()
        if self.header.get("encryptionKeyCheck") != encryption_key_check(source_key):
            self.error(
                number,
                f"ssoConnector {record.id!r}: its secrets are sealed with another encryption "
                "key than this instance's; import with the same key, or give the source's key "
                "with --reencrypt-from-key-file",
            )
            return None
        target_key = self.options.encryption_key()
        if source_key == target_key:
            return record
        provider = sso_provider_class(record.providerName)
        if provider is None:
            self.error(number, f"ssoConnector {record.id!r}: unknown provider, cannot re-seal")
            return None
        paths, context = provider.confidential(), f"sso/{self.tenant_id}/{record.id}"
        try:
            plain = sealing.Sealer(source_key).open(record.config, paths, context)
        except (ConnectorError, ValueError):
            self.error(number, f"ssoConnector {record.id!r}: a sealed value does not open")
            return None
        config = sealing.Sealer(target_key).seal(plain, paths, context)
        return record.model_copy(update={"config": config})

    # -- client_secret_jwt secrets -----------------------------------------------------------
    def sealed_secret(self, number: int, record: ApplicationSecret) -> ApplicationSecret | None:
        """The secret with its sealed value usable here, as TOTP keys: unchanged under the same
        encryption key, re-sealed with the source's key given, else an error."""
        assert self.header is not None and record.valueSealed is not None
        source_check = self.header.get("encryptionKeyCheck")
        target_key = self.options.encryption_key()
        source_key = self.options.reencrypt_from or target_key
        if source_check != encryption_key_check(source_key):
            self.error(
                number,
                f"applicationSecret {record.name!r}: its value is sealed with another encryption "
                "key than this instance's; import with the same key, or give the source's key "
                "with --reencrypt-from-key-file",
            )
            return None
        app, value_digest = record.applicationId, record.valueDigest
        value = SecretSealer(source_key).open(app, value_digest, record.valueSealed)
        if value is None:
            self.error(number, f"applicationSecret {record.name!r}: its sealed value does not open")
            return None
        if source_key == target_key:
            return record
        sealed = SecretSealer(target_key).seal(app, value_digest, value)
        return record.model_copy(update={"valueSealed": sealed})

    def saml_key(self, number: int, record: SamlApplicationSecret) -> SamlApplicationSecret | None:
        """A SAML signing key usable here, as application secrets: unchanged under the same
        encryption key, re-sealed with the source's key given, else an error."""
        assert self.header is not None
        target_key = self.options.encryption_key()
        source_key = self.options.reencrypt_from or target_key
        if self.header.get("encryptionKeyCheck") != encryption_key_check(source_key):
            self.error(
                number,
                f"samlApplicationSecret {record.id!r}: its key is sealed with another encryption "
                "key than this instance's; import with the same key, or give the source's key "
                "with --reencrypt-from-key-file",
            )
            return None
        app, secret = record.applicationId, record.id
        key_pem = KeySealer(source_key).open(app, secret, record.privateKey)
        if key_pem is None:
            self.error(number, f"samlApplicationSecret {record.id!r}: its key does not open")
            return None
        if source_key == target_key:
            return record
        sealed = KeySealer(target_key).seal(app, secret, key_pem)
        return record.model_copy(update={"privateKey": sealed})

    def sso_signing_key(
        self, number: int, record: SamlSsoConnectorSigningKey
    ) -> SamlSsoConnectorSigningKey | None:
        """A SAML connector's request-signing key usable here, as SAML applications' keys."""
        assert self.header is not None
        target_key = self.options.encryption_key()
        source_key = self.options.reencrypt_from or target_key
        name = f"samlSsoConnectorSigningKey {record.id!r}"
        if self.header.get("encryptionKeyCheck") != encryption_key_check(source_key):
            self.error(
                number,
                f"{name}: its key is sealed with another encryption key than this instance's; "
                "import with the same key, or give the source's key with "
                "--reencrypt-from-key-file",
            )
            return None
        connector, key_id = record.ssoConnectorId, record.id
        key_pem = sso_signing_keys.open_key(
            sealing.Sealer(source_key), connector, key_id, record.privateKey
        )
        if key_pem is None:
            self.error(number, f"{name}: its key does not open")
            return None
        if source_key == target_key:
            return record
        sealed = sso_signing_keys.seal(sealing.Sealer(target_key), connector, key_id, key_pem)
        return record.model_copy(update={"privateKey": sealed})

    def hook_key(self, number: int, record: Hook) -> Hook | None:
        """A webhook's signing key usable here: sealed for this tenant under this server's
        key (re-sealed when either differs from the export's), else an error."""
        assert self.header is not None
        target_key = self.options.encryption_key()
        source_key = self.options.reencrypt_from or target_key
        if self.header.get("encryptionKeyCheck") != encryption_key_check(source_key):
            self.error(
                number,
                f"hook {record.id!r}: its signing key is sealed with another encryption key "
                "than this instance's; import with the same key, or give the source's key "
                "with --reencrypt-from-key-file",
            )
            return None
        source_tenant = str(self.header.get("tenantId") or self.tenant_id)
        try:
            key = HookSealer(source_key).open(source_tenant, record.id, record.signingKey)
        except ServiceError:
            self.error(number, f"hook {record.id!r}: its signing key does not open")
            return None
        if source_key == target_key and source_tenant == self.tenant_id:
            return record
        sealed = HookSealer(target_key).seal(self.tenant_id, record.id, key)
        return record.model_copy(update={"signingKey": sealed})

    # -- MFA factors ----------------------------------------------------------------------
    def keys_for(self, key: bytes) -> MfaKeys:
        if key not in self.mfa_keys:
            self.mfa_keys[key] = MfaKeys.from_encryption_key(key)
        return self.mfa_keys[key]

    def keeps_codes(self) -> bool:
        """Whether backup codes are usable here: their HMACs are keyed from the source's
        encryption key, so only when the target has the same key (the header says so)."""
        if self.codes_kept is None:
            assert self.header is not None
            check = self.header.get("encryptionKeyCheck")
            target = encryption_key_check(self.options.encryption_key())
            self.codes_kept = check is not None and check == target
        return self.codes_kept

    def mfa_factor(self, number: int, record: UserMfaFactor) -> UserMfaFactor | None:
        """The factor as it is kept here; None when it is refused or left out."""
        self.factor_types[record.id] = record.type
        if record.type == "BackupCode":
            if self.keeps_codes():
                return record
            self.dropped_sets += 1
            return None
        if record.type == "Totp":
            return self.totp_key(number, record)
        return record  # WebAuthn: a public key, nothing sealed

    def refuse_totp(self, number: int, message: str) -> None:
        if not self.totp_refused:  # said once: it is true of every TOTP factor in the file
            self.totp_refused = True
            self.error(number, message)

    def totp_key(self, number: int, record: UserMfaFactor) -> UserMfaFactor | None:
        """The factor with its TOTP key sealed with this instance's key, as connector secrets
        are: unchanged when both instances share the key, re-sealed when the source's key is
        given, else an error. The key must open (with the key it is sealed with, for this
        factor's id), so a damaged or transplanted value is refused here, not at sign-in."""
        assert self.header is not None
        source_check = self.header.get("encryptionKeyCheck")
        target_key = self.options.encryption_key()
        source_key = self.options.reencrypt_from
        if source_key is None:
            if source_check != encryption_key_check(target_key):
                self.refuse_totp(
                    number,
                    f"userMfaFactor {record.id!r}: its TOTP key (like every TOTP key in this "
                    "file) is sealed with another encryption key than this instance's "
                    "(PORTICO_ENCRYPTION_KEY); import with the same key, or give the source's "
                    "key with --reencrypt-from-key-file",
                )
                return None
            source_key = target_key
        elif source_check != encryption_key_check(source_key):
            self.refuse_totp(
                number,
                "the key given with --reencrypt-from-key-file is not the key this export's "
                "TOTP keys are sealed with",
            )
            return None
        try:
            secret = self.keys_for(source_key).open_totp(record.id, record.data)
        except (ConnectorError, ValueError):  # a mangled value, or sealed for another factor
            self.error(
                number,
                f"userMfaFactor {record.id!r}: its sealed TOTP key does not open (a damaged "
                "value, or one sealed for another factor)",
            )
            return None
        if source_key == target_key:
            return record
        data = self.keys_for(target_key).seal_totp(record.id, secret)
        return record.model_copy(update={"data": data})

    async def check_code_factors(self, items: list[_Item]) -> list[_Item]:
        """A backup code belongs to a set of backup codes, not to another kind of factor."""
        codes = [(item, item.record) for item in items]
        unknown = {
            code.factorId
            for _, code in codes
            if isinstance(code, MfaBackupCode) and code.factorId not in self.factor_types
        }
        if unknown:
            found = await self.conn.execute(
                select(user_mfa_factors.c.id, user_mfa_factors.c.type).where(
                    user_mfa_factors.c.tenant_id == self.tenant_id,
                    user_mfa_factors.c.id.in_(unknown),
                )
            )
            self.factor_types.update({row.id: row.type for row in found})
        kept: list[_Item] = []
        for item, code in codes:
            assert isinstance(code, MfaBackupCode)
            factor_type = self.factor_types.get(code.factorId, "BackupCode")
            if factor_type != "BackupCode":
                self.error(
                    item.line,
                    f"mfaBackupCode.factorId: userMfaFactor {code.factorId!r} is a "
                    f"{factor_type} factor, not a set of backup codes (BackupCode)",
                )
            else:
                kept.append(item)
        return kept

    # -- batches --------------------------------------------------------------------------
    async def flush(self) -> None:
        kind, items = self.batch_kind, self.batch
        self.batch = []
        if self.failed or kind is None or not items:
            return
        assert kind.table is not None and kind.model is not None
        items = await self.check_references(kind, items)
        if kind.model is MfaBackupCode:
            items = await self.check_code_factors(items)
        items = await self.check_conflicts(kind, items)
        if self.failed or not items:
            return
        # No savepoint: on SQLite (pysqlite) a SAVEPOINT opening the transaction commits when
        # released. Nothing runs after an error anyway; the whole transaction is rolled back.
        try:
            await self.conn.execute(insert(kind.table), [item.row for item in items])
            if kind.table is users:
                await self.index_identities(items)
        except IntegrityError as exc:  # a concurrent writer took a key meanwhile
            reason = type(exc.orig).__name__ if exc.orig else "constraint"
            self.error(
                items[0].line,
                f"{kind.name}: the database rejected lines {items[0].line}-{items[-1].line} "
                f"({reason}); was the instance changed during the import?",
            )
            return
        self.imported[kind.name] = self.imported.get(kind.name, 0) + len(items)
        if "id" in kind.table.c:
            self.present.setdefault(kind.name, set()).update(item.row["id"] for item in items)

    async def index_identities(self, items: list[_Item]) -> None:
        """Fill ``user_identities`` (the lookup social sign-in uses) for imported users."""
        rows = [
            {
                "tenant_id": self.tenant_id,
                "target": target,
                "identity_id": str(identity["userId"]),
                "user_id": item.row["id"],
                "created_at": item.row["created_at"],
            }
            for item in items
            for target, identity in (item.row.get("identities") or {}).items()
            if isinstance(identity, dict) and identity.get("userId")
        ]
        if rows:
            await self.conn.execute(insert(user_identities), rows)

    async def check_references(self, kind: Kind, items: list[_Item]) -> list[_Item]:
        assert kind.model is not None
        kept: list[_Item] = []
        for field_name, target in kind.model.references.items():
            present = self.present.setdefault(target, set())
            wanted = (
                {getattr(item.record, field_name) for item in items}
                - {None}  # an optional reference left empty
                - present
                - self.absent.get(target, set())
            )
            if wanted:
                table = KINDS[target].table
                assert table is not None
                found = await self.conn.execute(
                    select(table.c.id).where(
                        table.c.tenant_id == self.tenant_id, table.c.id.in_(wanted)
                    )
                )
                present.update(row.id for row in found)
        for item in items:
            missing = None
            for field_name, target in kind.model.references.items():
                ref = getattr(item.record, field_name)
                if ref is None:
                    continue
                if ref in self.absent.get(target, set()):
                    missing = "skipped"
                    break
                if ref not in self.present[target]:
                    self.error(
                        item.line,
                        f"{kind.name}.{field_name}: no {target} {ref!r} on an earlier line "
                        "or in the database",
                    )
                    missing = "error"
                    break
            if missing == "skipped":
                self.count(self.skipped, kind.name)
                if "id" in item.row:  # what refers to it is skipped too
                    self.absent.setdefault(kind.name, set()).add(item.row["id"])
            elif missing is None:
                kept.append(item)
        return kept

    async def check_conflicts(self, kind: Kind, items: list[_Item]) -> list[_Item]:
        assert kind.table is not None
        table = kind.table
        conflicts: dict[int, tuple[tuple[str, ...], str]] = {}  # item index -> (key, message)
        for key in _keys(table):
            seen = self.seen.setdefault((kind.name, key), {})
            values = {
                index: tuple(item.row[name] for name in key)
                for index, item in enumerate(items)
                if _has_key(table, key, item.row)
            }
            # (the key no table declares: say what it is)
            rule = " (a user has one)" if key == PER_USER and table is user_mfa_factors else ""
            stored = await self.stored_keys(table, key, set(values.values()))
            for index, value in values.items():
                if index in conflicts:
                    continue
                if value in seen:  # (rows this run wrote are stored too: name the line)
                    conflicts[index] = (
                        key,
                        f"{kind.name} {_describe(key, value)} repeats line {seen[value]}{rule}",
                    )
                elif value in stored:
                    conflicts[index] = (
                        key,
                        f"{kind.name} {_describe(key, value)} already exists in the database"
                        + rule,
                    )
                else:
                    seen[value] = items[index].line
        kept: list[_Item] = []
        primary = _keys(table)[0]
        for index, item in enumerate(items):
            if index not in conflicts:
                kept.append(item)
                continue
            key, message = conflicts[index]
            if self.options.on_conflict == "fail":
                self.error(item.line, f"{message} (use --on-conflict skip to keep it)")
                continue
            self.count(self.skipped, kind.name)
            if "id" in item.row:
                same_row = key == primary
                target = self.present if same_row else self.absent
                target.setdefault(kind.name, set()).add(item.row["id"])
        return kept

    async def stored_keys(
        self, table: Table, key: tuple[str, ...], values: set[tuple[Any, ...]]
    ) -> set[tuple[Any, ...]]:
        """Which of ``values`` (tuples of ``key``'s columns) are stored. The query filters on
        the key's first column other than the tenant (a plain ``IN`` every index serves; a
        row-value ``IN`` is a scan on PostgreSQL) and the tuples are matched here."""
        lead = next(i for i, name in enumerate(key) if name != "tenant_id")
        leads = list({value[lead] for value in values})
        stored: set[tuple[Any, ...]] = set()
        for start in range(0, len(leads), BATCH):
            query = select(*(table.c[name] for name in key)).where(
                table.c[key[lead]].in_(leads[start : start + BATCH])
            )
            if "tenant_id" in key:
                query = query.where(table.c.tenant_id == self.tenant_id)
            stored.update(tuple(row) for row in await self.conn.execute(query))
        return stored & values

    async def finish(self, lines: int) -> None:
        await self.flush()
        if self.options.source == "portico" and not self.failed:
            if self.header is None:
                self.error(max(lines, 1), "the file is empty")
            elif self.ended_at is None:
                self.error(lines, "the file ends without its end line: it is incomplete")
        if self.mfa_users:
            self.notes.append(
                f"{self.mfa_users} user(s) had MFA factors; Portico does not import them"
            )
        if self.dropped_sets or self.dropped_codes:
            assert self.header is not None
            why = (
                "the export does not say which encryption key they are keyed with (its header "
                "has no encryptionKeyCheck)"
                if self.header.get("encryptionKeyCheck") is None
                else "they are HMACs keyed from the source's encryption key, which differs "
                "from this instance's"
            )
            self.notes.append(
                f"warning: backup codes were not imported ({self.dropped_sets} set(s), "
                f"{self.dropped_codes} code(s)): {why}, and the codes themselves are in no "
                "export, so they cannot be moved to another key. Their users sign in with "
                "their other factor (TOTP, WebAuthn) and can generate new backup codes."
            )


async def import_stream(
    engine: AsyncEngine,
    tenant_id: str,
    stream: IO[bytes],
    options: ImportOptions,
    on_progress: Callable[[int], None] = lambda size: None,
) -> ImportSummary:
    """Import ``stream`` in one transaction; raise :class:`ImportFailed` (nothing written)
    with line-numbered errors, else return what was imported and skipped."""
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # The tables grow within this transaction, unseen by the planner's statistics;
                # a cached generic plan would then scan them for every batch (quadratic).
                await conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
            run = _Run(conn, tenant_id, options)
            number = 0
            while raw := stream.readline(MAX_LINE_BYTES + 1):
                number += 1
                on_progress(len(raw))
                if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                    while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                        on_progress(len(rest))
                    on_progress(len(rest))
                await run.line(number, raw)
            await run.finish(number)
            if run.failed:
                raise ImportFailed(run.errors)
            summary = ImportSummary(run.imported, run.skipped, number, options.dry_run, run.notes)
            if options.dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return summary
