"""Single sign-on per organization: SAML and OIDC connections, the browser flow, SSO tokens.

connections.py   the connections an organization's admin manages (Stytch's sso/saml, sso/oidc)
flow.py          start → identity provider → callback → SSO token → sso/authenticate
oidc.py          the OpenID Connect client (authorization code, ID token checks, JWKS cache)
provisioning.py  which member an identity becomes (registration, email, JIT)
public_tokens.py the project's public token, which names the project in browser flows
"""
