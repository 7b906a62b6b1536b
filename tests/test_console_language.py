"""The console speaks the hosted pages' languages: the admin's choice in the picker (a cookie,
kept across pages and sign-outs) > the browser's Accept-Language > English; ``<html lang>``
follows, and headings, labels, flashes and the console's own errors are translated."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.console import ConsoleClient, flash_of
from tests.support import Server, browser_client, csrf_of, unique

HEADINGS = {
    # tag: (Applications, Get started, Users nav link, sign-in heading)
    "ko": ("애플리케이션", "시작하기", "사용자", "Portico 콘솔에 로그인"),
    "ja": ("アプリケーション", "はじめに", "ユーザー", "Portico コンソールにサインイン"),
    "es": ("Aplicaciones", "Primeros pasos", "Usuarios", "Inicia sesión en la consola de Portico"),
    "zh-CN": ("应用", "快速开始", "用户", "登录 Portico 控制台"),
}


def speaking(server: Server, accept_language: str | None) -> ConsoleClient:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    return ConsoleClient(server, browser_client(headers=headers))


@pytest.fixture
def korean(console_server: Server) -> Iterator[ConsoleClient]:
    client = speaking(console_server, "ko-KR,ko;q=0.9,en;q=0.5")
    client.sign_in()
    yield client
    client.close()


def html_lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', html)
    assert found, html[:200]
    return found.group(1)


def choose(console: ConsoleClient, lang: str, back_to: str) -> str:
    """Press a language in the picker on ``back_to``: where the answer leads."""
    page = console.get(back_to).text
    answer = console.post(
        "/console/language", {"csrf_token": csrf_of(page), "lang": lang, "next": back_to}
    )
    assert answer.status_code == 303, answer.text[:300]
    return answer.headers["location"]


@pytest.mark.parametrize("tag", sorted(HEADINGS))
def test_pages_follow_accept_language(console_server: Server, tag: str) -> None:
    applications, get_started, users, sign_in = HEADINGS[tag]
    console = speaking(console_server, f"{tag};q=1, en;q=0.1")
    try:
        shown = console.get("/console/sign-in").text
        assert html_lang(shown) == tag and f"<h1>{sign_in}</h1>" in shown
        console.sign_in()
        page = console.get("/console/applications").text
        assert html_lang(page) == tag
        assert f"<h1>{applications}</h1>" in page
        assert f'href="/console/users">{users}</a>' in page
        assert f"<h1>{get_started}</h1>" in console.get("/console/get-started").text
    finally:
        console.close()


def test_english_is_the_default(console: ConsoleClient) -> None:
    page = console.get("/console/applications").text
    assert html_lang(page) == "en"
    assert "<h1>Applications</h1>" in page and "Sign out</button>" in page
    assert 'value="en" lang="en" class="link" aria-pressed="true"' in page


def test_an_unsupported_language_falls_back_to_english(console_server: Server) -> None:
    console = speaking(console_server, "fr-CA, de;q=0.8")
    try:
        assert html_lang(console.get("/console/sign-in").text) == "en"
    finally:
        console.close()


def test_the_pickers_choice_is_remembered_across_pages(korean: ConsoleClient) -> None:
    assert html_lang(korean.get("/console/get-started").text) == "ko"
    assert choose(korean, "ja", "/console/applications?x=1") == "/console/applications?x=1"
    for path in ("/console/applications", "/console/users", "/console/get-started"):
        page = korean.get(path).text
        assert html_lang(page) == "ja", path  # the choice beats Accept-Language: ko
        assert 'value="ja" lang="ja" class="link" aria-pressed="true"' in page
    assert "<h1>アプリケーション</h1>" in korean.get("/console/applications").text
    # Still the choice after signing out, on the sign-in page.
    page = korean.get("/console/applications").text
    korean.post("/console/sign-out", {"csrf_token": csrf_of(page)})
    assert "Portico コンソールにサインイン" in korean.get("/console/sign-in").text
    choose(korean, "en", "/console/sign-in")
    assert html_lang(korean.get("/console/sign-in").text) == "en"


def test_the_picker_accepts_only_its_languages_and_console_paths(korean: ConsoleClient) -> None:
    assert choose(korean, "fr", "/console/users") == "/console/users"
    assert html_lang(korean.get("/console/users").text) == "ko"
    page = korean.get("/console/users").text
    answer = korean.post(
        "/console/language", {"csrf_token": csrf_of(page), "lang": "es", "next": "//evil.test/"}
    )
    assert answer.headers["location"] == "/console"
    refused = korean.post("/console/language", {"csrf_token": "forged", "lang": "ja"})
    assert refused.status_code == 403 and "Solicitud rechazada" in refused.text  # es chosen


def test_flashes_and_form_errors_are_translated(korean: ConsoleClient) -> None:
    name = unique("서점")
    created = korean.submit(
        "/console/applications/new?framework=react",
        "/console/applications",
        {"framework": "react", "name": name, "redirect_uris": "http://localhost:3000/callback"},
    )
    page = korean.get(created.headers["location"]).text
    assert f"“{name}” 애플리케이션을 만들었습니다." in flash_of(page)
    assert "<h2>설정</h2>" in page and "ID 토큰 유효 기간(초)" in page
    refused = korean.submit(
        created.headers["location"],
        created.headers["location"],
        {"name": name, "id_token_ttl": "0", "refresh_days": "14"},
    )
    assert refused.status_code == 400
    assert "1에서 86400 사이의 정수(초)를 입력하세요." in refused.text


def test_sign_in_refusal_in_the_admins_language(console_server: Server) -> None:
    console = speaking(console_server, "ja")
    try:
        answer = console.submit(
            "/console/sign-in",
            "/console/sign-in",
            {"username": unique("ghost"), "password": "wrong-one"},
        )
        assert answer.status_code == 401
        assert "ユーザー名またはパスワードが正しくありません。" in answer.text
    finally:
        console.close()


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/console/applications/new", "애플리케이션 만들기"),
        ("/console/audit-logs", "감사 로그"),
        ("/console/signing-keys", "서명 키"),
        ("/console/admins", "관리자"),
    ],
)
def test_translated_pages_in_korean(korean: ConsoleClient, path: str, heading: str) -> None:
    page = korean.get(path).text
    assert html_lang(page) == "ko" and f"<h1>{heading}</h1>" in page


# (path, heading, a label) of the pages translated second, in Korean and Japanese.
SECOND_PAGES = {
    "ko": [
        ("/console/sign-in-experience", "로그인 경험", "가입 식별자"),
        ("/console/users", "사용자", "사용자 만들기"),
        ("/console/roles", "역할", "역할 이름"),
        ("/console/api-resources", "API 리소스", "액세스 토큰 유효 기간(초)"),
        ("/console/connectors", "커넥터", "이메일 및 SMS 커넥터"),
        ("/console/connectors/new?type=Social", "소셜 커넥터 추가", "카카오"),
    ],
    "ja": [
        ("/console/sign-in-experience", "サインイン体験", "サインアップの識別子"),
        ("/console/users", "ユーザー", "ユーザーを作成"),
        ("/console/roles", "ロール", "ロール名"),
        ("/console/api-resources", "API リソース", "アクセストークンの有効期間"),
        ("/console/connectors", "コネクター", "メール・SMS コネクター"),
        ("/console/connectors/new?type=Social", "ソーシャルコネクターを追加", "Kakao"),
    ],
}


@pytest.mark.parametrize("tag", sorted(SECOND_PAGES))
def test_second_pages_translated(console_server: Server, tag: str) -> None:
    console = speaking(console_server, tag)
    try:
        console.sign_in()
        for path, heading, label in SECOND_PAGES[tag]:
            page = console.get(path).text
            assert html_lang(page) == tag, path
            assert f"<h1>{heading}</h1>" in page and label in page, path
    finally:
        console.close()


def test_user_page_and_its_flash_in_korean(korean: ConsoleClient) -> None:
    created = korean.submit(
        "/console/users", "/console/users", {"username": unique("kim"), "password": ""}
    )
    assert created.status_code == 303, created.text[:500]
    user = korean.get(created.headers["location"]).text
    assert "사용자를 만들었습니다." in flash_of(user)
    assert "<h2>프로필</h2>" in user and "2단계 인증(MFA)" in user and "사용자 삭제" in user


def test_sign_in_experience_messages_in_spanish(console_server: Server) -> None:
    console = speaking(console_server, "es")
    try:
        console.sign_in()
        page = console.get("/console/sign-in-experience").text
        assert "<h1>Experiencia de inicio de sesión</h1>" in page
        assert "Métodos de inicio de sesión" in page and "Primero la contraseña" in page
        assert "Verificación en dos pasos (MFA)" in page
        # The preview frame's refusal, in Spanish and with no link out of the frame.
        refused = console.post(
            "/console/sign-in-experience/preview",
            {"csrf_token": csrf_of(page), "sign_up": "phone", "primary_color": "red"},
        )
        assert refused.status_code == 400 and "<a " not in refused.text
        assert "No se puede previsualizar esta configuración" in refused.text
        assert "Un color como #6139F6." in refused.text
    finally:
        console.close()
