"""RSA key pairs for local actors, kept as loaded key objects."""

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

KEY_SIZE = 2048


def generate_key_pair() -> tuple[str, str]:
    """Return a new RSA-2048 key pair as (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return private_pem, public_pem_of(key)


def public_pem_of(key: PrivateKeyTypes) -> str:
    """Return the SubjectPublicKeyInfo PEM of a private key's public half."""
    return (
        key.public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )


class PrivateKeyCache:
    """Loaded private keys by account id.

    Loading a PEM with validation costs tens of milliseconds, while a signature
    with a loaded RSA-2048 key costs about 0.3 ms, so each key is loaded once.
    """

    def __init__(self) -> None:
        self._keys: dict[int, PrivateKeyTypes] = {}

    def get(self, account_id: int, pem: str) -> PrivateKeyTypes:
        key = self._keys.get(account_id)
        if key is None:
            key = serialization.load_pem_private_key(pem.encode(), password=None)
            self._keys[account_id] = key
        return key
