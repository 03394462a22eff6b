"""Random damage to a real signed response: every outcome is an acceptance of the signed
values or a `SamlResponseError`; never another exception (which a face would turn into a 500),
never a value the IdP did not sign."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from antechamber import saml
from tests.saml.crafting import RealLogin, encode

MUTATIONS = ("delete", "text", "attribute", "drop_attribute", "duplicate", "move_to_root")


@pytest.mark.parametrize("which", ["assertion signed", "response signed"])
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    picks=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10_000),
            st.sampled_from(MUTATIONS),
            st.text(max_size=12),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_damage_is_refused_cleanly_or_harmless(
    real_login: RealLogin,
    real_login_signed_response: RealLogin,
    which: str,
    picks: list[tuple[int, str, str]],
) -> None:
    login = real_login if which == "assertion signed" else real_login_signed_response
    root = login.tree()
    for index, mutation, value in picks:
        elements = [e for e in root.iter() if isinstance(e.tag, str)]
        element = elements[index % len(elements)]
        clean = "".join(c for c in value if c.isprintable() and c not in "\x00")
        if mutation == "delete" and element is not root:
            parent = element.getparent()
            assert parent is not None
            parent.remove(element)
        elif mutation == "text":
            element.text = clean
        elif mutation == "attribute" and element.attrib:
            name = sorted(element.attrib)[index % len(element.attrib)]
            element.set(name, clean)
        elif mutation == "drop_attribute" and element.attrib:
            name = sorted(element.attrib)[index % len(element.attrib)]
            del element.attrib[name]
        elif mutation == "duplicate" and element is not root:
            element.addnext(etree.fromstring(etree.tostring(element)))
        elif mutation == "move_to_root" and element is not root:
            root.append(element)
    try:
        assertion = saml.validate_response(
            encode(root),
            login.sp,
            login.idp,
            expected_request_id=login.request_id,
            now=login.now,
        )
    except saml.SamlResponseError:
        return
    # Accepted: then the damage was outside what is signed, and the values are the IdP's.
    assert assertion.name_id == "alice@example.com"
    assert assertion.attributes["email"] == ("alice@example.com",)
    assert assertion.in_response_to == login.request_id
    original = base64.b64decode(login.saml_response)
    assert assertion.assertion_id.encode() in original
