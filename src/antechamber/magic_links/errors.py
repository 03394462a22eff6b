from antechamber.errors import BadRequest, NotFound, Unauthorized


class MagicLinkNotFound(NotFound):
    error_type = "magic_link_not_found"
    default_message = "Magic link could not be found."


class UnableToAuthMagicLink(Unauthorized):
    """A link that exists but was already used or has expired."""

    error_type = "unable_to_auth_magic_link"
    default_message = (
        "The magic link could not be authenticated because it was either already used or "
        "expired. Send another magic link to this user."
    )


SUPERSEDED_MESSAGE = (
    "The magic link could not be authenticated because a newer link was sent to this address "
    "since; use the newest link."
)


class InvalidExpiration(BadRequest):
    error_type = "invalid_expiration"
    default_message = "discovery_expiration_minutes must be between 5 and 10080 (one week)."


class InvalidLocale(BadRequest):
    error_type = "invalid_locale"
    default_message = (
        "locale must be one of en, es, pt-br, fr, it, de-DE, zh-Hans, ca-ES, ja, ru, nl, pl, "
        "tr, fa, vi, cs."
    )


class InvalidPkceCodeChallenge(BadRequest):
    error_type = "invalid_pkce_code_challenge"
    default_message = (
        "pkce_code_challenge must be the unpadded base64url SHA-256 of the code verifier "
        "(43 characters)."
    )


class PkceMismatch(BadRequest):
    error_type = "pkce_mismatch"
    default_message = "The pkce_code_verifier does not match the link's pkce_code_challenge."


class PkceExpectedCodeVerifier(BadRequest):
    error_type = "pkce_expected_code_verifier"
    default_message = "This link was sent with a PKCE challenge; give its pkce_code_verifier."


class PkceDidNotExpectCodeVerifier(BadRequest):
    error_type = "pkce_did_not_expect_code_verifier"
    default_message = "This link was sent without a PKCE challenge; give no pkce_code_verifier."
