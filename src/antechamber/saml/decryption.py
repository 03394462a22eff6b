"""Decrypting an EncryptedAssertion (XML Encryption 1.1) with the connection's private keys.

Supported, as IdPs send them: the content key wrapped by RSA-OAEP (`xmlenc#rsa-oaep-mgf1p`, or
`xmlenc11#rsa-oaep` with its DigestMethod and MGF), and the assertion encrypted by AES-CBC
(128/192/256) or AES-GCM (128/192/256). RSA PKCS#1 v1.5 key transport is refused
(Bleichenbacher's attack makes it an oracle). Every failure raises the same error with the
same message, so a sender learns nothing about where decryption failed (the CBC padding
oracle of Jager and Somorovsky); a signed Response is verified before anything is decrypted
(`response.py`), so its ciphertext cannot be tampered with at all."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree

from antechamber.saml.errors import InvalidSamlEncryption
from antechamber.saml.signing_keys import InvalidSigningKey, load_signing_key
from antechamber.saml.xml import NS, SAML, UnsafeXml, parse, text

XENC: Final = "http://www.w3.org/2001/04/xmlenc#"
XENC11: Final = "http://www.w3.org/2009/xmlenc11#"
_NS: Final = {**NS, "xenc11": XENC11}

_CBC: Final = {XENC + "aes128-cbc": 16, XENC + "aes192-cbc": 24, XENC + "aes256-cbc": 32}
_GCM: Final = {XENC11 + "aes128-gcm": 16, XENC11 + "aes192-gcm": 24, XENC11 + "aes256-gcm": 32}
_DIGESTS: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "http://www.w3.org/2000/09/xmldsig#sha1": hashes.SHA1,
    "http://www.w3.org/2001/04/xmlenc#sha256": hashes.SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": hashes.SHA384,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashes.SHA512,
}
_MGFS: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    XENC11 + "mgf1sha1": hashes.SHA1,
    XENC11 + "mgf1sha256": hashes.SHA256,
    XENC11 + "mgf1sha384": hashes.SHA384,
    XENC11 + "mgf1sha512": hashes.SHA512,
}


class _Failed(Exception):
    pass


def load_decryption_keys(pems: Sequence[str]) -> list[rsa.RSAPrivateKey]:
    """The usable keys among `pems` (PKCS#1 PEM RSA, as Stytch's
    `saml_encryption_private_key`); one bad entry does not lock the others out."""
    keys: list[rsa.RSAPrivateKey] = []
    for pem in pems:
        try:
            keys.append(load_signing_key(pem))
        except InvalidSigningKey:
            continue
    return keys


def decrypt_assertion(
    encrypted: etree._Element, keys: Sequence[rsa.RSAPrivateKey], *, max_bytes: int
) -> etree._Element:
    """The saml:Assertion inside `encrypted` (a saml:EncryptedAssertion), parsed with the
    same hardening as the response, or `InvalidSamlEncryption`."""
    try:
        return _decrypt(encrypted, keys, max_bytes)
    except (_Failed, UnsafeXml, ValueError, TypeError, binascii.Error, InvalidTag) as e:
        raise InvalidSamlEncryption() from e


def _decrypt(
    encrypted: etree._Element, keys: Sequence[rsa.RSAPrivateKey], max_bytes: int
) -> etree._Element:
    data = encrypted.find("xenc:EncryptedData", _NS)
    if data is None:
        raise _Failed
    method = data.find("xenc:EncryptionMethod", _NS)
    algorithm = method.get("Algorithm") if method is not None else None
    if algorithm not in _CBC and algorithm not in _GCM:
        raise _Failed
    cipher_value = data.find("xenc:CipherData/xenc:CipherValue", _NS)
    ciphertext = base64.b64decode("".join((text(cipher_value) or "").split()), validate=True)
    wrapped = data.findall("ds:KeyInfo/xenc:EncryptedKey", _NS) + encrypted.findall(
        "xenc:EncryptedKey", _NS
    )
    size = _CBC.get(algorithm) or _GCM[algorithm]
    for encrypted_key in wrapped:
        for key in keys:
            try:
                content_key = _unwrap(encrypted_key, key)
            except (_Failed, ValueError):
                continue
            if len(content_key) != size:
                continue
            plaintext = _content(algorithm, content_key, ciphertext)
            assertion = parse(plaintext, max_bytes=max_bytes)
            if assertion.tag != SAML + "Assertion":
                raise _Failed
            return assertion
    raise _Failed


def _unwrap(encrypted_key: etree._Element, key: rsa.RSAPrivateKey) -> bytes:
    method = encrypted_key.find("xenc:EncryptionMethod", _NS)
    if method is None:
        raise _Failed
    algorithm = method.get("Algorithm")
    digest_method = method.find("ds:DigestMethod", _NS)
    digest = _DIGESTS.get(
        digest_method.get("Algorithm") or "" if digest_method is not None else NS["ds"] + "sha1"
    )
    if algorithm == XENC + "rsa-oaep-mgf1p":
        mgf: type[hashes.HashAlgorithm] | None = hashes.SHA1
    elif algorithm == XENC11 + "rsa-oaep":
        mgf_element = method.find("xenc11:MGF", _NS)
        mgf = (
            _MGFS.get(mgf_element.get("Algorithm") or "")
            if mgf_element is not None
            else hashes.SHA1
        )
    else:
        raise _Failed  # rsa-1_5 included: refused
    if digest is None or mgf is None:
        raise _Failed
    label_element = method.find("xenc:OAEPparams", _NS)
    label = base64.b64decode(text(label_element) or "") if label_element is not None else None
    value = encrypted_key.find("xenc:CipherData/xenc:CipherValue", _NS)
    wrapped = base64.b64decode("".join((text(value) or "").split()), validate=True)
    return key.decrypt(
        wrapped,
        padding.OAEP(mgf=padding.MGF1(mgf()), algorithm=digest(), label=label or None),
    )


def _content(algorithm: str, content_key: bytes, ciphertext: bytes) -> bytes:
    if algorithm in _GCM:
        if len(ciphertext) < 12 + 16:
            raise _Failed
        return AESGCM(content_key).decrypt(ciphertext[:12], ciphertext[12:], None)
    if len(ciphertext) < 32 or len(ciphertext) % 16:
        raise _Failed
    decryptor = Cipher(algorithms.AES(content_key), modes.CBC(ciphertext[:16])).decryptor()
    padded = decryptor.update(ciphertext[16:]) + decryptor.finalize()
    # XML Encryption padding: the last byte says how many bytes to drop (1..16); the others
    # are arbitrary (not PKCS#7), so only the length byte is checked.
    pad = padded[-1]
    if not 1 <= pad <= 16:
        raise _Failed
    return padded[:-pad]
