// Drives the official Stytch Node SDK's RBAC calls against a live Antechamber, for
// tests/compat/test_rbac_node_sdk.py. Usage: node rbac.mjs <command> JSON_ARGS; STYTCH_BASE_URL,
// STYTCH_PROJECT_ID, STYTCH_SECRET in the environment. Prints one JSON object on stdout.
//   policy {}                                    rbac.policy()
//   org {organization_id, roles?}                setOrgPolicy (when roles given), getOrgPolicy
//   check {session_jwt, organization_id, resource_id, action}
//                                                authenticateJwt with authorization_check
//   update {organization_id, member_id, fields, session_jwt}
//                                                members.update with the member's session
import * as stytch from "stytch";

const client = new stytch.B2BClient({
  project_id: process.env.STYTCH_PROJECT_ID,
  secret: process.env.STYTCH_SECRET,
  env: process.env.STYTCH_BASE_URL,
});

async function outcome(promise) {
  try {
    return { ok: await promise };
  } catch (err) {
    if (err instanceof stytch.StytchError) {
      return { error: { status_code: err.status_code, error_type: err.error_type } };
    }
    return { error: { client_error: String(err.code || err.message) } };
  }
}

const commands = {
  async policy() {
    const { policy } = await client.rbac.policy();
    return { roles: policy.roles.map((r) => r.role_id), scopes: policy.scopes };
  },
  async org({ organization_id, roles }) {
    if (roles) {
      await client.rbac.organizations.setOrgPolicy({ organization_id, org_policy: { roles } });
    }
    const got = await client.rbac.organizations.getOrgPolicy({ organization_id });
    return { roles: got.org_policy.roles };
  },
  async check({ session_jwt, organization_id, resource_id, action }) {
    const result = await outcome(
      client.sessions.authenticateJwt({
        session_jwt,
        authorization_check: { organization_id, resource_id, action },
      }),
    );
    return result.ok ? { ok: { roles: result.ok.member_session.roles } } : result;
  },
  async update({ organization_id, member_id, fields, session_jwt }) {
    const result = await outcome(
      client.organizations.members.update(
        { organization_id, member_id, ...fields },
        { authorization: { session_jwt } },
      ),
    );
    return result.ok ? { ok: { roles: result.ok.member.roles.map((r) => r.role_id) } } : result;
  },
};

const [command, args] = process.argv.slice(2);
const result = await commands[command](JSON.parse(args || "{}"));
console.log(JSON.stringify(result));
