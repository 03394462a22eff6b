// SSO through the official Stytch Node SDK, for tests/sso/test_node_sdk.py.
// Usage: node sso.mjs <command> [args…] (STYTCH_BASE_URL, STYTCH_PROJECT_ID, STYTCH_SECRET set).
//   manage ORG_ID ISSUER CLIENT_ID CLIENT_SECRET   SAML create/update/get/delete, OIDC create and
//                                                  update to active; prints the OIDC id
//   authenticate SSO_TOKEN                         sso.authenticate, then the same token again
import * as stytch from "stytch";

const client = new stytch.B2BClient({
  project_id: process.env.STYTCH_PROJECT_ID,
  secret: process.env.STYTCH_SECRET,
  env: process.env.STYTCH_BASE_URL,
});

async function refusal(promise) {
  try {
    await promise;
    return null;
  } catch (err) {
    if (err instanceof stytch.StytchError) return { status_code: err.status_code, error_type: err.error_type };
    throw err;
  }
}

const commands = {
  async manage([organization_id, issuer, client_id, client_secret]) {
    const saml = (await client.sso.saml.createConnection({ organization_id, display_name: "Okta" })).connection;
    const renamed = (
      await client.sso.saml.updateConnection({
        organization_id,
        connection_id: saml.connection_id,
        display_name: "Okta (EU)",
        attribute_mapping: { email: "email", full_name: "name" },
      })
    ).connection;
    const oidc = (await client.sso.oidc.createConnection({ organization_id, display_name: "Corp" })).connection;
    const active = (
      await client.sso.oidc.updateConnection({
        organization_id,
        connection_id: oidc.connection_id,
        issuer,
        client_id,
        client_secret,
        authorization_url: `${issuer}/authorize`,
        token_url: `${issuer}/token`,
        userinfo_url: `${issuer}/userinfo`,
        jwks_url: `${issuer}/jwks`,
      })
    ).connection;
    const listed = await client.sso.getConnections({ organization_id });
    const deleted = await client.sso.deleteConnection({ organization_id, connection_id: saml.connection_id });
    const again = await refusal(client.sso.deleteConnection({ organization_id, connection_id: saml.connection_id }));
    return {
      saml_status: saml.status,
      saml_acs_url: saml.acs_url,
      saml_audience_uri: saml.audience_uri,
      saml_display_name: renamed.display_name,
      oidc_id: oidc.connection_id,
      oidc_status: active.status,
      oidc_redirect_url: active.redirect_url,
      listed: [listed.saml_connections.length, listed.oidc_connections.length, listed.external_connections.length],
      deleted: deleted.connection_id === saml.connection_id,
      again,
    };
  },
  async authenticate([sso_token]) {
    const done = await client.sso.authenticate({ sso_token });
    const again = await refusal(client.sso.authenticate({ sso_token }));
    return {
      member_id: done.member_id,
      organization_id: done.organization_id,
      member_authenticated: done.member_authenticated,
      factor: done.member_session.authentication_factors[0].delivery_method,
      registrations: done.member.sso_registrations.map((r) => r.connection_id),
      local_member_id: (await client.sessions.authenticateJwt({ session_jwt: done.session_jwt })).member_session.member_id,
      again,
    };
  },
};

const [command, ...args] = process.argv.slice(2);
process.stdout.write(JSON.stringify(await commands[command](args)) + "\n");
