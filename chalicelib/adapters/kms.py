"""Webhook signing secrets encrypted with the stage's KMS key, each bound to its endpoint.

A secret is small (a `whsec_` string well under KMS's 4 KB plaintext limit), so it is encrypted
directly with `Encrypt` rather than with a data key (an envelope would add a local cipher library
to the Lambda package for no gain). The encryption context names the endpoint and its owner:
a ciphertext copied onto another endpoint's item does not decrypt there. Locally the emulator's
KMS plays the key.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any


class KmsSecretBox:
    """`SecretBox` on KMS Encrypt/Decrypt; the sealed form is the base64 ciphertext blob."""

    def __init__(self, client: Any, key_id: str) -> None:
        self._client = client
        self._key_id = key_id

    def seal(self, secret: str, context: Mapping[str, str]) -> str:
        blob = self._client.encrypt(
            KeyId=self._key_id, Plaintext=secret.encode(), EncryptionContext=dict(context)
        )["CiphertextBlob"]
        return base64.b64encode(blob).decode("ascii")

    def open(self, sealed: str, context: Mapping[str, str]) -> str:
        plaintext = self._client.decrypt(
            KeyId=self._key_id, CiphertextBlob=base64.b64decode(sealed), EncryptionContext=dict(context)
        )["Plaintext"]
        return bytes(plaintext).decode()
