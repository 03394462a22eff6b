// Drives the official Stytch Node SDK against a live Antechamber for tests/compat/test_node_sdk.py.
// Usage: node script.mjs <command> [args…]; STYTCH_BASE_URL, STYTCH_PROJECT_ID, STYTCH_SECRET in
// the environment. Prints one JSON object on stdout; exits non-zero on an unexpected error.
//   send EMAIL REDIRECT_URL      send a discovery magic link
//   login TOKEN                  authenticate the link, create an OPTIONAL org, check the JWT
//                                locally, revoke, and try the session again
//   mfa TOKEN                    authenticate the link, create a REQUIRED_FOR_ALL org
//   serve                        read one JSON request per line on stdin ({"step", "args"}),
//                                run that step (see `steps`), answer one JSON line: {"ok": body}
//                                or {"error": {status_code, error_type}}; for multi-step flows
//                                whose next step needs something read from the outbox
import * as readline from "node:readline";
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

async function discover(token) {
  return client.magicLinks.discovery.authenticate({ discovery_magic_links_token: token });
}

const commands = {
  async send([email, redirect]) {
    const sent = await client.magicLinks.email.discovery.send({
      email_address: email,
      discovery_redirect_url: redirect,
    });
    return { status_code: sent.status_code };
  },

  async login([token]) {
    const found = await discover(token);
    const listed = await client.discovery.organizations.list({
      intermediate_session_token: found.intermediate_session_token,
    });
    const created = await client.discovery.organizations.create({
      intermediate_session_token: found.intermediate_session_token,
      email_allowed_domains: [],
      organization_name: "Node Co",
      session_duration_minutes: 60,
      mfa_policy: "OPTIONAL",
    });
    const local = await client.sessions.authenticateJwt({ session_jwt: created.session_jwt });
    const before = await client.sessions.authenticate({ session_token: created.session_token });
    await client.sessions.revoke({ session_jwt: created.session_jwt });
    const after = await refusal(client.sessions.authenticate({ session_token: created.session_token }));
    return {
      email_address: found.email_address,
      listed: listed.discovered_organizations.length,
      member_authenticated: created.member_authenticated,
      member_id: created.member_id,
      organization_id: created.organization.organization_id,
      is_admin: created.member.is_admin,
      intermediate_session_token: created.intermediate_session_token,
      local_member_id: local.member_session.member_id,
      local_organization_id: local.member_session.organization_id,
      local_factors: local.member_session.authentication_factors.map((f) => f.type),
      authenticated_before_revoke: before.member_session.member_session_id,
      after_revoke: after,
    };
  },

  async mfa([token]) {
    const found = await discover(token);
    const created = await client.discovery.organizations.create({
      intermediate_session_token: found.intermediate_session_token,
      email_allowed_domains: [],
      organization_name: "Strict Node Co",
      session_duration_minutes: 60,
      mfa_policy: "REQUIRED_FOR_ALL",
    });
    return {
      member_authenticated: created.member_authenticated,
      session_token: created.session_token,
      session_jwt: created.session_jwt,
      member_session: created.member_session,
      mfa_required: created.mfa_required,
      ist_is_the_same: created.intermediate_session_token === found.intermediate_session_token,
      organization_id: created.organization.organization_id,
    };
  },
};

// One SDK call each, answered with the SDK's result as it is.
const steps = {
  sendLink: (email, redirect) =>
    client.magicLinks.email.discovery.send({ email_address: email, discovery_redirect_url: redirect }),
  discover: (token) => discover(token),
  create: (ist, name, policy) =>
    client.discovery.organizations.create({
      intermediate_session_token: ist,
      email_allowed_domains: [],
      organization_name: name,
      session_duration_minutes: 60,
      mfa_policy: policy,
    }),
  exchange: (ist, organizationId) =>
    client.discovery.intermediateSessions.exchange({
      intermediate_session_token: ist,
      organization_id: organizationId,
      session_duration_minutes: 60,
    }),
  smsSend: (organizationId, memberId, phone) =>
    client.otps.sms.send({
      organization_id: organizationId,
      member_id: memberId,
      mfa_phone_number: phone,
    }),
  smsAuthenticate: (organizationId, memberId, code, ist) =>
    client.otps.sms.authenticate({
      organization_id: organizationId,
      member_id: memberId,
      code,
      intermediate_session_token: ist,
    }),
  authenticateJwtLocally: async (jwt) => {
    const local = await client.sessions.authenticateJwt({ session_jwt: jwt });
    return {
      member_id: local.member_session.member_id,
      factors: local.member_session.authentication_factors.map((f) => [f.type, f.delivery_method]),
    };
  },
  totpCreate: (organizationId, memberId, ist) =>
    client.totps.create({
      organization_id: organizationId,
      member_id: memberId,
      intermediate_session_token: ist,
    }),
  totpAuthenticate: (organizationId, memberId, code, ist) =>
    client.totps.authenticate({
      organization_id: organizationId,
      member_id: memberId,
      code,
      intermediate_session_token: ist,
    }),
  recoveryCodesRecover: (organizationId, memberId, recoveryCode, ist) =>
    client.recoveryCodes.recover({
      organization_id: organizationId,
      member_id: memberId,
      recovery_code: recoveryCode,
      intermediate_session_token: ist,
    }),
  updateMember: (organizationId, memberId, fields) =>
    client.organizations.members.update({
      organization_id: organizationId,
      member_id: memberId,
      ...fields,
    }),
};

// Invitations, organization login links and email codes (tests/compat/test_sdk_invites.py).
Object.assign(steps, {
  invite: (organizationId, email, name) =>
    client.magicLinks.email.invite({ organization_id: organizationId, email_address: email, name }),
  loginLink: (organizationId, email) =>
    client.magicLinks.email.loginOrSignup({ organization_id: organizationId, email_address: email }),
  authenticateLink: (token) => client.magicLinks.authenticate({ magic_links_token: token }),
  otpLoginOrSignup: (organizationId, email) =>
    client.otps.email.loginOrSignup({ organization_id: organizationId, email_address: email }),
  otpAuthenticate: (organizationId, email, code) =>
    client.otps.email.authenticate({ organization_id: organizationId, email_address: email, code }),
  otpDiscoverySend: (email) => client.otps.email.discovery.send({ email_address: email }),
  otpDiscoveryAuthenticate: (email, code) =>
    client.otps.email.discovery.authenticate({ email_address: email, code }),
});

async function serve() {
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const { step, args } = JSON.parse(line);
    let answer;
    try {
      answer = { ok: await steps[step](...args) };
    } catch (err) {
      if (!(err instanceof stytch.StytchError)) throw err;
      answer = { error: { status_code: err.status_code, error_type: err.error_type } };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
  }
}

const [command, ...args] = process.argv.slice(2);
if (command === "serve") {
  await serve();
} else {
  const result = await commands[command](args);
  process.stdout.write(JSON.stringify(result) + "\n");
}
