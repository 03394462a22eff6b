"""Encrypted assertions: SimpleSAMLphp encrypts to our certificate and we decrypt; crafted
ones (our own encryption, GCM and OAEP variants) show what is refused, each failure alike."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import padding as sympadding
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree

from antechamber import saml
from tests.saml.crafting import NS, SAML, RealLogin, assertion_of, encode, strip_signature
from tests.saml.idp import SimpleSamlIdp

XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
Validate = Callable[..., saml.Assertion]


@dataclass(frozen=True)
class EncryptedLogin:
    login: RealLogin
    key_pem: str


@pytest.fixture(scope="module")
def encrypted_login(saml_idp: SimpleSamlIdp) -> EncryptedLogin:
    key_pem = saml.new_signing_key()
    certificate = saml.signing_certificate(key_pem, now=datetime.now(UTC), issuer="Antechamber")
    sp = saml.ServiceProvider(
        "https://antechamber.test/saml/encrypted",
        "https://antechamber.test/v1/b2b/sso/callback/saml-connection-test-encrypted",
        decryption_keys=(key_pem,),
        encryption_certificate=certificate,
    )
    saml_idp.add_sp(sp.entity_id, sp.acs_url, encryption_certificate=certificate)
    idp = saml.parse_idp_metadata(saml_idp.metadata_xml())
    request_id = saml.new_request_id()
    now = datetime.now(UTC)
    url = saml.authn_request_redirect(sp, idp, request_id=request_id, relay_state="e", now=now)
    posted = saml_idp.login(url, "alice", "alice-password")
    login = RealLogin(
        posted.saml_response, sp, idp, request_id, now, saml_idp.private_key, saml_idp.certificate
    )
    return EncryptedLogin(login, key_pem)


def test_the_idp_really_encrypted_it(encrypted_login: EncryptedLogin) -> None:
    root = encrypted_login.login.tree()
    assert root.find("saml:EncryptedAssertion", NS) is not None
    assert root.find("saml:Assertion", NS) is None
    assert b"alice@example.com" not in etree.tostring(root)


def test_an_encrypted_assertion_from_the_idp_is_decrypted_and_accepted(
    encrypted_login: EncryptedLogin, validate: Validate
) -> None:
    assertion = validate(encrypted_login.login)
    assert assertion.name_id == "alice@example.com"
    assert assertion.attributes["name"] == ("Alice Example",)


def test_any_of_several_keys_decrypts_it(
    encrypted_login: EncryptedLogin, validate: Validate
) -> None:
    login = encrypted_login.login
    sp = replace(login.sp, decryption_keys=(saml.new_signing_key(), encrypted_login.key_pem))
    assert validate(login, sp=sp).name_id == "alice@example.com"


def test_without_a_key_it_is_refused_as_unsupported(
    encrypted_login: EncryptedLogin, validate: Validate
) -> None:
    sp = replace(encrypted_login.login.sp, decryption_keys=())
    with pytest.raises(saml.EncryptedSamlAssertionUnsupported):
        validate(encrypted_login.login, sp=sp)


def test_another_key_is_refused(encrypted_login: EncryptedLogin, validate: Validate) -> None:
    sp = replace(encrypted_login.login.sp, decryption_keys=(saml.new_signing_key(),))
    with pytest.raises(saml.InvalidSamlEncryption) as refused:
        validate(encrypted_login.login, sp=sp)
    assert refused.value.error_type == "invalid_encrypted_saml_assertion"


def _cipher_value(root: etree._Element) -> etree._Element:
    value = root.find(
        "saml:EncryptedAssertion/xenc:EncryptedData/xenc:CipherData/xenc:CipherValue",
        {**NS, "xenc": XENC},
    )
    assert value is not None
    return value


@pytest.mark.parametrize(
    "where", ["iv", "first block", "last block", "padding byte", "truncated", "empty"]
)
def test_a_tampered_ciphertext_is_refused_with_one_error(
    encrypted_login: EncryptedLogin, validate: Validate, where: str
) -> None:
    """Whatever breaks (padding, XML, length, or a flip that still decrypts to XML whose
    signature then fails), the same error and message: no padding or parsing oracle."""
    root = encrypted_login.login.tree()
    value = _cipher_value(root)
    data = bytearray(base64.b64decode(value.text or ""))
    if where == "iv":
        data[8] ^= 0x01
    elif where == "empty":
        del data[:]
    elif where == "last block":
        data[-20] ^= 0x01
    elif where == "padding byte":
        data[-17] ^= 0xFF
    elif where == "first block":
        data[20] ^= 0x01
    else:
        del data[-5:]
    value.text = base64.b64encode(bytes(data)).decode()
    with pytest.raises(saml.InvalidSamlEncryption) as refused:
        validate(encrypted_login.login, encode(root))
    assert refused.value.message == saml.InvalidSamlEncryption.default_message


# -- crafted encryptions -----------------------------------------------------------------------


def _encrypt(
    assertion: etree._Element,
    public_key_of: str,
    *,
    data_algorithm: str,
    key_transport: str,
) -> etree._Element:
    """An EncryptedAssertion of `assertion`, as an IdP would make it."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(public_key_of.encode(), None).public_key()
    plaintext = etree.tostring(assertion)
    size = 32 if "256" in data_algorithm else 16
    content_key = os.urandom(size)
    if data_algorithm.endswith("gcm"):
        nonce = os.urandom(12)
        ciphertext = nonce + AESGCM(content_key).encrypt(nonce, plaintext, None)
    else:
        iv = os.urandom(16)
        padder = sympadding.PKCS7(128).padder()
        padded = padder.update(plaintext) + padder.finalize()
        encryptor = Cipher(algorithms.AES(content_key), modes.CBC(iv)).encryptor()
        ciphertext = iv + encryptor.update(padded) + encryptor.finalize()
    if key_transport == "rsa-1_5":
        wrapped = key.encrypt(content_key, padding.PKCS1v15())  # type: ignore[union-attr]
        transport = XENC + "rsa-1_5"
    elif key_transport == "rsa-oaep-sha256":
        wrapped = key.encrypt(  # type: ignore[union-attr]
            content_key,
            padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
        )
        transport = XENC11 + "rsa-oaep"
    else:
        wrapped = key.encrypt(  # type: ignore[union-attr]
            content_key,
            # rsa-oaep-mgf1p means SHA-1 for both: what SimpleSAMLphp and most IdPs send.
            padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None),  # noqa: S303
        )
        transport = XENC + "rsa-oaep-mgf1p"
    x = "{" + XENC + "}"
    ds = "{http://www.w3.org/2000/09/xmldsig#}"
    encrypted = etree.Element(SAML + "EncryptedAssertion")
    data = etree.SubElement(encrypted, x + "EncryptedData", Type=XENC + "Element")
    etree.SubElement(data, x + "EncryptionMethod", Algorithm=data_algorithm)
    key_info = etree.SubElement(data, ds + "KeyInfo")
    encrypted_key = etree.SubElement(key_info, x + "EncryptedKey")
    method = etree.SubElement(encrypted_key, x + "EncryptionMethod", Algorithm=transport)
    if key_transport == "rsa-oaep-sha256":
        etree.SubElement(method, ds + "DigestMethod", Algorithm=XENC + "sha256")
        etree.SubElement(method, "{" + XENC11 + "}MGF", Algorithm=XENC11 + "mgf1sha256")
    cipher = etree.SubElement(etree.SubElement(encrypted_key, x + "CipherData"), x + "CipherValue")
    cipher.text = base64.b64encode(wrapped).decode()
    cipher = etree.SubElement(etree.SubElement(data, x + "CipherData"), x + "CipherValue")
    cipher.text = base64.b64encode(ciphertext).decode()
    return encrypted


def _encrypted_real(
    login: RealLogin, key_pem: str, *, data_algorithm: str, key_transport: str
) -> str:
    root = login.tree()
    assertion = assertion_of(root)
    root.replace(
        assertion,
        _encrypt(assertion, key_pem, data_algorithm=data_algorithm, key_transport=key_transport),
    )
    return encode(root)


@pytest.mark.parametrize(
    ("data_algorithm", "key_transport"),
    [
        (XENC11 + "aes256-gcm", "rsa-oaep-mgf1p"),
        (XENC11 + "aes128-gcm", "rsa-oaep-sha256"),
        (XENC + "aes256-cbc", "rsa-oaep-sha256"),
    ],
)
def test_other_algorithms_idps_use_are_decrypted(
    real_login: RealLogin, validate: Validate, data_algorithm: str, key_transport: str
) -> None:
    key_pem = saml.new_signing_key()
    crafted = _encrypted_real(
        real_login, key_pem, data_algorithm=data_algorithm, key_transport=key_transport
    )
    sp = replace(real_login.sp, decryption_keys=(key_pem,))
    assert validate(real_login, crafted, sp=sp).name_id == "alice@example.com"


def test_rsa_pkcs1_v1_5_key_transport_is_refused(real_login: RealLogin, validate: Validate) -> None:
    key_pem = saml.new_signing_key()
    crafted = _encrypted_real(
        real_login, key_pem, data_algorithm=XENC + "aes128-cbc", key_transport="rsa-1_5"
    )
    sp = replace(real_login.sp, decryption_keys=(key_pem,))
    with pytest.raises(saml.InvalidSamlEncryption):
        validate(real_login, crafted, sp=sp)


def test_an_encrypted_unsigned_assertion_is_refused(
    real_login: RealLogin, validate: Validate
) -> None:
    """Anyone can encrypt to our public key: encryption proves nothing, the signature must
    (refused as an encryption failure: a sender of unsigned ciphertext learns nothing more)."""
    key_pem = saml.new_signing_key()
    root = real_login.tree()
    assertion = assertion_of(root)
    strip_signature(assertion)
    root.replace(
        assertion,
        _encrypt(
            assertion, key_pem, data_algorithm=XENC11 + "aes256-gcm", key_transport="rsa-oaep"
        ),
    )
    sp = replace(real_login.sp, decryption_keys=(key_pem,))
    with pytest.raises(saml.InvalidSamlEncryption):
        validate(real_login, encode(root), sp=sp)


def test_an_encrypted_assertion_beside_a_plain_one_is_refused(
    real_login: RealLogin, validate: Validate
) -> None:
    key_pem = saml.new_signing_key()
    root = real_login.tree()
    assertion = assertion_of(root)
    assertion.addnext(
        _encrypt(assertion, key_pem, data_algorithm=XENC11 + "aes256-gcm", key_transport="rsa-oaep")
    )
    sp = replace(real_login.sp, decryption_keys=(key_pem,))
    with pytest.raises(saml.InvalidSamlResponseXml):
        validate(real_login, encode(root), sp=sp)


def test_our_metadata_offers_the_encryption_certificate(encrypted_login: EncryptedLogin) -> None:
    root = etree.fromstring(saml.sp_metadata(encrypted_login.login.sp).encode())
    uses = [k.get("use") for k in root.iter("{urn:oasis:names:tc:SAML:2.0:metadata}KeyDescriptor")]
    assert uses == ["encryption"]


def test_a_signed_response_with_an_encrypted_assertion_is_accepted(
    saml_idp: SimpleSamlIdp,
) -> None:
    """The Response's signature is verified first (over the ciphertext), then decrypted."""
    key_pem = saml.new_signing_key()
    certificate = saml.signing_certificate(key_pem, now=datetime.now(UTC))
    sp = saml.ServiceProvider(
        "https://antechamber.test/saml/encrypted-signed",
        "https://antechamber.test/v1/b2b/sso/callback/saml-connection-test-es",
        decryption_keys=(key_pem,),
    )
    saml_idp.add_sp(
        sp.entity_id, sp.acs_url, sign_response=True, encryption_certificate=certificate
    )
    idp = saml.parse_idp_metadata(saml_idp.metadata_xml())
    request_id = saml.new_request_id()
    now = datetime.now(UTC)
    url = saml.authn_request_redirect(sp, idp, request_id=request_id, relay_state=None, now=now)
    posted = saml_idp.login(url, "bob", "bob-password")
    root = etree.fromstring(base64.b64decode(posted.saml_response))
    assert root.find("ds:Signature", NS) is not None
    assert root.find("saml:EncryptedAssertion", NS) is not None
    assertion = saml.validate_response(
        posted.saml_response, sp, idp, expected_request_id=request_id, now=now
    )
    assert assertion.name_id == "bob@other.example"
    tampered = _cipher_value(root)
    tampered.text = base64.b64encode(b"x" * 64).decode()
    with pytest.raises(saml.InvalidSamlSignature):
        saml.validate_response(encode(root), sp, idp, expected_request_id=request_id, now=now)
