"""The operator's signing key: an eth-account V3 keystore, or a dry-run signer when none is configured.

The password comes from a file or from an environment variable whose NAME is in the config; the CLI
passes its environment in (nothing below the CLI reads os.environ). The password is held as a
SecretStr and dropped after decryption; the key never appears in repr, str or logs.

`sign_digest(digest) -> (v, r, s)` signs the raw 32-byte digest (no EIP-191 prefix); the EIP-712
encoder turns (v, r, s) into the contract's compact (r, vs) form.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keys import keys
from pydantic import SecretStr

from oracle_node.errors import ConfigError
from oracle_node.logs import get_logger

log = get_logger(__name__)

_V3_FIELDS = ("crypto", "version")


class DigestSigner(Protocol):
    @property
    def address(self) -> str | None: ...

    @property
    def dry_run(self) -> bool: ...

    def sign_digest(self, digest: bytes) -> tuple[int, int, int]: ...


class KeystoreSigner:
    """Signs raw 32-byte digests with a key decrypted from a keystore file."""

    dry_run = False

    def __init__(self, private_key: bytes, source: str) -> None:
        self._key = keys.PrivateKey(private_key)
        self._address = self._key.public_key.to_checksum_address()
        self.source = source

    @property
    def address(self) -> str:
        return self._address

    @property
    def account(self) -> LocalAccount:
        """An eth-account LocalAccount for the transaction pipeline (same key)."""
        return Account.from_key(self._key.to_bytes())

    def sign_digest(self, digest: bytes) -> tuple[int, int, int]:
        """ECDSA over the digest itself; v is 27 or 28."""
        if not isinstance(digest, bytes) or len(digest) != 32:
            raise ValueError(f"digest must be 32 bytes, got {type(digest).__name__} of length {len(digest)}")
        sig = self._key.sign_msg_hash(digest)
        return sig.v + 27, sig.r, sig.s

    def __repr__(self) -> str:
        return f"KeystoreSigner(address={self._address}, source={self.source}, key=***)"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("KeystoreSigner holds a private key and cannot be pickled")


@dataclass(frozen=True)
class DryRunSigner:
    """No key configured: signs nothing. Callers check `dry_run` and simulate instead of sending."""

    reason: str = "no keystore configured"
    dry_run: bool = True

    @property
    def address(self) -> None:
        return None

    def sign_digest(self, digest: bytes) -> tuple[int, int, int]:
        raise ConfigError(f"dry-run signer cannot sign ({self.reason}); configure signer.keystore to sign")


def read_password(
    password_file: Path | None, password_env: str | None, environ: Mapping[str, str] | None = None
) -> SecretStr:
    """The keystore password from a file (one trailing newline stripped) or a named environment variable."""
    if (password_file is None) == (password_env is None):
        raise ConfigError("give exactly one of password_file or password_env", "signer")
    if password_file is not None:
        return _password_from_file(Path(password_file))
    assert password_env is not None
    value = (environ or {}).get(password_env)
    if value is None:
        raise ConfigError(f"environment variable {password_env} (password_env) is not set", "signer")
    if value == "":
        raise ConfigError(f"environment variable {password_env} (password_env) is empty", "signer")
    return SecretStr(value)


def _password_from_file(path: Path) -> SecretStr:
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(
            f"cannot read password file ({exc.strerror or exc})", f"password_file {path}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError("password file is not UTF-8 text", f"password_file {path}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("password_file_permissions", path=str(path), mode=oct(mode & 0o777), advice="chmod 600")
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise ConfigError("password file is empty", f"password_file {path}")
    return SecretStr(text)


def load_keystore(path: str | Path, password: SecretStr) -> KeystoreSigner:
    """Decrypt a V3 keystore; ConfigError naming the path and why (missing, corrupt, wrong password)."""
    path = Path(path)
    keyfile = _read_keyfile(path)
    try:
        private_key = Account.decrypt(keyfile, password.get_secret_value())
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise ConfigError(f"keystore {path}: wrong password") from None
        raise ConfigError(f"keystore {path}: cannot decrypt ({exc})") from None
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"keystore {path}: corrupt keyfile (missing or bad field {exc})") from None
    signer = KeystoreSigner(bytes(private_key), str(path))
    declared = keyfile.get("address")
    if isinstance(declared, str) and declared.lower().removeprefix("0x") != signer.address.lower()[2:]:
        raise ConfigError(f"keystore {path}: decrypted key is for {signer.address}, file says 0x{declared}")
    return signer


def _read_keyfile(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"keystore {path}: file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"keystore {path}: cannot read ({exc})") from None
    try:
        keyfile = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"keystore {path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(keyfile, dict) or any(f not in keyfile for f in _V3_FIELDS):
        raise ConfigError(f"keystore {path}: not a V3 keystore (needs fields {', '.join(_V3_FIELDS)})")
    if keyfile.get("version") != 3:
        raise ConfigError(
            f"keystore {path}: unsupported keystore version {keyfile.get('version')!r} (need 3)"
        )
    return keyfile


def load_signer(
    keystore: Path | None,
    password_file: Path | None = None,
    password_env: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> KeystoreSigner | DryRunSigner:
    """The configured signer, or a DryRunSigner when no keystore is configured (and says so in the log)."""
    if keystore is None:
        signer = DryRunSigner()
        log.warning("signer_dry_run", reason=signer.reason)
        return signer
    signer = load_keystore(keystore, read_password(password_file, password_env, environ))
    log.info("signer_loaded", address=signer.address, keystore=str(keystore))
    return signer
