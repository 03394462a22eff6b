// Drives SCIM connection management through the official Stytch Node SDK, for
// tests/scim/test_connections_node.py. Usage: node scim.mjs ORGANIZATION_ID; STYTCH_BASE_URL,
// STYTCH_PROJECT_ID, STYTCH_SECRET in the environment. Prints one JSON object on stdout.
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

const organization_id = process.argv[2];
const created = await client.scim.connection.create({
  organization_id,
  display_name: "Okta (Node)",
  identity_provider: "okta",
});
const connection_id = created.connection.connection_id;
const got = await client.scim.connection.get({ organization_id });
const started = await client.scim.connection.rotateStart({ organization_id, connection_id });
const completed = await client.scim.connection.rotateComplete({ organization_id, connection_id });
const notRotating = await refusal(client.scim.connection.rotateCancel({ organization_id, connection_id }));
const updated = await client.scim.connection.update({
  organization_id,
  connection_id,
  display_name: "Okta",
});
const groups = await client.scim.connection.getGroups({ organization_id, connection_id });
const deleted = await client.scim.connection.delete({ organization_id, connection_id });
const gone = await client.scim.connection.get({ organization_id });
console.log(
  JSON.stringify({
    created_status: created.status_code,
    bearer_token: created.connection.bearer_token,
    base_url: created.connection.base_url,
    last_four: got.connection.bearer_token_last_four,
    next_last_four_before: got.connection.next_bearer_token_last_four,
    next_bearer_token: started.connection.next_bearer_token,
    last_four_after: completed.connection.bearer_token_last_four,
    not_rotating: notRotating,
    display_name: updated.connection.display_name,
    groups: groups.scim_groups.length,
    deleted: deleted.connection_id === connection_id,
    gone: gone.connection ?? null,
  }),
);
