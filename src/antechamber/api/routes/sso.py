"""`/v1/b2b/sso`: connections (SAML, OIDC) and `sso/authenticate` (stytch-b2b-api-more.md §3).

The browser half of SSO (start, the identity provider's callback) is in `sso_browser.py`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from antechamber.api import member_session, serializers
from antechamber.api import sso_shapes as shapes
from antechamber.api.auth import ApiRoute, ProjectScope, authenticated_scope
from antechamber.api.envelope import ok
from antechamber.rbac import needs
from antechamber.sso import connections, flow, metadata, oidc_connections, saml_connections

router = APIRouter(prefix="/v1/b2b/sso", tags=["sso"], route_class=ApiRoute)


@router.get("/{organization_id}", response_model=shapes.ConnectionsResponse)
def get_connections(request: Request, scope: ProjectScope, organization_id: str) -> JSONResponse:
    scope = member_session.authorize(request, scope, [organization_id], needs.sso("get"))
    _, saml, oidc = connections.list_connections(scope, organization_id)
    return ok(
        request,
        saml_connections=[shapes.saml_connection(scope, c) for c in saml],
        oidc_connections=[shapes.oidc_connection(scope, c) for c in oidc],
        external_connections=[],
    )


@router.delete(
    "/{organization_id}/connections/{connection_id}",
    response_model=shapes.ConnectionDeleteResponse,
)
def delete_connection(
    request: Request, scope: ProjectScope, organization_id: str, connection_id: str
) -> JSONResponse:
    scope = member_session.authorize(request, scope, [organization_id], needs.sso("delete"))
    deleted = connections.delete_connection(scope, organization_id, connection_id)
    return ok(request, connection_id=deleted)


@router.post("/saml/{organization_id}", response_model=shapes.SamlConnectionResponse)
def create_saml(
    request: Request, scope: ProjectScope, organization_id: str, body: shapes.ConnectionCreate
) -> JSONResponse:
    scope = member_session.authorize(request, scope, [organization_id], needs.sso("create"))
    created = saml_connections.create_saml(
        scope,
        organization_id,
        display_name=body.display_name,
        identity_provider=body.identity_provider,
    )
    return ok(request, connection=shapes.saml_connection(scope, created))


@router.put(
    "/saml/{organization_id}/connections/{connection_id}",
    response_model=shapes.SamlConnectionResponse,
)
def update_saml(
    request: Request,
    scope: ProjectScope,
    organization_id: str,
    connection_id: str,
    body: shapes.SamlUpdate,
) -> JSONResponse:
    scope = member_session.authorize(request, scope, [organization_id], needs.sso("update"))
    updated = saml_connections.update_saml(scope, organization_id, connection_id, body.fields())
    return ok(request, connection=shapes.saml_connection(scope, updated))


@router.put(
    "/saml/{organization_id}/connections/{connection_id}/url",
    response_model=shapes.SamlConnectionResponse,
)
def update_saml_by_url(
    request: Request,
    organization_id: str,
    connection_id: str,
    body: shapes.SamlUpdateByUrl,
) -> JSONResponse:
    """Three steps so no lock is held while the IdP answers: check the caller and the
    connection (read only), fetch and parse the metadata, then write."""
    with authenticated_scope(request, read_only=True) as scope:
        member_session.authorize(request, scope, [organization_id], needs.sso("update"))
        connections.list_connections(scope, organization_id)
        settings = scope.settings
    idp = metadata.fetch(settings, body.metadata_url)
    with authenticated_scope(request) as scope:
        # Again: the session may have been revoked while the IdP answered.
        scope = member_session.authorize(request, scope, [organization_id], needs.sso("update"))
        updated = metadata.apply(scope, organization_id, connection_id, idp)
        return ok(request, connection=shapes.saml_connection(scope, updated))


@router.delete(
    "/saml/{organization_id}/connections/{connection_id}/verification_certificates/{certificate_id}",
    response_model=shapes.CertificateDeleteResponse,
)
def delete_verification_certificate(
    request: Request,
    scope: ProjectScope,
    organization_id: str,
    connection_id: str,
    certificate_id: str,
) -> JSONResponse:
    scope = member_session.authorize(request, scope, [organization_id], needs.sso("update"))
    deleted = saml_connections.delete_verification_certificate(
        scope, organization_id, connection_id, certificate_id
    )
    return ok(request, certificate_id=deleted)


@router.delete(
    "/saml/{organization_id}/connections/{connection_id}/encryption_private_keys/{private_key_id}",
    response_model=shapes.EncryptionKeyDeleteResponse,
)
def delete_encryption_private_key(
    request: Request,
    scope: ProjectScope,
    organization_id: str,
    connection_id: str,
    private_key_id: str,
) -> JSONResponse:
    scope = member_session.authorize(request, scope, [organization_id], needs.sso("update"))
    deleted = saml_connections.delete_encryption_key(
        scope, organization_id, connection_id, private_key_id
    )
    return ok(request, private_key_id=deleted)


@router.post("/oidc/{organization_id}", response_model=shapes.OidcConnectionResponse)
def create_oidc(
    request: Request, scope: ProjectScope, organization_id: str, body: shapes.ConnectionCreate
) -> JSONResponse:
    scope = member_session.authorize(request, scope, [organization_id], needs.sso("create"))
    created = oidc_connections.create_oidc(
        scope,
        organization_id,
        display_name=body.display_name,
        identity_provider=body.identity_provider,
    )
    return ok(request, connection=shapes.oidc_connection(scope, created))


@router.put(
    "/oidc/{organization_id}/connections/{connection_id}",
    response_model=shapes.OidcConnectionResponse,
)
def update_oidc(
    request: Request,
    organization_id: str,
    connection_id: str,
    body: shapes.OidcUpdate,
) -> JSONResponse:
    """Three steps when the issuer is given, so no lock is held while the provider answers:
    check the caller (read only), read the issuer's discovery document, then write."""
    fields = body.fields()
    discovery = None
    if fields.get("issuer"):
        with authenticated_scope(request, read_only=True) as scope:
            member_session.authorize(request, scope, [organization_id], needs.sso("update"))
            connections.list_connections(scope, organization_id)
            settings = scope.settings
        discovery = oidc_connections.discover(settings, str(fields["issuer"]))
    with authenticated_scope(request) as scope:
        scope = member_session.authorize(request, scope, [organization_id], needs.sso("update"))
        updated, warning = oidc_connections.update_oidc(
            scope, organization_id, connection_id, fields, discovery
        )
        if warning:
            return ok(request, connection=shapes.oidc_connection(scope, updated), warning=warning)
        return ok(request, connection=shapes.oidc_connection(scope, updated))


@router.post("/authenticate", response_model=shapes.SsoAuthenticateResponse)
def authenticate(
    request: Request, scope: ProjectScope, body: shapes.SsoAuthenticate
) -> JSONResponse:
    result = flow.authenticate(
        scope,
        body.sso_token,
        pkce_code_verifier=body.pkce_code_verifier,
        session_token=body.session_token,
        session_jwt=body.session_jwt,
        intermediate_session_token=body.intermediate_session_token,
        session_duration_minutes=body.session_duration_minutes,
        session_custom_claims=body.session_custom_claims,
        locale=body.locale,
    )
    return ok(
        request,
        **serializers.auth_result(scope.db, result, scope.clock.now()),
        organization_id=result.organization.id,
        reset_session=False,
    )
