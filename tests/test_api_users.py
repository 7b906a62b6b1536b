"""``/api/users`` through the real server: CRUD, search, passwords (Argon2id, verified by a
real sign-in), suspension ending sessions, custom data, roles, identities."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from portico.storage.tables import oidc_model_instances, users
from tests.conftest import App
from tests.management import error, invalid_fields, links
from tests.support import Browser, Server, authorize_url, browser_client, query_of, unique

PASSWORD = "a-long-enough-secret-9"


def _create(admin: httpx.Client, **body: object) -> dict:
    name = unique("u")
    response = admin.post(
        "/users", json={"username": name, "primaryEmail": f"{name}@Example.com", **body}
    )
    assert response.status_code == 200, response.text
    return response.json()


def _stored(server: Server, user_id: str) -> dict:
    async def work(conn):  # type: ignore[no-untyped-def]
        return dict((await conn.execute(select(users).where(users.c.id == user_id))).one()._mapping)

    return server.db(work)


def test_create_get_and_the_hash_never_leaves(admin: httpx.Client, server: Server) -> None:
    user = _create(
        admin,
        password=PASSWORD,
        name="Alice Example",
        primaryPhone="15551234567",
        customData={"plan": "pro"},
        profile={"givenName": "Alice", "address": {"country": "FR"}},
    )
    assert len(user["id"]) == 12 and user["hasPassword"] is True
    assert user["primaryEmail"] == user["username"].lower() + "@example.com"
    assert user["profile"] == {"givenName": "Alice", "address": {"country": "FR"}}
    assert user["isSuspended"] is False and user["lastSignInAt"] is None
    assert user["customData"] == {"plan": "pro"} and user["identities"] == {}
    fetched = admin.get(f"/users/{user['id']}")
    assert fetched.json() == user
    assert "password" not in fetched.text.lower().replace("haspassword", "")
    stored = _stored(server, user["id"])
    assert stored["password_encryption_method"] == "Argon2id"
    assert stored["password_encrypted"].startswith("$argon2id$") and PASSWORD not in str(stored)
    assert admin.get(f"/users/{user['id']}/has-password").json() == {"hasPassword": True}
    bare = _create(admin)
    assert admin.get(f"/users/{bare['id']}/has-password").json() == {"hasPassword": False}


def test_identifier_clashes_have_their_own_codes(admin: httpx.Client) -> None:
    user = _create(admin, primaryPhone="15550000001")
    error(
        admin.post("/users", json={"username": user["username"]}),
        422,
        "user.username_already_in_use",
    )
    error(
        admin.post("/users", json={"primaryEmail": user["primaryEmail"].upper()}),
        422,
        "user.email_already_in_use",
    )
    error(
        admin.post("/users", json={"primaryPhone": "15550000001"}), 422, "user.phone_already_in_use"
    )
    other = _create(admin)
    error(
        admin.patch(f"/users/{other['id']}", json={"username": user["username"]}),
        422,
        "user.username_already_in_use",
    )
    assert admin.get(f"/users/{other['id']}").json()["username"] == other["username"]


def test_create_validation(admin: httpx.Client) -> None:
    assert invalid_fields(admin.post("/users", json={"username": "1abc"})) == {"body.username"}
    assert invalid_fields(admin.post("/users", json={"primaryEmail": "nope"})) == {
        "body.primaryEmail"
    }
    assert invalid_fields(admin.post("/users", json={"password": "short"})) == {"body.password"}
    assert invalid_fields(admin.post("/users", json={"isAdmin": True})) == {"body.isAdmin"}
    assert invalid_fields(admin.post("/users", json={"profile": {"shoeSize": 9}})) == {
        "body.profile.shoeSize"
    }
    error(
        admin.post(
            "/users",
            json={
                "password": PASSWORD,
                "passwordDigest": "$argon2id$x",
                "passwordAlgorithm": "Argon2id",
            },
        ),
        400,
        "user.password_and_digest",
    )
    error(
        admin.post("/users", json={"passwordDigest": "abc", "passwordAlgorithm": "Argon2i"}),
        400,
        "request.invalid_input",
    )
    assert invalid_fields(
        admin.post("/users", json={"passwordDigest": "x", "passwordAlgorithm": "MD5"})
    ) == {"body.passwordAlgorithm"}


def test_imported_argon2_hash_verifies(admin: httpx.Client) -> None:
    from argon2 import PasswordHasher
    from argon2.low_level import Type

    digest = PasswordHasher(time_cost=8, memory_cost=8192, type=Type.I).hash("imported-pw-1")
    user = _create(admin, passwordDigest=digest, passwordAlgorithm="Argon2i")
    ok = admin.post(f"/users/{user['id']}/password/verify", json={"password": "imported-pw-1"})
    assert ok.status_code == 204


def test_password_set_and_verify(admin: httpx.Client, server: Server, web_app: App) -> None:
    user = _create(admin)
    verify = f"/users/{user['id']}/password/verify"
    error(admin.post(verify, json={"password": PASSWORD}), 422, "session.invalid_credentials")
    updated = admin.patch(f"/users/{user['id']}/password", json={"password": PASSWORD})
    assert updated.status_code == 200 and updated.json()["hasPassword"] is True
    assert admin.post(verify, json={"password": PASSWORD}).status_code == 204
    error(
        admin.post(verify, json={"password": "wrong-password"}), 422, "session.invalid_credentials"
    )
    assert invalid_fields(admin.patch(f"/users/{user['id']}/password", json={"password": "x"})) == {
        "body.password"
    }
    assert invalid_fields(admin.post(verify, json={})) == {"body.password"}
    # the new password signs in for real
    with browser_client() as client:
        browser = Browser(server, client)
        location = browser.sign_in(
            authorize_url(server, web_app.id, web_app.redirect_uri), user["username"], PASSWORD
        )
    assert "code" in query_of(location)


def test_patch_user_replaces_and_clears(admin: httpx.Client) -> None:
    user = _create(admin, name="Old", primaryPhone="15550000002")
    patched = admin.patch(
        f"/users/{user['id']}",
        json={
            "name": "New",
            "primaryPhone": "",
            "avatar": "https://cdn.example/a.png",
            "customData": {"x": 1},
            "profile": {"nickname": "nn"},
        },
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["name"] == "New" and body["primaryPhone"] is None
    assert body["avatar"] == "https://cdn.example/a.png" and body["customData"] == {"x": 1}
    assert body["profile"] == {"nickname": "nn"} and body["updatedAt"] >= user["updatedAt"]
    assert body["username"] == user["username"]  # untouched
    assert invalid_fields(admin.patch(f"/users/{user['id']}", json={"avatar": "ftp:/x"})) == {
        "body.avatar"
    }


def test_custom_data_and_profile_merge(admin: httpx.Client) -> None:
    user = _create(admin, customData={"a": 1, "b": 2}, profile={"givenName": "A"})
    assert admin.get(f"/users/{user['id']}/custom-data").json() == {"a": 1, "b": 2}
    merged = admin.patch(f"/users/{user['id']}/custom-data", json={"customData": {"b": 3, "c": 4}})
    assert merged.json() == {"a": 1, "b": 3, "c": 4}
    assert invalid_fields(admin.patch(f"/users/{user['id']}/custom-data", json={"b": 3})) >= {
        "body.customData"
    }
    profile = admin.patch(f"/users/{user['id']}/profile", json={"profile": {"familyName": "B"}})
    assert profile.json() == {"givenName": "A", "familyName": "B"}


def _sign_in_with_refresh(server: Server, app: App, username: str) -> str:
    with browser_client() as client:
        browser = Browser(server, client)
        location = browser.sign_in(
            authorize_url(
                server, app.id, app.redirect_uri, scope="openid offline_access", prompt="consent"
            ),
            username,
            PASSWORD,
        )
    tokens = httpx.post(
        f"{server.issuer}/token",
        auth=(app.id, app.secret or ""),
        data={
            "grant_type": "authorization_code",
            "code": query_of(location)["code"],
            "redirect_uri": app.redirect_uri,
        },
    ).json()
    return tokens["refresh_token"]


def test_suspension_ends_sessions_and_tokens(
    admin: httpx.Client, server: Server, web_app: App
) -> None:
    user = _create(admin, password=PASSWORD)
    refresh = _sign_in_with_refresh(server, web_app, user["username"])

    async def artifacts(conn):  # type: ignore[no-untyped-def]
        query = select(oidc_model_instances.c.model_name).where(
            oidc_model_instances.c.payload["accountId"].as_string() == user["id"]
        )
        return sorted(r.model_name for r in await conn.execute(query))

    assert "Session" in server.db(artifacts)
    suspended = admin.patch(f"/users/{user['id']}/is-suspended", json={"isSuspended": True})
    assert suspended.status_code == 200 and suspended.json()["isSuspended"] is True
    assert server.db(artifacts) == []
    response = httpx.post(
        f"{server.issuer}/token",
        auth=(web_app.id, web_app.secret or ""),
        data={"grant_type": "refresh_token", "refresh_token": refresh},
    )
    assert response.json()["error"] == "invalid_grant"
    back = admin.patch(f"/users/{user['id']}/is-suspended", json={"isSuspended": False})
    assert back.json()["isSuspended"] is False
    assert invalid_fields(
        admin.patch(f"/users/{user['id']}/is-suspended", json={"isSuspended": "maybe"})
    ) == {"body.isSuspended"}


def test_delete_user_and_404s(admin: httpx.Client, server: Server, web_app: App) -> None:
    user = _create(admin, password=PASSWORD)
    _sign_in_with_refresh(server, web_app, user["username"])
    assert admin.delete(f"/users/{user['id']}").status_code == 204
    error(admin.get(f"/users/{user['id']}"), 404, "entity.not_exists_with_id")
    for method, path, body in (
        ("GET", "/users/nope", None),
        ("PATCH", "/users/nope", {"name": "x"}),
        ("DELETE", "/users/nope", None),
        ("GET", "/users/nope/custom-data", None),
        ("PATCH", "/users/nope/custom-data", {"customData": {}}),
        ("PATCH", "/users/nope/profile", {"profile": {}}),
        ("PATCH", "/users/nope/password", {"password": PASSWORD}),
        ("POST", "/users/nope/password/verify", {"password": PASSWORD}),
        ("GET", "/users/nope/has-password", None),
        ("PATCH", "/users/nope/is-suspended", {"isSuspended": True}),
        ("GET", "/users/nope/roles", None),
        ("POST", "/users/nope/roles", {"roleIds": []}),
        ("PUT", "/users/nope/roles", {"roleIds": []}),
        ("DELETE", "/users/nope/roles/r", None),
        ("GET", "/users/nope/identities/google", None),
        ("PUT", "/users/nope/identities/google", {"userId": "g1"}),
        ("DELETE", "/users/nope/identities/google", None),
    ):
        error(admin.request(method, path, json=body), 404, "entity.not_exists_with_id")


def test_search_by_any_identifier_or_name(admin: httpx.Client) -> None:
    tag = unique("s").replace("_", "")
    alice = _create(admin, name=f"Alice {tag}", primaryPhone="1555" + str(uuid.uuid4().int)[:8])
    bob = admin.post("/users", json={"username": f"bob_{tag}", "name": "Bob"}).json()

    def found(**params: str) -> list[str]:
        response = admin.get("/users", params=params)
        assert response.status_code == 200, response.text
        return [u["id"] for u in response.json()]

    assert found(search=f"%{tag}%") == [bob["id"], alice["id"]]  # newest first
    assert found(search=f"%ALICE {tag.upper()}%") == [alice["id"]]
    assert found(**{"search.primaryEmail": alice["primaryEmail"], "mode": "exact"}) == [alice["id"]]
    assert found(**{"search.primaryPhone": alice["primaryPhone"], "mode": "exact"}) == [alice["id"]]
    assert found(**{"search.id": bob["id"], "mode": "exact"}) == [bob["id"]]
    assert found(
        **{"search.username": f"bob_{tag}", "search.name": "Bob", "joint": "and", "mode": "exact"}
    ) == [bob["id"]]
    assert (
        found(
            **{
                "search.username": f"bob_{tag}",
                "search.name": "Alice",
                "joint": "and",
                "mode": "exact",
            }
        )
        == []
    )
    error(admin.get("/users", params={"search.password": "x"}), 400, "request.invalid_input")
    error(admin.get("/users", params={"search": ""}), 400, "request.invalid_input")


def test_search_index_narrows_but_never_decides(admin: httpx.Client) -> None:
    """The substring index only proposes candidates: every pattern is still checked on the
    user's own fields, so runs spread over two fields, case, wildcards and runs too short for
    trigrams all give what SQL's LIKE over each field gives."""
    a, b = (f"q{uuid.uuid4().hex[:8]}" for _ in range(2))  # a letter, for the case checks
    apart = _create(admin, username=f"apart_{a}", primaryEmail=f"{b}@apart.example")
    together = _create(admin, username=f"together_{a}x{b}", name="Émile Zola")

    def found(**params: str) -> list[str]:
        response = admin.get("/users", params=params)
        assert response.status_code == 200, response.text
        assert response.headers["total-number"] == str(len(response.json()))
        return [u["id"] for u in response.json()]

    # Both runs in one field of `together`, one in each of two fields of `apart`.
    assert found(search=f"%{a}%{b}%") == [together["id"]]
    assert found(search=f"%{a}_{b}%") == [together["id"]]
    assert found(search=f"%{a.upper()}%") == [together["id"], apart["id"]]
    assert found(search=f"%{a.upper()}%", isCaseSensitive="true") == []
    assert found(search=f"%{a}%", isCaseSensitive="true") == [together["id"], apart["id"]]
    assert found(search=f"apart_{a}") == [apart["id"]]  # no wildcard: the whole field
    assert found(search=f"%{a}\"'%") == []  # the index's own quoting is not the caller's
    name_and_username = {"search.name": "%Émile zola%", "search.username": f"%{b}", "joint": "and"}
    assert found(**name_and_username) == [together["id"]]
    # Exact values, case folded unless asked not to; several values are alternatives.
    email = apart["primaryEmail"]
    exact = {"search.primaryEmail": email.upper(), "mode": "exact"}
    assert found(**exact) == [apart["id"]]
    assert found(**exact, isCaseSensitive="true") == []
    both = [("search.username", f"apart_{a}"), ("search.username", together["username"])]
    response = admin.get("/users", params=[*both, ("mode", "exact")])
    assert [u["id"] for u in response.json()] == [together["id"], apart["id"]]
    # Runs shorter than a trigram: the same answer without the index.
    short = admin.get("/users", params={"search.username": f"ap%{a[:2]}_{a[3:5]}%"})
    assert apart["id"] in [u["id"] for u in short.json()]
    assert together["id"] not in [u["id"] for u in short.json()]


def test_pagination_headers(admin: httpx.Client) -> None:
    tag = unique("p").replace("_", "")
    made = [admin.post("/users", json={"username": f"p{tag}{i}"}).json()["id"] for i in range(3)]
    first = admin.get("/users", params={"search": f"p{tag}%", "page_size": 2})
    assert first.headers["total-number"] == "3" and len(first.json()) == 2
    assert set(links(first)) == {"first", "last", "next"}
    second = admin.get("/users", params={"search": f"p{tag}%", "page_size": 2, "page": 2})
    assert [u["id"] for u in second.json()] == [made[0]]
    beyond = admin.get("/users", params={"search": f"p{tag}%", "page_size": 2, "page": 9})
    assert beyond.json() == [] and beyond.headers["total-number"] == "3"
    error(admin.get("/users", params={"page_size": 0}), 400, "guard.invalid_pagination")


def test_user_roles(admin: httpx.Client) -> None:
    user = _create(admin)
    r1 = admin.post("/roles", json={"name": unique("r"), "description": "d"}).json()
    r2 = admin.post("/roles", json={"name": unique("r"), "description": "d"}).json()
    m2m = admin.post(
        "/roles", json={"name": unique("m"), "description": "d", "type": "MachineToMachine"}
    ).json()
    path = f"/users/{user['id']}/roles"
    first = admin.post(path, json={"roleIds": [r1["id"]]})
    assert first.status_code == 201
    assert first.json() == {"roleIds": [r1["id"]], "addedRoleIds": [r1["id"]]}
    assert admin.post(path, json={"roleIds": [r1["id"], r2["id"]]}).json()["addedRoleIds"] == [
        r2["id"]
    ]
    assert {r["id"] for r in admin.get(path).json()} == {r1["id"], r2["id"]}
    error(admin.post(path, json={"roleIds": [m2m["id"]]}), 422, "user.invalid_role_type")
    error(admin.post(path, json={"roleIds": ["nope"]}), 404, "entity.not_exists_with_id")
    assert admin.put(path, json={"roleIds": [r2["id"]]}).json() == {"roleIds": [r2["id"]]}
    assert [r["id"] for r in admin.get(path).json()] == [r2["id"]]
    # a failed replace changes nothing
    error(admin.put(path, json={"roleIds": [r1["id"], "nope"]}), 404, "entity.not_exists_with_id")
    assert [r["id"] for r in admin.get(path).json()] == [r2["id"]]
    assert admin.delete(f"{path}/{r2['id']}").status_code == 204
    error(admin.delete(f"{path}/{r2['id']}"), 404, "entity.not_found")
    assert invalid_fields(admin.post(path, json={"roleIds": "r"})) == {"body.roleIds"}


def test_identities(admin: httpx.Client) -> None:
    user = _create(admin)
    other = _create(admin)
    path = f"/users/{user['id']}/identities/kakao"
    created = admin.put(path, json={"userId": "k-1", "details": {"name": "K"}})
    assert created.status_code == 201
    assert created.json() == {"kakao": {"userId": "k-1", "details": {"name": "K"}}}
    replaced = admin.put(path, json={"userId": "k-2"})
    assert replaced.status_code == 200 and replaced.json() == {"kakao": {"userId": "k-2"}}
    assert admin.get(path).json() == {"identity": {"userId": "k-2"}}
    taken = admin.put(f"/users/{other['id']}/identities/kakao", json={"userId": "k-2"})
    error(taken, 422, "user.identity_already_in_use")
    assert invalid_fields(admin.put(path, json={"id": "x"})) == {"body.userId", "body.id"}
    removed = admin.delete(path)
    assert removed.status_code == 200 and removed.json()["identities"] == {}
    error(admin.delete(path), 404, "user.identity_not_exist")
    error(admin.get(path), 404, "user.identity_not_exist")
    odd = admin.put(f"/users/{user['id']}/identities/a%22b", json={"userId": "x"})
    assert invalid_fields(odd) == {"path.target"}


def test_a_new_password_ends_sessions_and_refresh_tokens(
    admin: httpx.Client, server: Server, web_app: App
) -> None:
    """ASVS: whoever knew the old password must not stay signed in through its grants."""
    user = _create(admin, password=PASSWORD)
    refresh = _sign_in_with_refresh(server, web_app, user["username"])
    changed = admin.patch(f"/users/{user['id']}/password", json={"password": PASSWORD + "x"})
    assert changed.status_code == 200, changed.text

    async def left(conn):  # type: ignore[no-untyped-def]
        query = select(oidc_model_instances.c.model_name).where(
            oidc_model_instances.c.payload["accountId"].as_string() == user["id"]
        )
        return [r.model_name for r in await conn.execute(query)]

    assert server.db(left) == []
    response = httpx.post(
        f"{server.issuer}/token",
        auth=(web_app.id, web_app.secret or ""),
        data={"grant_type": "refresh_token", "refresh_token": refresh},
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
