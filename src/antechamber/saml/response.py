"""Validating a SAMLResponse (HTTP-POST binding) for a service provider."""

from __future__ import annotations

from datetime import datetime, timedelta

from antechamber.saml.models import Assertion, IdentityProvider, ServiceProvider

MAX_RESPONSE_BYTES = 256 * 1024
"""The largest decoded SAMLResponse accepted (base64 input may be 4/3 of it plus line breaks).
Real responses are a few KB; large ones come from many group attributes."""


def validate_response(
    saml_response_b64: str | bytes,
    sp: ServiceProvider,
    idp: IdentityProvider,
    *,
    expected_request_id: str | None,
    now: datetime,
    skew: timedelta = timedelta(minutes=2),
) -> Assertion:
    """Validate the `SAMLResponse` form field the IdP posted to our ACS and return what it
    proves, or raise a `SamlResponseError` subclass (never anything else for bad input).

    Consumes nothing and stores nothing: the caller must refuse an `assertion_id` seen before
    (replay) and bind `expected_request_id` to the browser's login (RelayState + cookie).

    `expected_request_id` is the ID of the AuthnRequest this login sent; `None` accepts only an
    IdP-initiated response (one without InResponseTo anywhere)."""
    raise NotImplementedError("validate_response is being built on feat/saml")
