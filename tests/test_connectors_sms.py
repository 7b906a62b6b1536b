"""The SMS connectors through the Management API of a real server, against a fake Twilio
(``tests/fake_twilio.py``) that also plays an admin's HTTP SMS endpoint: "send a test code"
delivers, Twilio's errors become Logto's connector codes, every failure is bounded in time
and size, the Auth Token is sealed and masked, and configurations are checked on save."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from portico.connectors.http_sms import SIGNATURE, TIMESTAMP, signature
from portico.connectors.secrets import MASK
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, FakeTwilio

TWILIO = "twilio-short-message-service"
HTTP_SMS = "http-sms"
SECRET = "http-sms-signing-secret-0123456789"


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


def _test(admin: httpx.Client, factory: str, config: dict[str, Any], phone: str) -> httpx.Response:
    return admin.post(f"/connectors/{factory}/test", json={"phone": phone, "config": config})


def _failure(response: httpx.Response, code: str, reason: str) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["code"], body["data"]["reason"]) == (code, reason), body
    return str(body["message"])


def test_factories_describe_both_sms_connectors(admin: httpx.Client) -> None:
    factories = {f["id"]: f for f in admin.get("/connector-factories").json()}
    twilio, http_sms = factories[TWILIO], factories[HTTP_SMS]
    assert (twilio["type"], twilio["target"], twilio["platform"]) == ("Sms", "twilio-sms", None)
    assert (http_sms["type"], http_sms["target"]) == ("Sms", "http-sms")
    assert twilio["configSchema"]["properties"]["authToken"]["isConfidential"] is True
    assert http_sms["configSchema"]["properties"]["authorization"]["isConfidential"] is True


def test_send_a_test_code_through_twilio(admin: httpx.Client, twilio: FakeTwilio) -> None:
    response = _test(admin, TWILIO, twilio.config(), "+44 7700 900123")
    assert response.status_code == 204, response.text
    [sms] = twilio.messages_to("447700900123")
    assert sms.body == "Your Generic code is 000000. It expires in 10 minutes."
    assert sms.sender == SERVICE_SID

    sender_number = twilio.config(fromMessagingServiceSID="+15005550006")
    assert _test(admin, TWILIO, sender_number, "447700900124").status_code == 204
    assert twilio.messages_to("447700900124")[0].sender == "+15005550006"  # sent as From


def test_twilio_errors_become_logto_connector_codes(
    admin: httpx.Client, twilio: FakeTwilio
) -> None:
    bad_token = _test(admin, TWILIO, twilio.config(authToken="wrong"), "447700900125")
    message = _failure(bad_token, "connector.invalid_config", "auth_rejected")
    assert "20003" in message and "wrong" not in message
    unknown_service = twilio.config(fromMessagingServiceSID="MG" + "0" * 32)
    _failure(_test(admin, TWILIO, unknown_service, "447700900125"), "connector.invalid_config",
             "not_found")  # fmt: skip
    faults = {
        "invalid_number": ("connector.invalid_request_parameters", "recipient_refused"),
        "rate": ("connector.rate_limit_exceeded", "rate_limited"),
        "server": ("connector.general", "unavailable"),
        "garbage": ("connector.invalid_response", "invalid_response"),
        "huge": ("connector.invalid_response", "too_large"),
    }
    for fault, (code, reason) in faults.items():
        twilio.fault = fault
        try:
            _failure(_test(admin, TWILIO, twilio.config(), "447700900125"), code, reason)
        finally:
            twilio.fault = None
    assert not twilio.messages_to("447700900125")


def test_a_hanging_twilio_costs_at_most_the_deadline(
    admin: httpx.Client, twilio: FakeTwilio
) -> None:
    twilio.fault = "hang"
    began = time.monotonic()
    try:
        response = _test(admin, TWILIO, twilio.config(), "447700900126")
    finally:
        twilio.fault = None
    assert time.monotonic() - began < 15
    _failure(response, "connector.general", "timeout")


def test_twilio_config_is_checked_on_save_and_the_token_is_masked(
    admin: httpx.Client, twilio: FakeTwilio
) -> None:
    no_code = twilio.config(
        templates=[{"usageType": t, "content": "Hello"} for t in
                   ("SignIn", "Register", "ForgotPassword", "Generic")]
    )  # fmt: skip
    bad = {
        "templates": no_code,
        "accountSID": twilio.config(accountSID="AC../../evil"),
        "apiBaseUrl": twilio.config(apiBaseUrl="http://twilio.example.com"),
        "host": twilio.config(host="evil.example.com"),
    }
    for path, config in bad.items():
        response = admin.post("/connectors", json={"connectorId": TWILIO, "config": config})
        assert response.status_code == 400, (path, response.text)
        assert response.json()["code"] == "connector.invalid_config"
        assert path in {e["path"] for e in response.json()["data"]}, response.json()

    created = admin.post("/connectors", json={"connectorId": TWILIO, "config": twilio.config()})
    assert created.status_code == 200, created.text
    body = created.json()
    try:
        assert body["config"]["authToken"] == MASK and AUTH_TOKEN not in created.text
        assert body["config"]["accountSID"] == ACCOUNT_SID
        # Sending the mask back (a console saving its form) keeps the stored token.
        masked = {**twilio.config(), "authToken": MASK}
        assert _test(admin, TWILIO, masked, "447700900127").status_code == 204
    finally:
        admin.delete(f"/connectors/{body['id']}")


def test_http_sms_posts_json_with_authorization_and_a_verifiable_signature(
    admin: httpx.Client, twilio: FakeTwilio
) -> None:
    config = {
        "endpoint": f"{twilio.base}/http-sms",
        "authorization": "Bearer sms-endpoint-token",
        "signingSecret": SECRET,
    }
    response = _test(admin, HTTP_SMS, config, "+1 415 555 0199")
    assert response.status_code == 204, response.text
    received = twilio.http_sms[-1]
    assert (received["to"], received["type"]) == ("+14155550199", "Generic")
    assert received["payload"]["code"] == "000000"
    headers = received["headers"]
    assert headers["authorization"] == "Bearer sms-endpoint-token"
    expected = signature(SECRET, headers[TIMESTAMP.lower()], received["raw"])
    assert headers[SIGNATURE.lower()] == expected
    assert abs(int(headers[TIMESTAMP.lower()]) - time.time()) < 60
    assert json.loads(received["raw"])["payload"]["code"] == "000000"

    twilio.http_sms_status = 401
    try:
        refused = _test(admin, HTTP_SMS, config, "14155550199")
    finally:
        twilio.http_sms_status = 200
    _failure(refused, "connector.invalid_config", "auth_rejected")
    not_https = admin.post(
        "/connectors",
        json={"connectorId": HTTP_SMS, "config": {"endpoint": "http://sms.example.com/send"}},
    )
    assert not_https.status_code == 400 and not_https.json()["code"] == "connector.invalid_config"


def test_the_test_route_wants_an_e164_number(admin: httpx.Client, twilio: FakeTwilio) -> None:
    response = _test(admin, TWILIO, twilio.config(), "0412 345")
    assert response.status_code == 400 and response.json()["code"] == "guard.invalid_input"
