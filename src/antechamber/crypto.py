"""Encryption at rest for the few secrets we must be able to read back (outbox payloads, later
TOTP seeds): AES-256-GCM under a key derived from ANTECHAMBER_SECRET_KEY, one key per purpose.

A database dump alone reveals nothing sealed here; the key never enters the database.
"""

from __future__ import annotations

import base64
import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class Unsealable(Exception):
    """The ciphertext was not sealed with this key and purpose (or was tampered with)."""


# Derived once per (key, purpose) in a process, with its cipher object: the derivation cost
# showed on every message sent, and the server key it comes from is in the process's memory
# anyway. (An AESGCM object holds only its key; each call makes its own context, so threads
# share it.)
@functools.lru_cache(maxsize=32)
def _cipher(server_key: bytes, purpose: str) -> AESGCM:
    return AESGCM(
        HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"antechamber", info=purpose.encode()
        ).derive(server_key)
    )


def seal(server_key: bytes, purpose: str, plaintext: bytes) -> str:
    nonce = os.urandom(12)
    sealed = _cipher(server_key, purpose).encrypt(nonce, plaintext, purpose.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(server_key: bytes, purpose: str, token: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(token.encode())
        return _cipher(server_key, purpose).decrypt(raw[:12], raw[12:], purpose.encode())
    except (InvalidTag, ValueError) as exc:
        raise Unsealable(str(exc)) from None
