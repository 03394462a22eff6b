// A real OpenID Connect provider for the SSO tests: panva's oidc-provider (not our code), on
// 127.0.0.1. tests/sso/conftest.py starts it with:
//   node server.mjs <port> <client_id> <client_secret> <redirect_uri> [accounts JSON]
// Its development login form accepts any login and password; the login is the account id.
// Accounts (JSON: {"login": {"email": …, "email_verified": …, "name": …}}) give the claims; a
// login not listed that looks like an email is that email, verified.
// Prints "ready <issuer>" on stdout once it listens.
import crypto from "node:crypto";
import Provider from "oidc-provider";

const [port, clientId, clientSecret, redirectUri, accountsJson] = process.argv.slice(2);
const accounts = JSON.parse(accountsJson || "{}");
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: "jwk" }), kid: "test-key-1", use: "sig", alg: "RS256" };

function claimsOf(login) {
  const listed = accounts[login];
  if (listed) return { sub: login, ...listed };
  return { sub: login, email: login, email_verified: true, name: login.split("@")[0] };
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: [crypto.randomBytes(32).toString("hex")] },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "given_name", "family_name"],
  },
  // The ID token carries the claims of the scopes granted (the tests read them there).
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return claimsOf(id); } };
  },
});
provider.listen(Number(port), "127.0.0.1", () => {
  process.stdout.write(`ready ${issuer}\n`);
});
