from antechamber.errors import BadRequest


class EmailJitProvisioningNotAllowed(BadRequest):
    error_type = "email_jit_provisioning_not_allowed"
    default_message = (
        "This email is not a member of the organization, and the organization does not let "
        "people join by email domain."
    )


class InvalidEmailForJitProvisioning(BadRequest):
    error_type = "invalid_email_for_jit_provisioning"
    default_message = (
        "This email is not a member of the organization, and its domain is not one of the "
        "organization's email_allowed_domains."
    )
