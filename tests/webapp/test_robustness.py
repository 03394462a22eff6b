"""No crash on any input: random bodies, cookies and query strings at every endpoint and page
get an answer in the app's shapes, never a 500."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cookiejar import replace_cookie
from tests.webapp.conftest import Web

ENDPOINTS = {
    "/api/discovery/start": ["email"],
    "/api/auth/callback": ["token", "stytch_token_type"],
    "/api/discovery/create": ["organizationName", "requireMfa"],
    "/api/discovery/get-organization": ["organizationId", "memberEmail"],
    "/api/discovery/select-organization": ["organizationId"],
    "/api/mfa/send": ["phoneNumber", "organizationId", "memberId"],
    "/api/mfa/authenticate": ["code", "organizationId", "memberId"],
    "/api/mfa/update": ["mfaOptIn", "organizationId", "memberId"],
    "/api/auth/logout": [],
}
PAGES = [
    "/",
    "/check-email",
    "/auth/callback",
    "/discovery",
    "/smsmfa",
    "/dashboard",
    "/dashboard/mfa",
    "/login",
]

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=60)
    | st.sampled_from(["", "true", "+12025550123", "123456", "ada@acme.example", "\x00", "é"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
cookie_values = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=';,"\\'),
    max_size=300,
) | st.sampled_from(["eyJhbGciOiJub25lIn0.e30.", "a.b", "a.b.c"])
origins = st.none() | st.sampled_from(["http://testserver", "null", "https://evil.example"])


@st.composite
def calls(draw: st.DrawFn) -> dict[str, Any]:
    path = draw(st.sampled_from(sorted(ENDPOINTS)))
    keys = draw(st.lists(st.sampled_from(ENDPOINTS[path] or ["x"]), unique=True))
    return {
        "path": path,
        "body": {key: draw(values) for key in keys},
        "as_form": draw(st.booleans()),
        "session": draw(st.none() | cookie_values),
        "pending": draw(st.none() | cookie_values),
        "origin": draw(origins),
    }


def _send(web: Web, call: dict[str, Any]) -> Any:
    web.client.cookies.clear()
    for name, value in (("session", call["session"]), ("intermediate_session", call["pending"])):
        if value is not None:
            replace_cookie(web.client, name, value)
    headers = {"Origin": call["origin"]} if call["origin"] else {}
    if call["as_form"]:
        form = {k: str(v) for k, v in call["body"].items()}
        return web.form(call["path"], form, headers=headers)
    return web.post(call["path"], call["body"], headers=headers)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(call=calls())
def test_random_requests_never_crash(inprocess: Web, call: dict[str, Any]) -> None:
    answer = _send(inprocess, call)
    assert answer.status_code < 500, (call, answer.text)
    if call["as_form"]:
        assert answer.status_code == 303
    else:
        assert isinstance(answer.json()["message"], str)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(PAGES),
    query=st.dictionaries(
        st.sampled_from(["error", "info", "token", "stytch_token_type", "optIn", "change", "sent"]),
        st.text(max_size=40),
        max_size=3,
    ),
    pending=st.none() | cookie_values,
    session=st.none() | cookie_values,
)
def test_random_page_visits_never_crash(
    inprocess: Web,
    path: str,
    query: dict[str, str],
    pending: str | None,
    session: str | None,
) -> None:
    inprocess.client.cookies.clear()
    if pending is not None:
        replace_cookie(inprocess.client, "intermediate_session", pending)
    if session is not None:
        replace_cookie(inprocess.client, "session", session)
    page = inprocess.get(path, params=query)
    assert page.status_code in (200, 303, 400), (path, query, page.text[:200])
