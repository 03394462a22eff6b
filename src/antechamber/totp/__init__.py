"""TOTP (authenticator apps) and recovery codes as second factors (issue 7)."""
