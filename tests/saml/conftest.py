from tests.saml.idp import saml_idp

__all__ = ["saml_idp"]
