"""``/api/users/:id/mfa-verifications`` and ``/logto-configs`` through the real server, in
Logto's shapes; secrets are answered once and never stored in clear."""

from __future__ import annotations

import base64
import re

import httpx
import pyotp
from sqlalchemy import select

from portico.storage.tables import mfa_backup_codes, user_mfa_factors
from tests.management import error
from tests.support import Server, unique

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _user(admin: httpx.Client, **body: object) -> dict:
    name = unique("m")
    reply = admin.post("/users", json={"username": name, "name": "Mina Example", **body})
    assert reply.status_code == 200, reply.text
    return reply.json()


def _rows(server: Server, table, condition) -> list[dict]:  # type: ignore[no-untyped-def]
    async def work(conn):  # type: ignore[no-untyped-def]
        return [dict(r._mapping) for r in await conn.execute(select(table).where(condition))]

    return server.db(work)


def test_totp_is_given_once_listed_without_its_key_and_sealed_at_rest(
    admin: httpx.Client, server: Server
) -> None:
    user = _user(admin)
    path = f"/users/{user['id']}/mfa-verifications"
    reply = admin.post(path, json={"type": "Totp"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert set(body) == {"type", "secret", "secretQrCode"} and body["type"] == "Totp"
    assert re.fullmatch(r"[A-Z2-7]{32}", body["secret"])
    png = base64.b64decode(body["secretQrCode"].removeprefix("data:image/png;base64,"))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # An authenticator app given that key produces codes (checked against the key here).
    assert len(pyotp.TOTP(body["secret"]).now()) == 6

    listed = admin.get(path).json()
    assert [set(f) for f in listed] == [{"id", "createdAt", "type"}]
    assert listed[0]["type"] == "Totp" and ISO.match(listed[0]["createdAt"])
    stored = _rows(server, user_mfa_factors, user_mfa_factors.c.user_id == user["id"])
    assert len(stored) == 1 and body["secret"] not in str(stored[0]["data"])

    again = admin.post(path, json={"type": "Totp"})
    error(again, 422, "user.totp_already_in_use")


def test_an_admin_may_give_a_totp_key_that_must_be_base32(admin: httpx.Client) -> None:
    user = _user(admin)
    path = f"/users/{user['id']}/mfa-verifications"
    error(admin.post(path, json={"type": "Totp", "secret": "not base32!"}), 422,
          "user.totp_secret_invalid")  # fmt: skip
    error(admin.post(path, json={"type": "Totp", "secret": "jbswy3dpehpk3pxp"}), 422,
          "user.totp_secret_invalid")  # lower case, as Logto refuses it  # fmt: skip
    # 80 bits (16 characters) is too short for NIST SP 800-63B's 112 (Logto takes it).
    error(admin.post(path, json={"type": "Totp", "secret": "JBSWY3DPEHPK3PXP"}), 422,
          "user.totp_secret_invalid")  # fmt: skip
    key = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    given = admin.post(path, json={"type": "Totp", "secret": key})
    assert given.status_code == 200 and given.json()["secret"] == key


def test_backup_codes_never_alone_ten_of_them_hashed_and_counted(
    admin: httpx.Client, server: Server
) -> None:
    user = _user(admin)
    path = f"/users/{user['id']}/mfa-verifications"
    error(admin.post(path, json={"type": "BackupCode"}), 422,
          "session.mfa.backup_code_can_not_be_alone")  # fmt: skip
    assert admin.post(path, json={"type": "Totp"}).status_code == 200
    reply = admin.post(path, json={"type": "BackupCode"})
    assert reply.status_code == 200, reply.text
    codes = reply.json()["codes"]
    assert reply.json()["type"] == "BackupCode"
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[0-9a-f]{10}", c) for c in codes)

    listed = {f["type"]: f for f in admin.get(path).json()}
    assert listed["BackupCode"]["remainCodes"] == 10
    assert set(listed["BackupCode"]) == {"id", "createdAt", "type", "remainCodes"}
    hashes = _rows(server, mfa_backup_codes,
                   mfa_backup_codes.c.factor_id == listed["BackupCode"]["id"])  # fmt: skip
    assert len(hashes) == 10 and not {h["code_hash"] for h in hashes} & set(codes)

    error(admin.post(path, json={"type": "BackupCode"}), 422, "user.backup_code_already_in_use")


def test_given_backup_codes_must_be_ten_hex_codes(admin: httpx.Client) -> None:
    user = _user(admin)
    path = f"/users/{user['id']}/mfa-verifications"
    assert admin.post(path, json={"type": "Totp"}).status_code == 200
    error(admin.post(path, json={"type": "BackupCode", "codes": ["0123456789"] * 9}), 422,
          "user.wrong_backup_code_format")  # fmt: skip
    mine = [f"{n:010x}" for n in range(10)]
    reply = admin.post(path, json={"type": "BackupCode", "codes": [c.upper() for c in mine]})
    assert reply.status_code == 200 and reply.json()["codes"] == mine


def test_removal_and_what_is_refused(admin: httpx.Client, server: Server) -> None:
    user = _user(admin)
    path = f"/users/{user['id']}/mfa-verifications"
    error(admin.post(path, json={"type": "WebAuthn"}), 400, "guard.invalid_input")
    error(admin.get("/users/nobody-here/mfa-verifications"), 404, "entity.not_exists_with_id")
    assert admin.post(path, json={"type": "Totp"}).status_code == 200
    factor = admin.get(path).json()[0]
    assert admin.delete(f"{path}/{factor['id']}").status_code == 204
    assert admin.get(path).json() == []
    error(admin.delete(f"{path}/{factor['id']}"), 404, "entity.not_found")
    # A deleted user takes its factors along.
    assert admin.post(path, json={"type": "Totp"}).status_code == 200
    assert admin.delete(f"/users/{user['id']}").status_code == 204
    assert _rows(server, user_mfa_factors, user_mfa_factors.c.user_id == user["id"]) == []


def test_logto_configs_default_and_patch(admin: httpx.Client) -> None:
    user = _user(admin)
    path = f"/users/{user['id']}/logto-configs"
    assert admin.get(path).json() == {
        "mfa": {"skipped": False, "skipMfaOnSignIn": False},
        "passkeySignIn": {"skipped": False},
    }
    patched = admin.patch(path, json={"mfa": {"enabled": True, "skipMfaOnSignIn": True}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["mfa"] == {"enabled": True, "skipped": False, "skipMfaOnSignIn": True}
    ignored = {"additionalBindingSuggestionSkipped": True}  # accepted, not kept (as Logto)
    patched = admin.patch(path, json={"passkeySignIn": {"skipped": True}, "mfa": ignored})
    assert patched.json() == {
        "mfa": {"enabled": True, "skipped": False, "skipMfaOnSignIn": True},
        "passkeySignIn": {"skipped": True},
    }
    assert admin.get(path).json() == patched.json()
    error(admin.patch(path, json={"mfa": {"unknown": True}}), 400, "guard.invalid_input")
    error(admin.get("/users/nobody-here/logto-configs"), 404, "entity.not_exists_with_id")
