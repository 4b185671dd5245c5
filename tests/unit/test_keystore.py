"""Keystore signer: V3 keyfile loading, password sources, clear errors, redaction, dry-run."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import pytest
from eth_account import Account
from eth_keys import keys
from pydantic import SecretStr

from oracle_node.chain.anvil import ANVIL_KEYS
from oracle_node.errors import ConfigError
from oracle_node.reports.keystore import (
    DryRunSigner,
    KeystoreSigner,
    load_keystore,
    load_signer,
    read_password,
)

KEY = ANVIL_KEYS[3]
ADDRESS = Account.from_key(KEY).address
PASSWORD = "correct horse battery staple"
DIGEST = bytes(range(32))


@pytest.fixture
def keyfile(tmp_path: Path) -> Path:
    path = tmp_path / "operator.json"
    path.write_text(json.dumps(Account.encrypt(KEY, PASSWORD, kdf="scrypt", iterations=2**10)))
    return path


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password.txt"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return path


def test_load_signer__keystore_and_password_file__address_and_raw_digest_signature(
    keyfile: Path, password_file: Path
) -> None:
    signer = load_signer(keyfile, password_file=password_file)
    assert isinstance(signer, KeystoreSigner) and not signer.dry_run
    assert signer.address == ADDRESS
    v, r, s = signer.sign_digest(DIGEST)
    expected = Account.unsafe_sign_hash(DIGEST, KEY)
    assert (v, r, s) == (expected.v, expected.r, expected.s)
    recovered = keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(DIGEST)
    assert recovered.to_checksum_address() == ADDRESS
    assert signer.account.address == ADDRESS


def test_load_signer__password_from_named_env_variable__loads(keyfile: Path) -> None:
    signer = load_signer(keyfile, password_env="NODE_PW", environ={"NODE_PW": PASSWORD})
    assert signer.address == ADDRESS


def test_load_keystore__wrong_password__config_error_without_traceback_chain(keyfile: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_keystore(keyfile, SecretStr("not it"))
    assert str(err.value) == f"keystore {keyfile}: wrong password"
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert "not it" not in str(err.value)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (None, "file does not exist"),
        ("{not json", "not JSON (line 1"),
        ('{"version": 3}', "not a V3 keystore"),
        ('["crypto", "version"]', "not a V3 keystore"),
        ('{"version": 1, "crypto": {}}', "unsupported keystore version 1"),
        ('{"version": 3, "crypto": {}}', "corrupt keyfile"),
    ],
)
def test_load_keystore__missing_or_corrupt_file__config_error_names_path_and_why(
    tmp_path: Path, content: str | None, why: str
) -> None:
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as err:
        load_keystore(path, SecretStr(PASSWORD))
    assert str(err.value).startswith(f"keystore {path}: ")
    assert why in str(err.value)


def test_load_keystore__address_field_of_another_key__refused(tmp_path: Path) -> None:
    keyfile = Account.encrypt(KEY, PASSWORD, kdf="pbkdf2", iterations=1000)
    keyfile["address"] = Account.from_key(ANVIL_KEYS[0]).address[2:].lower()
    path = tmp_path / "key.json"
    path.write_text(json.dumps(keyfile))
    with pytest.raises(ConfigError, match="decrypted key is for"):
        load_keystore(path, SecretStr(PASSWORD))


def test_signer__repr_str_and_pickle__never_reveal_key(keyfile: Path, password_file: Path) -> None:
    signer = load_signer(keyfile, password_file=password_file)
    raw = KEY.removeprefix("0x")
    assert raw not in repr(signer) and raw not in str(signer)
    assert ADDRESS in repr(signer) and "key=***" in repr(signer)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer)


def test_read_password__file_trailing_newline_stripped_inner_spaces_kept(password_file: Path) -> None:
    assert read_password(password_file, None).get_secret_value() == PASSWORD
    assert "correct" not in repr(read_password(password_file, None))


@pytest.mark.parametrize(
    ("file_text", "env", "environ", "why"),
    [
        ("\n", None, None, "password file is empty"),
        (None, "MISSING_PW", {}, "environment variable MISSING_PW (password_env) is not set"),
        (None, "EMPTY_PW", {"EMPTY_PW": ""}, "environment variable EMPTY_PW (password_env) is empty"),
    ],
)
def test_read_password__empty_or_unset__config_error(
    tmp_path: Path, file_text: str | None, env: str | None, environ: dict[str, str] | None, why: str
) -> None:
    path = None
    if file_text is not None:
        path = tmp_path / "pw"
        path.write_text(file_text)
    with pytest.raises(ConfigError, match=re.escape(why)):
        read_password(path, env, environ)


def test_read_password__missing_file__config_error_names_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        read_password(tmp_path / "nope", None)
    assert str(err.value).startswith(f"password_file {tmp_path / 'nope'}: cannot read password file")


def test_read_password__both_or_neither_source__config_error(password_file: Path) -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        read_password(password_file, "X", {"X": "y"})
    with pytest.raises(ConfigError, match="exactly one"):
        read_password(None, None)


def test_load_signer__no_keystore__dry_run_signer_that_refuses_to_sign() -> None:
    signer = load_signer(None)
    assert isinstance(signer, DryRunSigner)
    assert signer.dry_run and signer.address is None
    with pytest.raises(ConfigError, match="dry-run signer cannot sign"):
        signer.sign_digest(DIGEST)


def test_sign_digest__not_32_bytes__value_error(keyfile: Path, password_file: Path) -> None:
    signer = load_signer(keyfile, password_file=password_file)
    with pytest.raises(ValueError, match="digest must be 32 bytes"):
        signer.sign_digest(b"\x00" * 31)
