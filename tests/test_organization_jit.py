"""Just-in-time organization provisioning by email domain (issue 33): the Management API's
``/api/organizations/:id/jit/email-domains`` and ``/jit/roles`` (Logto's shapes, paging and
error codes), and users of a JIT domain joining with the default roles when they sign up
(pages, Experience API, social) or sign in, through the real servers; an email nobody
verified, or of another domain, joins nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.fake_kakao import FakeKakao, kakao_user
from tests.lab import EMAIL_SIGN_IN, Lab, submit
from tests.management import error, invalid_fields, links
from tests.support import unique
from tests.test_experience_api import Spa
from tests.test_experience_flows import finish, start
from tests.test_social_kakao import kakao_flow, new_id


def domain() -> str:
    return f"jit{uuid.uuid4().hex[:10]}.example.com"


def _org(api: httpx.Client, prefix: str = "") -> str:
    response = api.post(f"{prefix}/organizations", json={"name": unique("Jit")})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _role(api: httpx.Client, prefix: str = "", name: str | None = None) -> str:
    response = api.post(f"{prefix}/organization-roles", json={"name": name or unique("jit")})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# --- Management API: email domains ------------------------------------------------------------
def test_email_domains_add_list_replace_delete(admin: httpx.Client) -> None:
    org = _org(admin)
    path = f"/organizations/{org}/jit/email-domains"
    added = admin.post(path, json={"emailDomain": " Acme-Corp.EXAMPLE.com "})
    assert added.status_code == 201, added.text
    assert added.json() == {
        "tenantId": "default",
        "organizationId": org,
        "emailDomain": "acme-corp.example.com",  # the form stored emails have
    }
    listed = admin.get(path)
    assert listed.json() == [added.json()] and "total-number" not in listed.headers
    error(admin.post(path, json={"emailDomain": "ACME-corp.example.com"}), 422,
          "entity.unique_integrity_violation")  # fmt: skip

    thirty = sorted(domain() for _ in range(30))
    assert admin.put(path, json={"emailDomains": thirty}).status_code == 204
    assert [d["emailDomain"] for d in admin.get(path).json()] == thirty  # no default paging
    first = admin.get(path, params={"page": 1, "page_size": 20})
    assert len(first.json()) == 20 and first.headers["total-number"] == "30"
    second = admin.get(links(first)["next"].replace(str(admin.base_url), ""))
    assert [d["emailDomain"] for d in first.json() + second.json()] == thirty

    # A list naming one domain twice is refused whole: the old domains stay.
    error(admin.put(path, json={"emailDomains": ["a.example.com", "A.example.com"]}), 422,
          "entity.unique_integrity_violation")  # fmt: skip
    assert len(admin.get(path).json()) == 30

    assert admin.delete(f"{path}/{thirty[0].upper()}").status_code == 204
    error(admin.delete(f"{path}/{thirty[0]}"), 404, "entity.not_found")
    error(admin.delete(f"{path}/not%20a%20domain"), 404, "entity.not_found")
    assert admin.put(path, json={"emailDomains": []}).status_code == 204
    assert admin.get(path).json() == []


def test_email_domains_of_an_unknown_organization(admin: httpx.Client) -> None:
    path = "/organizations/nope/jit/email-domains"
    assert admin.get(path).json() == []  # as Logto: a list query, no existence check
    error(admin.post(path, json={"emailDomain": "acme.example.com"}), 422,
          "entity.relation_foreign_key_not_found")  # fmt: skip
    error(admin.put(path, json={"emailDomains": ["acme.example.com"]}), 422,
          "entity.relation_foreign_key_not_found")  # fmt: skip
    error(admin.delete(f"{path}/acme.example.com"), 404, "entity.not_found")


def test_email_domains_are_validated(admin: httpx.Client) -> None:
    org = _org(admin)
    path = f"/organizations/{org}/jit/email-domains"
    for bad in ("", "acme", "bob@acme.com", "-acme.com", "acme-.com", "ac_me.com", "a..com",
                "acme .com", "a" * 64 + ".com", ".".join(["abcdefghij"] * 12)):  # fmt: skip
        assert invalid_fields(admin.post(path, json={"emailDomain": bad})) == {"body.emailDomain"}
    assert invalid_fields(admin.post(path, json={})) == {"body.emailDomain"}
    assert invalid_fields(admin.post(path, json={"emailDomain": "a.com", "x": 1})) == {"body.x"}
    assert invalid_fields(
        admin.put(path, json={"emailDomains": ["ok.example.com", "not a domain"]})
    ) == {"body.emailDomains.1"}
    assert admin.get(path).json() == []  # nothing half-written
    # An internationalised domain is kept in Unicode, as stored addresses keep it.
    idn = admin.post(path, json={"emailDomain": "XN--BCHER-KVA.example"})
    assert idn.status_code == 201 and idn.json()["emailDomain"] == "bücher.example"


# --- Management API: default roles ------------------------------------------------------------
def test_default_roles_add_list_replace_delete(admin: httpx.Client) -> None:
    org = _org(admin)
    first, second = _role(admin, name=unique("a-jit")), _role(admin, name=unique("b-jit"))
    path = f"/organizations/{org}/jit/roles"
    assert admin.post(path, json={"organizationRoleIds": [first]}).status_code == 201
    listed = admin.get(path)
    assert [r["id"] for r in listed.json()] == [first] and "total-number" not in listed.headers
    assert set(listed.json()[0]) == {"tenantId", "id", "name", "description", "type"}
    # Adding one already there is harmless.
    assert admin.post(path, json={"organizationRoleIds": [first, second]}).status_code == 201
    assert [r["id"] for r in admin.get(path).json()] == [first, second]  # by name
    paged = admin.get(path, params={"page_size": 1, "page": 2})
    assert [r["id"] for r in paged.json()] == [second] and paged.headers["total-number"] == "2"

    error(admin.post(path, json={"organizationRoleIds": [second, "nope"]}), 422,
          "entity.relation_foreign_key_not_found")  # fmt: skip
    error(admin.put(path, json={"organizationRoleIds": ["nope"]}), 422,
          "entity.relation_foreign_key_not_found")  # fmt: skip
    assert [r["id"] for r in admin.get(path).json()] == [first, second]  # unchanged
    machine = admin.post(
        "/organization-roles", json={"name": unique("m2m-jit"), "type": "MachineToMachine"}
    ).json()
    error(admin.post(path, json={"organizationRoleIds": [machine["id"]]}), 422,
          "entity.db_constraint_violated")  # users get them: User roles only  # fmt: skip
    assert [r["id"] for r in admin.get(path).json()] == [first, second]
    assert invalid_fields(admin.post(path, json={"organizationRoleIds": []})) == {
        "body.organizationRoleIds"
    }

    assert admin.put(path, json={"organizationRoleIds": [second]}).status_code == 204
    assert [r["id"] for r in admin.get(path).json()] == [second]
    assert admin.delete(f"{path}/{second}").status_code == 204
    error(admin.delete(f"{path}/{second}"), 404, "entity.not_found")
    assert admin.put(path, json={"organizationRoleIds": []}).status_code == 204

    # A deleted organization role leaves the defaults with it.
    assert admin.post(path, json={"organizationRoleIds": [first]}).status_code == 201
    assert admin.delete(f"/organization-roles/{first}").status_code == 204
    assert admin.get(path).json() == []


def test_default_roles_of_an_unknown_organization(admin: httpx.Client) -> None:
    role = _role(admin)
    path = "/organizations/nope/jit/roles"
    error(admin.get(path), 404, "entity.not_exists_with_id")
    error(admin.post(path, json={"organizationRoleIds": [role]}), 422,
          "entity.relation_foreign_key_not_found")  # fmt: skip
    error(admin.delete(f"{path}/{role}"), 404, "entity.not_found")


def test_jit_routes_need_a_management_token_and_are_audited(
    admin: httpx.Client, weak: httpx.Client, anonymous: httpx.Client
) -> None:
    org = _org(admin)
    for path in (f"/organizations/{org}/jit/email-domains", f"/organizations/{org}/jit/roles"):
        assert anonymous.get(path).status_code == 401
        assert weak.get(path).status_code == 403
    assert weak.post(f"/organizations/{org}/jit/email-domains",
                     json={"emailDomain": "a.example.com"}).status_code == 403  # fmt: skip
    added = admin.post(f"/organizations/{org}/jit/email-domains", json={"emailDomain": domain()})
    assert added.status_code == 201
    entries = admin.get("/logs", params={"logKey": "ManagementApi.AddOrganizationJitEmailDomain"})
    mine = [e for e in entries.json() if e["payload"]["params"].get("id") == org]
    assert len(mine) == 1 and mine[0]["payload"]["status"] == 201
    spec = admin.get("/swagger.json").json()["paths"]
    assert set(spec["/organizations/{id}/jit/email-domains"]) == {"get", "post", "put"}
    assert set(spec["/organizations/{id}/jit/roles/{organizationRoleId}"]) == {"delete"}


# --- provisioning, on the lab server ----------------------------------------------------------
class Jit:
    """Organizations on the lab server: two provisioning ``domain`` (one with two default
    roles, one with none) and one provisioning another domain."""

    def __init__(self, lab: Lab) -> None:
        self.api = lab.api
        self.domain, self.other_domain = domain(), domain()
        self.org, self.bare, self.elsewhere = (_org(lab.api, "/api") for _ in range(3))
        self.roles = sorted([_role(lab.api, "/api"), _role(lab.api, "/api")])
        for org, jit_domain in ((self.org, self.domain), (self.bare, self.domain.upper()),
                                (self.elsewhere, self.other_domain)):  # fmt: skip
            added = lab.api.post(f"/api/organizations/{org}/jit/email-domains",
                                 json={"emailDomain": jit_domain})  # fmt: skip
            assert added.status_code == 201, added.text
        added = lab.api.post(f"/api/organizations/{self.org}/jit/roles",
                             json={"organizationRoleIds": self.roles})  # fmt: skip
        assert added.status_code == 201, added.text

    def memberships(self, user_id: str) -> dict[str, list[str]]:
        """Organization id -> the user's role ids in it."""
        response = self.api.get(f"/api/users/{user_id}/organizations")
        assert response.status_code == 200, response.text
        return {o["id"]: sorted(r["id"] for r in o["organizationRoles"]) for o in response.json()}

    @property
    def joined(self) -> dict[str, list[str]]:
        return {self.org: self.roles, self.bare: []}

    def close(self) -> None:
        for org in (self.org, self.bare, self.elsewhere):
            self.api.delete(f"/api/organizations/{org}")
        for role in self.roles:
            self.api.delete(f"/api/organization-roles/{role}")


@pytest.fixture
def jit(lab: Lab) -> Iterator[Jit]:
    made = Jit(lab)
    yield made
    made.close()


def test_sign_up_by_email_code_on_the_pages_joins_with_the_default_roles(
    lab: Lab, jit: Jit
) -> None:
    lab.configure(**EMAIL_SIGN_IN)
    address = f"{unique('pages')}@{jit.domain}"
    browser = lab.browser()
    page, verifier = start(lab, browser, first_screen="register", scope="openid email")
    assert submit(browser, page, "/register", identifier=address.upper()).status_code == 303
    code_page = browser.get("/verification-code")
    claims = finish(lab, browser, submit(browser, code_page, "/verification-code",
                                         code=lab.code_for(address)), verifier)  # fmt: skip
    assert claims["email"] == address
    assert jit.memberships(claims["sub"]) == jit.joined

    # A user of another domain joins nothing.
    outsider = f"{unique('pages')}@example.com"
    browser = lab.browser()
    page, verifier = start(lab, browser, first_screen="register", scope="openid email")
    submit(browser, page, "/register", identifier=outsider)
    code_page = browser.get("/verification-code")
    other = finish(lab, browser, submit(browser, code_page, "/verification-code",
                                        code=lab.code_for(outsider)), verifier)  # fmt: skip
    assert jit.memberships(other["sub"]) == {}


def test_sign_up_through_the_experience_api_joins_with_the_default_roles(
    lab: Lab, jit: Jit
) -> None:
    lab.configure(**EMAIL_SIGN_IN)
    address = f"{unique('api')}@{jit.domain}"
    spa = Spa(lab, scope="openid email")
    spa.event("Register")
    # A wrong code proves nothing: no account, no membership.
    unproven = spa.send_code(address, "Register")
    right = lab.code_for(address)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert spa.verify_code(address, unproven, wrong).status_code == 400
    spa.fails("POST", "/experience/identification", {"verificationId": unproven}, 400,
              "session.verification_failed")  # fmt: skip
    verification_id = spa.email_verified(address, "Register")
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 201)
    claims = spa.submit()
    assert claims["email"] == address
    assert jit.memberships(claims["sub"]) == jit.joined


@pytest.fixture
def kakao(lab: Lab, kakao_server: tuple[FakeKakao, str]) -> FakeKakao:
    fake, connector_id = kakao_server
    fake.fault = None
    fake.connector_id = connector_id  # type: ignore[attr-defined]
    lab.configure(
        socialSignInConnectorTargets=["kakao"],
        signUp={"identifiers": [], "password": False, "verify": False},
    )
    return fake


def test_social_sign_up_joins_only_with_an_email_the_provider_verified(
    lab: Lab, jit: Jit, kakao: FakeKakao
) -> None:
    unverified = f"{unique('kakao')}@{jit.domain}"
    kakao.next_user = kakao_user(new_id(), "미인증", unverified, verified=False)
    browser = lab.browser()
    response, verifier = kakao_flow(lab, kakao, browser)
    claims = finish(lab, browser, response, verifier)
    assert claims.get("email") is None
    assert jit.memberships(claims["sub"]) == {}

    verified = f"{unique('kakao')}@{jit.domain}"
    kakao.next_user = kakao_user(new_id(), "인증", verified)
    browser = lab.browser()
    response, verifier = kakao_flow(lab, kakao, browser)
    claims = finish(lab, browser, response, verifier)
    assert claims["email"] == verified
    assert jit.memberships(claims["sub"]) == jit.joined


def test_sign_in_joins_a_user_of_the_domain_once(lab: Lab, jit: Jit) -> None:
    username = unique("member")
    body = {"username": username, "password": PASSWORD, "primaryEmail": f"{username}@{jit.domain}"}
    created = lab.api.post("/api/users", json=body)
    assert created.status_code == 200, created.text
    user_id = created.json()["id"]
    assert jit.memberships(user_id) == {}  # as Logto: POST /users provisions nothing

    def sign_in() -> None:
        browser = lab.browser()
        page, verifier = start(lab, browser, scope="openid")
        response = submit(browser, page, "/sign-in", identifier=username, password=PASSWORD)
        assert finish(lab, browser, response, verifier)["sub"] == user_id

    sign_in()
    assert jit.memberships(user_id) == jit.joined
    # An existing member is left as the administrator made them.
    path = f"/api/organizations/{jit.org}/users/{user_id}/roles"
    assert lab.api.put(path, json={"organizationRoleIds": [jit.roles[0]]}).status_code == 204
    assert lab.api.delete(f"/api/organizations/{jit.bare}/users/{user_id}").status_code == 204
    sign_in()
    assert jit.memberships(user_id) == {jit.org: [jit.roles[0]], jit.bare: []}


def test_an_email_added_at_fulfilment_joins(lab: Lab, jit: Jit) -> None:
    lab.configure(
        signUp={"identifiers": ["email"], "password": True, "verify": True},
        signIn={"methods": [
            {"identifier": "email", "password": True, "verificationCode": True,
             "isPasswordPrimary": True},
            {"identifier": "username", "password": True, "verificationCode": False,
             "isPasswordPrimary": True}]},
    )  # fmt: skip
    name = unique("noemail")
    created = lab.api.post("/api/users", json={"username": name, "password": PASSWORD})
    user_id = created.json()["id"]
    spa = Spa(lab, scope="openid email")
    spa.event("SignIn")
    verification_id = spa.password("username", name, PASSWORD)
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    spa.fails("POST", "/experience/submit", None, 422, "user.missing_profile")
    assert jit.memberships(user_id) == {}
    address = f"{name}@{jit.domain}"
    verification_id = spa.email_verified(address, "SignIn")
    spa.ok("POST", "/experience/profile", {"type": "email", "verificationId": verification_id},
           204)  # fmt: skip
    assert spa.submit()["sub"] == user_id
    assert jit.memberships(user_id) == jit.joined
