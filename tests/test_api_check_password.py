"""``POST /api/sign-in-exp/default/check-password``: the tenant's password policy, applied to
a candidate password, with Logto's answer shapes (200 ``{result: true}``, 400 ``{result:
false, issues}``), optionally against one user's own details."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import make_user
from tests.management import error
from tests.support import Server, unique

PATH = "/sign-in-exp/default/check-password"


def test_a_password_the_policy_accepts_is_result_true(admin: httpx.Client) -> None:
    response = admin.post(PATH, json={"password": "Quiet-Harbor-Lantern-58"})
    assert response.status_code == 200, response.text
    assert response.json() == {"result": True}


def test_every_broken_rule_is_listed_with_its_interpolation(admin: httpx.Client) -> None:
    response = admin.post(PATH, json={"password": "abc"})
    assert response.status_code == 400
    body = response.json()
    assert body["result"] is False
    codes = [issue["code"] for issue in body["issues"]]
    assert codes[0] == "password_rejected.too_short"
    assert body["issues"][0]["interpolation"] == {"min": 8}
    assert "password_rejected.restricted.sequence" in codes
    assert all(set(issue) <= {"code", "interpolation"} for issue in body["issues"])


def test_a_common_password_is_rejected_as_pwned(admin: httpx.Client) -> None:
    response = admin.post(PATH, json={"password": "P@ssw0rd2024"})
    assert response.status_code == 400
    assert {"code": "password_rejected.pwned"} in response.json()["issues"]


def test_with_user_id_the_users_own_details_are_rejected(
    server: Server,
    admin: httpx.Client,
) -> None:
    user = make_user(server)
    # A random name may itself repeat or run a sequence ("fff", "123"), which the policy
    # refuses on its own: take one that passes alone, so only knowing the user can fail it.
    for _ in range(50):
        name = unique("harbor")
        password = f"Zq!{name}#Wk"
        alone = admin.post(PATH, json={"password": password})
        if alone.status_code == 200:  # nothing wrong without knowing who
            break
    else:
        pytest.fail(f"no passing name found: {alone.text}")
    renamed = admin.patch(f"/users/{user.id}", json={"username": name})
    assert renamed.status_code == 200, renamed.text
    response = admin.post(PATH, json={"password": password, "userId": user.id})
    assert response.status_code == 400
    assert response.json()["issues"] == [
        {
            "code": "password_rejected.restricted.user_info",
            "interpolation": {"field": "username"},
        }
    ]


def test_an_unknown_user_id_is_404_not_a_pass(admin: httpx.Client) -> None:
    response = admin.post(PATH, json={"password": "Quiet-Harbor-Lantern-58", "userId": "nobody"})
    error(response, 404, "entity.not_exists_with_id")


def test_body_is_checked_and_token_required(
    admin: httpx.Client,
    anonymous: httpx.Client,
) -> None:
    assert admin.post(PATH, json={}).status_code == 400
    assert admin.post(PATH, json={"password": "x", "extra": 1}).status_code == 400
    assert anonymous.post(PATH, json={"password": "Quiet-Harbor-Lantern-58"}).status_code == 401
