"""`magic_links.link_url` builds, from parts worked out once per redirect URL, the very text
the straightforward split, filter, re-encode and join gives."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antechamber.magic_links.service import link_url


def straightforward(redirect_url: str, token_type: str, token: str) -> str:
    parts = urlsplit(redirect_url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in ("stytch_token_type", "token")
    ]
    query += [("stytch_token_type", token_type), ("token", token)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:3000/discovery",
        "https://app.example/x?y=1&token=old&stytch_token_type=q&e=",
        "https://app.example/x?",
        "https://app.example/x?a=%20b&c=d+e",
        "https://app.example/x?token=1",
        "https://app.example/p?x=1#f?g",
        "http://h:8080",
        "myapp://callback/x?y",
    ],
)
@pytest.mark.parametrize("token", ["abcDEF-_123", "a b&c=d", "é%+"])
def test_same_text_as_the_straightforward_way(url: str, token: str) -> None:
    assert link_url(url, "discovery", token) == straightforward(url, "discovery", token)


@settings(max_examples=300, deadline=None)
@given(path=st.text(max_size=30), query=st.text(max_size=60), token=st.text(max_size=50))
def test_same_text_for_any_path_query_and_token(path: str, query: str, token: str) -> None:
    url = f"https://app.example/{path}?{query}"
    assert link_url(url, "login", token) == straightforward(url, "login", token)
