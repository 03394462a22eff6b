"""The SAML half of the browser flow, on the SAML protocol library (`antechamber.saml`).

This module keeps what the library does not: the login a response must answer (its
AuthnRequest ID, bound to the browser by RelayState and cookie), the assertion ids already
accepted (replay), and the mapping of attributes to a member's email and name. The library
checks the XML: signature by the connection's certificates only, over the element used,
audience, recipient, destination, InResponseTo, validity window, size, no DTDs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from antechamber import saml
from antechamber.scope import Scope
from antechamber.sso import connections, errors
from antechamber.sso.models import SamlAssertionUse, SamlConnection
from antechamber.sso.provisioning import VerifiedIdentity

SKEW = timedelta(minutes=2)


def service_provider(scope: Scope, connection: SamlConnection) -> saml.ServiceProvider:
    """The connection as the SAML library's service provider: our signing pair (AuthnRequests
    are signed), the encryption keys, and Stytch's alternative audience and ACS URL."""
    url = connections.callback_url(scope, connection.id)
    decryption = tuple(
        connections.saml_private_key(scope, k.private_key).decode()
        for k in connection.encryption_keys
    )
    return saml.ServiceProvider(
        entity_id=url,
        acs_url=url,
        name_id_format=connection.nameid_format or None,
        signing_key=connections.saml_private_key(scope, connection.signing_private_key).decode(),
        signing_certificate=connection.signing_certificate,
        decryption_keys=decryption,
        alternative_audience=connection.alternative_audience_uri or None,
        alternative_acs_url=connection.alternative_acs_url or None,
    )


def identity_provider(connection: SamlConnection) -> saml.IdentityProvider:
    return saml.IdentityProvider(
        entity_id=connection.idp_entity_id,
        sso_url=connection.idp_sso_url,
        certificates=tuple(c.certificate for c in connection.certificates),
    )


def authn_request(
    scope: Scope, connection: SamlConnection, state: str, now: datetime
) -> tuple[str, str]:
    """A new AuthnRequest ID and the URL that carries it to the IdP (RelayState = state)."""
    request_id = saml.new_request_id()
    url = saml.authn_request_redirect(
        service_provider(scope, connection),
        identity_provider(connection),
        request_id=request_id,
        relay_state=state,
        now=now,
    )
    return request_id, url


def identity(scope: Scope, pending: Any, saml_response: str | None) -> VerifiedIdentity:
    """Validate the posted response for the pending login and record its assertion id (never
    accepted twice on this connection). `pending` is `flow.Pending`."""
    connection = pending.connection
    if not isinstance(connection, SamlConnection):
        raise errors.SsoLoginNotFound()
    return _validated(scope, connection, saml_response, pending.request_id)


def unsolicited_identity(
    scope: Scope, connection: SamlConnection, saml_response: str | None
) -> VerifiedIdentity:
    """An IdP-initiated response (no login started here): accepted only without any
    InResponseTo, and only where the connection allows IdP-initiated sign-in."""
    if connection.idp_initiated_auth_disabled:
        raise errors.UnsolicitedSamlResponse(
            "This connection accepts only sign-ins started from the app."
        )
    return _validated(scope, connection, saml_response, None)


def _validated(
    scope: Scope, connection: SamlConnection, saml_response: str | None, request_id: str | None
) -> VerifiedIdentity:
    if not saml_response:
        raise errors.SamlResponseInvalid("The identity provider posted no SAMLResponse.")
    now = scope.clock.now()
    assertion = saml.validate_response(
        saml_response,
        service_provider(scope, connection),
        identity_provider(connection),
        expected_request_id=request_id,
        now=now,
        skew=SKEW,
    )
    _remember(scope, connection.id, assertion.assertion_id, assertion.not_on_or_after + SKEW)
    return _identity(connection, assertion)


def _remember(scope: Scope, connection_id: str, assertion_id: str, until: datetime) -> None:
    seen = scope.db.scalar(
        select(SamlAssertionUse.assertion_id).where(
            SamlAssertionUse.connection_id == connection_id,
            SamlAssertionUse.assertion_id == assertion_id,
        )
    )
    if seen is not None:
        raise errors.DuplicateSamlResponse()
    try:
        with scope.db.begin_nested():
            scope.db.add(
                SamlAssertionUse(
                    connection_id=connection_id, assertion_id=assertion_id[:256], expires_at=until
                )
            )
            scope.db.flush()
    except IntegrityError:  # the same assertion, posted twice at once
        raise errors.DuplicateSamlResponse() from None


def _identity(connection: SamlConnection, assertion: saml.Assertion) -> VerifiedIdentity:
    mapping = connection.attribute_mapping or {}
    attributes = {name: list(values) for name, values in assertion.attributes.items()}

    def first(key: str) -> str:
        values = assertion.attributes.get(mapping.get(key, ""), ())
        return values[0] if values else ""

    email = first("email")
    if not email and assertion.name_id_format == saml.NAMEID_EMAIL:
        email = assertion.name_id
    if not email:
        raise errors.EmailMissing("The SAML assertion carries no email address.")
    name = first("full_name") or " ".join(
        part for part in (first("first_name"), first("last_name")) if part
    )
    kept: dict[str, Any] = {"name_id": assertion.name_id, "attributes": attributes}
    if "groups" in mapping:
        kept["groups"] = list(assertion.attributes.get(mapping["groups"], ()))
    return VerifiedIdentity(
        connection_id=connection.id,
        external_id=assertion.name_id,
        email=email,
        email_verified=None,
        name=name[:256],
        attributes=kept,
    )
