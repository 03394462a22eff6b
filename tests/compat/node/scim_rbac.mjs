// SCIM connection management with a member's session through the official Stytch Node SDK
// (the `options.authorization` it sends as X-Stytch-Member-Session / -SessionJWT), for
// tests/scim/test_group_roles_node.py. Usage: node scim_rbac.mjs ORGANIZATION_ID PLAIN_TOKEN
// ADMIN_JWT; STYTCH_BASE_URL, STYTCH_PROJECT_ID, STYTCH_SECRET in the environment. Prints one
// JSON object on stdout.
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
    if (err instanceof stytch.StytchError) {
      return { status_code: err.status_code, error_type: err.error_type };
    }
    throw err;
  }
}

const [organization_id, plainToken, adminJwt] = process.argv.slice(2);
const plain = { authorization: { session_token: plainToken } };
const admin = { authorization: { session_jwt: adminJwt } };

const plainCreate = await refusal(
  client.scim.connection.create({ organization_id, display_name: "Okta" }, plain),
);
const created = await client.scim.connection.create(
  { organization_id, display_name: "Okta", identity_provider: "okta" },
  admin,
);
const connection_id = created.connection.connection_id;
const plainGet = await refusal(client.scim.connection.get({ organization_id }, plain));
const plainUpdate = await refusal(
  client.scim.connection.update({ organization_id, connection_id, display_name: "Mine" }, plain),
);
const plainRotate = await refusal(
  client.scim.connection.rotateStart({ organization_id, connection_id }, plain),
);
const got = await client.scim.connection.get({ organization_id }, admin);
const groups = await client.scim.connection.getGroups({ organization_id, connection_id }, admin);
const updated = await client.scim.connection.update(
  { organization_id, connection_id, display_name: "Okta (admin)" },
  admin,
);
const started = await client.scim.connection.rotateStart({ organization_id, connection_id }, admin);
const cancelled = await client.scim.connection.rotateCancel({ organization_id, connection_id }, admin);
const plainDelete = await refusal(
  client.scim.connection.delete({ organization_id, connection_id }, plain),
);
const deleted = await client.scim.connection.delete({ organization_id, connection_id }, admin);
console.log(
  JSON.stringify({
    plain: {
      create: plainCreate,
      get: plainGet,
      update: plainUpdate,
      rotate_start: plainRotate,
      delete: plainDelete,
    },
    admin: {
      created: Boolean(created.connection.bearer_token),
      got: got.connection.connection_id === connection_id,
      groups: groups.scim_groups.length,
      display_name: updated.connection.display_name,
      next_token: Boolean(started.connection.next_bearer_token),
      cancelled: cancelled.connection.next_bearer_token_last_four,
      deleted: deleted.connection_id === connection_id,
    },
  }),
);
