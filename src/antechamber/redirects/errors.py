from antechamber.errors import BadRequest, NotFound


class InvalidRedirectUrl(BadRequest):
    error_type = "invalid_redirect_url"
    default_message = (
        "A redirect URL must be an absolute http(s) URL with a host, without credentials or a "
        "fragment, at most 2048 characters."
    )


class InvalidDiscoveryRedirectUrl(InvalidRedirectUrl):
    error_type = "invalid_discovery_redirect_url"


class InvalidRedirectUrlType(BadRequest):
    error_type = "invalid_redirect_url_type"
    default_message = "Unknown redirect URL type; the known types are: discovery, login, signup."


class NoDiscoveryRedirectUrlsSet(BadRequest):
    error_type = "no_discovery_redirect_urls_set"
    default_message = (
        "No discovery_redirect_url was given and the project has no default discovery redirect "
        "URL. Register one with: antechamber redirect-urls add URL --type discovery"
    )


class NoMatchForRedirectUrl(BadRequest):
    error_type = "no_match_for_provided_magic_link_url"
    default_message = (
        "The redirect URL is not one of the project's registered redirect URLs of this type."
    )


class RedirectUrlNotFound(NotFound):
    error_type = "redirect_url_not_found"
    default_message = "The project has no such redirect URL of this type."


class NoLoginRedirectUrlsSet(BadRequest):
    error_type = "no_login_redirect_urls_set"
    default_message = (
        "No login redirect URL was given and the project has no default one. Register one "
        "with: antechamber redirect-urls add URL --type login"
    )


class NoSignupRedirectUrlsSet(BadRequest):
    error_type = "no_signup_redirect_urls_set"
    default_message = (
        "No signup redirect URL was given and the project has no default one. Register one "
        "with: antechamber redirect-urls add URL --type signup"
    )
