"""``portico``: serve, migrate, and automation commands that print JSON with ``--json``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portico import coherence
from portico.services import admins, applications, keys, rbac, users
from portico.services import purge as purge_service
from portico.services.bootstrap import DEFAULT_TENANT, ensure_ready
from portico.services.errors import ServiceError
from portico.settings import Settings, SettingsError, decode_encryption_key, load_settings
from portico.storage.database import create_engine
from portico.transfer.importer import ImportFailed

TENANT = DEFAULT_TENANT


class CommandError(Exception):
    """A user-facing failure: printed without a traceback, exit status 1."""


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        {
            "port": getattr(args, "port", None),
            "data_dir": getattr(args, "data_dir", None),
            "workers": getattr(args, "workers", None),
            "host": getattr(args, "host", None),
        }
    )


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from portico.web.http_protocol import CoalescingHttpToolsProtocol

    settings = _settings(args)
    engine = create_engine(settings.database_url, pool=False)
    code = asyncio.run(_ready_and_setup_code(engine))  # once, before any worker starts
    print(f"Portico: issuer {settings.issuer}, listening on http://{settings.host}:{settings.port}")
    if code:
        print(f"Create the console's admin account: {_setup_link(settings, code)}")
    env = {
        "PORTICO_ENDPOINT": settings.endpoint,
        "DATABASE_URL": settings.database_url,
        "PORT": str(settings.port),
        "PORTICO_DATA_DIR": str(settings.data_dir),
    }
    os.environ.update(env)
    uvicorn.run(
        "portico.web.app:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=settings.access_log,
        proxy_headers=settings.proxy_headers,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        http=CoalescingHttpToolsProtocol,
    )


async def _ready_and_setup_code(engine: AsyncEngine) -> str | None:
    """Migrate and seed; the console's set-up code while it has no admin."""
    try:
        await ensure_ready(engine)
        async with engine.connect() as conn:
            return await admins.setup_code(conn)
    finally:
        await engine.dispose()


def _setup_link(settings: Settings, code: str) -> str:
    return f"{settings.endpoint}/console/welcome?setup={code}"


def _with_db(
    args: argparse.Namespace,
    work: Callable[[AsyncConnection], Awaitable[Any]],
    changes: str | None = None,
) -> Any:
    """Run ``work`` in one transaction; ``changes`` names the cache topic running servers
    must drop once it is committed (announced through Redis when there is one)."""

    async def run() -> Any:
        settings = _settings(args)
        engine = create_engine(settings.database_url, pool=False)
        try:
            await ensure_ready(engine)
            async with engine.begin() as conn:
                result = await work(conn)
            if changes:
                await coherence.announce(settings.redis_url, engine, changes)
            return result
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _emit(args: argparse.Namespace, data: dict[str, Any], human: str) -> None:
    print(json.dumps(data, indent=2) if args.json else human)


def db_upgrade(args: argparse.Namespace) -> None:
    _with_db(args, lambda conn: asyncio.sleep(0))
    print("Database is up to date.")


def purge(args: argparse.Namespace) -> None:
    """Run the purge of expired rows once (the server also runs it every purge_interval)."""

    async def run() -> dict[str, int]:
        settings = _settings(args)
        engine = create_engine(settings.database_url, pool=False)
        try:
            await ensure_ready(engine)
            report = await purge_service.purge_expired(
                engine, log_retention_days=settings.log_retention_days
            )
            return report.as_dict()
        finally:
            await engine.dispose()

    data = asyncio.run(run())
    _emit(args, data, "Purged " + ", ".join(f"{n} {kind}" for kind, n in data.items()))


def _progress(args: argparse.Namespace, **kwargs: Any) -> Any:
    """A progress bar on stderr: shown on a terminal, or anywhere with --progress."""
    from tqdm import tqdm

    return tqdm(
        file=sys.stderr,
        disable=not (args.progress or sys.stderr.isatty()),
        leave=False,
        dynamic_ncols=True,
        **kwargs,
    )


def export_data(args: argparse.Namespace) -> None:
    """Write this instance's data as NDJSON (docs/export-format.md)."""
    from portico.transfer.exporter import export

    settings = _settings(args)
    if args.output and args.output != "-":
        # The file holds password hashes and sealed secrets: readable by its owner only.
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        out = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
    else:
        out = sys.stdout

    async def run() -> dict[str, int]:
        engine = create_engine(settings.database_url, pool=False)
        bar = _progress(args, unit=" records", desc="export")
        try:
            await ensure_ready(engine)
            return await export(
                engine,
                TENANT,
                out,
                encryption_key=settings.encryption_key_bytes,
                on_total=lambda total: bar.reset(total=total),
                on_record=lambda: bar.update(1),
            )
        finally:
            bar.close()
            await engine.dispose()

    try:
        counts = asyncio.run(run())
    finally:
        if out is not sys.stdout:
            out.close()
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
    print(f"Exported {sum(counts.values())} records ({summary})", file=sys.stderr)


def import_data(args: argparse.Namespace) -> None:
    """Read an export (or Logto's user rows) in one transaction: all of it or nothing."""
    from portico.transfer.importer import ImportOptions, import_stream

    settings = _settings(args)
    old_key = None
    if args.reencrypt_from_key_file:
        try:
            old_key = decode_encryption_key(Path(args.reencrypt_from_key_file).read_text())
        except OSError as exc:
            raise CommandError(f"--reencrypt-from-key-file: {exc.strerror}") from None
        except ValueError as exc:
            raise CommandError(f"--reencrypt-from-key-file: the key {exc}") from None
    options = ImportOptions(
        on_conflict=args.on_conflict,
        source=args.source,
        dry_run=args.dry_run,
        encryption_key=settings.encryption_key_bytes,
        reencrypt_from=old_key,
    )
    try:
        stream = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror}") from None

    async def run() -> Any:
        engine = create_engine(settings.database_url, pool=False)
        size = os.fstat(stream.fileno()).st_size if args.file != "-" else None
        bar = _progress(args, total=size, unit="B", unit_scale=True, desc="import")
        try:
            await ensure_ready(engine)
            return await import_stream(engine, TENANT, stream, options, bar.update)
        finally:
            bar.close()
            await engine.dispose()

    try:
        summary = asyncio.run(run())
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    data = {
        "imported": summary.imported,
        "skipped": summary.skipped,
        "lines": summary.lines,
        "dryRun": summary.dry_run,
        "notes": summary.notes,
    }
    done = "Checked (dry run, nothing written)" if summary.dry_run else "Imported"
    parts = ", ".join(f"{n} {kind}" for kind, n in summary.imported.items())
    human = f"{done} {sum(summary.imported.values())} records ({parts or 'none'})"
    if summary.skipped:
        skipped = ", ".join(f"{n} {kind}" for kind, n in summary.skipped.items())
        human += f"; skipped {sum(summary.skipped.values())} already present ({skipped})"
    _emit(args, data, "\n".join([human, *summary.notes]))


def key_list(args: argparse.Namespace) -> None:
    """The signing keys: id (the ``kid``), algorithm, status (Current signs)."""

    async def work(conn: AsyncConnection) -> list[dict[str, Any]]:
        return await keys.list_keys(conn, TENANT, keys.KeyType.PRIVATE_KEYS)

    rows = _with_db(args, work)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        print(f"{row['id']}  {row['signingKeyAlgorithm']:<3}  {row['status']}")


def key_rotate(args: argparse.Namespace) -> None:
    """A new signing key, used by every process within seconds; the old one stays published."""

    async def work(conn: AsyncConnection) -> list[dict[str, Any]]:
        return await keys.rotate(conn, TENANT, keys.KeyType.PRIVATE_KEYS, args.type)

    rows = _with_db(args, work, changes=coherence.KEYS)
    _emit(
        args, {"keys": rows}, f"New signing key {rows[0]['id']} ({rows[0]['signingKeyAlgorithm']})"
    )


def app_create(args: argparse.Namespace) -> None:
    async def work(conn: AsyncConnection) -> dict[str, Any]:
        created = await applications.create_application(
            conn,
            TENANT,
            name=args.name,
            app_type=applications.AppType(args.type),
            redirect_uris=args.redirect_uri,
            post_logout_redirect_uris=args.post_logout_redirect_uri,
            is_third_party=args.third_party,
        )
        for role in args.role:
            await rbac.assign_role(conn, TENANT, role_name=role, app_id=created.row["id"])
        return {
            "id": created.row["id"],
            "name": created.row["name"],
            "type": created.row["type"],
            "secret": created.secret,
            "redirectUris": args.redirect_uri,
            "postLogoutRedirectUris": args.post_logout_redirect_uri,
            "roles": args.role,
        }

    data = _with_db(args, work)
    _emit(
        args,
        data,
        f"Created {data['type']} application {data['id']}"
        + (f"\nSecret (shown once): {data['secret']}" if data["secret"] else ""),
    )


def user_create(args: argparse.Namespace) -> None:
    async def work(conn: AsyncConnection) -> dict[str, Any]:
        row = await users.create_user(
            conn,
            TENANT,
            username=args.username,
            email=args.email,
            phone=args.phone,
            password=args.password,
            name=args.name,
        )
        for role in args.role:
            await rbac.assign_role(conn, TENANT, role_name=role, user_id=row["id"])
        return {
            "id": row["id"],
            "username": row["username"],
            "primaryEmail": row["primary_email"],
            "primaryPhone": row["primary_phone"],
            "name": row["name"],
            "roles": args.role,
        }

    data = _with_db(args, work)
    _emit(args, data, f"Created user {data['id']}")


def _new_password(args: argparse.Namespace) -> tuple[str, bool]:
    """The password from standard input (``--password-stdin``), else a generated one; and
    whether it was generated (then it is printed once). Never an argument: command lines
    are visible to every user of the machine and kept in shell histories."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError("--password-stdin: no password on standard input")
        return password, False
    return secrets.token_urlsafe(15), True


def _admin_password_error(error: admins.PasswordRejected) -> CommandError:
    from portico.web.i18n import DEFAULT, translator

    phrase = translator(DEFAULT)(error.rejection.code, **error.rejection.data)
    return CommandError(f"the admin password policy refuses this password: {phrase}")


def admin_setup_link(args: argparse.Namespace) -> None:
    """The link with the set-up code that lets the first admin be created in the console."""

    async def work(conn: AsyncConnection) -> str | None:
        return await admins.setup_code(conn)

    code = _with_db(args, work)
    if code is None:
        raise CommandError(
            "the console already has an admin; 'portico admin reset-password' recovers one"
        )
    link = _setup_link(_settings(args), code)
    _emit(args, {"setupCode": code, "link": link}, link)


def _admin_password_command(
    args: argparse.Namespace,
    act: Callable[[AsyncConnection, str], Awaitable[dict[str, Any]]],
    done: str,
) -> None:
    """Run ``act(conn, password)`` with the new password; print ``done`` and the admin (and
    the password, once, when it was generated)."""
    password, generated = _new_password(args)

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        nonlocal password
        # A generated password the policy happens to refuse (three repeated characters, a
        # run like "abc") is replaced: the policy is checked before anything is written.
        for _ in range(50 if generated else 1):
            try:
                return await act(conn, password)
            except admins.PasswordRejected as error:
                rejected = error
                password = secrets.token_urlsafe(15)
        raise _admin_password_error(rejected) from None

    row = _with_db(args, work)
    data = {"id": row["id"], "username": row["username"]}
    if generated:
        data["password"] = password
    _emit(args, data, f"{done} {row['username']}" + (f": {password}" if generated else ""))


def admin_create(args: argparse.Namespace) -> None:
    """An admin made from the shell (automation, or instead of the set-up page)."""

    async def create(conn: AsyncConnection, password: str) -> dict[str, Any]:
        return await admins.create_admin(conn, args.username, password)

    _admin_password_command(args, create, "Created admin")


def admin_reset_password(args: argparse.Namespace) -> None:
    """The way back in for someone at the server: a new password for an admin, their console
    sessions ended, and every console sign-in failure forgotten."""

    async def reset(conn: AsyncConnection, password: str) -> dict[str, Any]:
        return await admins.reset_password(conn, args.username, password)

    _admin_password_command(args, reset, "New password for admin")


def user_seed(args: argparse.Namespace) -> None:
    """Bulk synthetic users for load tests (services/seed.py), with a progress bar."""
    from portico.services.seed import seed_users

    if args.count < 1:
        raise SystemExit("--count must be at least 1")

    async def run() -> int:
        settings = _settings(args)
        engine = create_engine(settings.database_url)
        try:
            await ensure_ready(engine)
            with _progress(args, total=args.count, unit="users") as bar:
                return await seed_users(
                    engine,
                    TENANT,
                    args.count,
                    prefix=args.prefix,
                    start=args.start,
                    domain=args.domain,
                    password=args.password,
                    batch=args.batch,
                    progress=bar.update,
                )
        finally:
            await engine.dispose()

    started = time.perf_counter()
    done = asyncio.run(run())
    seconds = time.perf_counter() - started
    data = {"created": done, "seconds": round(seconds, 2), "perSecond": round(done / seconds)}
    _emit(args, data, f"Created {done} users in {seconds:.1f} s ({done / seconds:.0f}/s)")


def resource_create(args: argparse.Namespace) -> None:
    async def work(conn: AsyncConnection) -> dict[str, Any]:
        row = await rbac.create_resource(
            conn,
            TENANT,
            indicator=args.indicator,
            name=args.name,
            scopes=args.scope,
            access_token_ttl=args.access_token_ttl,
        )
        return {
            "id": row["id"],
            "indicator": row["indicator"],
            "name": row["name"],
            "scopes": args.scope,
            "accessTokenTtl": row["access_token_ttl"],
        }

    data = _with_db(args, work)
    _emit(args, data, f"Created API resource {data['indicator']} ({data['id']})")


def role_create(args: argparse.Namespace) -> None:
    async def work(conn: AsyncConnection) -> dict[str, Any]:
        row = await rbac.create_role(
            conn,
            TENANT,
            name=args.name,
            role_type=rbac.RoleType(args.type),
            description=args.description or "",
            indicator=args.resource,
            scope_names=args.scope,
        )
        return {
            "id": row["id"],
            "name": row["name"],
            "type": row["type"],
            "resource": args.resource,
            "scopes": args.scope,
        }

    data = _with_db(args, work)
    _emit(args, data, f"Created {data['type']} role {data['name']} ({data['id']})")


def connector_list(args: argparse.Namespace) -> None:
    """Installed connector factories (entry-point group ``portico.connectors``)."""
    from portico.connectors import registry

    registry.refresh()
    rows = []
    for factory in registry.all():
        package, version = registry.origin(factory.metadata.id)
        rows.append(
            {
                "id": factory.metadata.id,
                "type": factory.type.value,
                "target": factory.metadata.target,
                "platform": factory.metadata.platform,
                "name": factory.metadata.name.get("en", factory.metadata.id),
                "package": package,
                "version": version,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        package = f"{row['package']} {row['version']}"
        print(f"{row['id']:<36} {row['type']:<7} {row['target']:<12} {package}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portico", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, json_flag: bool = True) -> None:
        p.add_argument("--data-dir", type=Path, help="data directory (default .data)")
        if json_flag:
            p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = sub.add_parser("serve", help="run the server")
    p.add_argument("--port", type=int)
    p.add_argument("--host")
    p.add_argument("--workers", type=int)
    common(p, json_flag=False)
    p.set_defaults(func=serve)

    db = sub.add_parser("db", help="database commands").add_subparsers(
        dest="db_command", required=True
    )
    p = db.add_parser("upgrade", help="migrate and seed the database")
    common(p, json_flag=False)
    p.set_defaults(func=db_upgrade)

    p = sub.add_parser("export", help="write users, apps, roles, ... as NDJSON")
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    p.add_argument("--progress", action="store_true", help="show progress even when not a TTY")
    common(p, json_flag=False)
    p.set_defaults(func=export_data)

    p = sub.add_parser("import", help="read an export (or Logto user rows), all or nothing")
    p.add_argument("file", help="NDJSON file to read, - for standard input")
    p.add_argument(
        "--from",
        dest="source",
        choices=["portico", "logto-users"],
        default="portico",
        help="portico: a portico export; logto-users: rows of Logto's users table",
    )
    p.add_argument(
        "--on-conflict",
        choices=["fail", "skip"],
        default="fail",
        help="when a record's id or unique key is taken: fail (default) or keep the stored one",
    )
    p.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    p.add_argument(
        "--reencrypt-from-key-file",
        metavar="PATH",
        help="the source instance's encryption key, to re-seal connector secrets",
    )
    p.add_argument("--progress", action="store_true", help="show progress even when not a TTY")
    common(p)
    p.set_defaults(func=import_data)

    key = sub.add_parser("key", help="signing keys").add_subparsers(
        dest="key_command", required=True
    )
    p = key.add_parser("list", help="list the signing keys")
    common(p)
    p.set_defaults(func=key_list)
    p = key.add_parser("rotate", help="sign with a new key from now on")
    p.add_argument("--type", choices=["EC", "RSA"], default="EC", help="EC P-384 or RSA 4096")
    common(p)
    p.set_defaults(func=key_rotate)

    p = sub.add_parser("purge", help="delete expired codes, tokens, sessions and events now")
    common(p)
    p.set_defaults(func=purge)

    app = sub.add_parser("app", help="applications").add_subparsers(
        dest="app_command", required=True
    )
    p = app.add_parser("create", help="create an application")
    p.add_argument("--name", required=True)
    p.add_argument("--type", required=True, choices=[t.value for t in applications.AppType])
    p.add_argument("--redirect-uri", action="append", default=[])
    p.add_argument("--post-logout-redirect-uri", action="append", default=[])
    p.add_argument("--role", action="append", default=[], help="machine-to-machine role name")
    p.add_argument("--third-party", action="store_true")
    common(p)
    p.set_defaults(func=app_create)

    user = sub.add_parser("user", help="users").add_subparsers(dest="user_command", required=True)
    p = user.add_parser("create", help="create a user")
    p.add_argument("--username")
    p.add_argument("--email")
    p.add_argument("--phone")
    p.add_argument("--password")
    p.add_argument("--name")
    p.add_argument("--role", action="append", default=[], help="user role name")
    common(p)
    p.set_defaults(func=user_create)
    p = user.add_parser("seed", help="create many synthetic users fast (load tests)")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--prefix", default="", help="usernames are <prefix><first>_<last><n>")
    p.add_argument("--start", type=int, default=0, help="first number (to add more later)")
    p.add_argument("--domain", default="", help="e-mail domain (default: a few examples)")
    p.add_argument("--password", help="one password for all of them (hashed once)")
    p.add_argument("--batch", type=int, default=5000, help="rows per transaction")
    p.add_argument("--progress", action="store_true", help="progress bar even off a terminal")
    common(p)
    p.set_defaults(func=user_seed)

    res = sub.add_parser("resource", help="API resources").add_subparsers(
        dest="resource_command", required=True
    )
    p = res.add_parser("create", help="create an API resource")
    p.add_argument("--indicator", required=True, help="resource indicator (an absolute URI)")
    p.add_argument("--name")
    p.add_argument("--scope", action="append", default=[])
    p.add_argument("--access-token-ttl", type=int, default=3600)
    common(p)
    p.set_defaults(func=resource_create)

    role = sub.add_parser("role", help="roles").add_subparsers(dest="role_command", required=True)
    p = role.add_parser("create", help="create a role")
    p.add_argument("--name", required=True)
    p.add_argument("--type", default="User", choices=[t.value for t in rbac.RoleType])
    p.add_argument("--description")
    p.add_argument("--resource", help="indicator of the resource the --scope values belong to")
    p.add_argument("--scope", action="append", default=[])
    common(p)
    p.set_defaults(func=role_create)

    admin = sub.add_parser("admin", help="console admins").add_subparsers(
        dest="admin_command", required=True
    )
    p = admin.add_parser(
        "setup-link", help="print the link that creates the first admin (while there is none)"
    )
    common(p)
    p.set_defaults(func=admin_setup_link)
    for name, func, what in (
        ("create", admin_create, "create a console admin"),
        ("reset-password", admin_reset_password, "set an admin's password, forget failures"),
    ):
        p = admin.add_parser(name, help=what)
        p.add_argument("--username", required=True)
        p.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from standard input (else one is generated and printed)",
        )
        common(p)
        p.set_defaults(func=func)

    connector = sub.add_parser("connector", help="connectors").add_subparsers(
        dest="connector_command", required=True
    )
    p = connector.add_parser("list", help="list installed connector factories")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=connector_list)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except SettingsError as exc:
        sys.exit(f"portico: configuration error: {exc}")
    except ImportFailed as exc:
        lines = "\n".join(f"  {error}" for error in exc.errors)
        sys.exit(f"portico: import failed, nothing was imported:\n{lines}")
    except (
        applications.InvalidApplication,
        users.InvalidUser,
        rbac.InvalidRbac,
        ServiceError,
        CommandError,
    ) as exc:
        sys.exit(f"portico: {exc}")


if __name__ == "__main__":
    main()
