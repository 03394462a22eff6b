"""Per-project RS256 signing keys for session JWTs, and the public JWKS."""
