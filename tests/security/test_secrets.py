"""Production by default (issue 9): no service starts on a published or short secret unless
`APP_ENV=development`; `.env` gets real secrets once and keeps them; Fernet key lists rotate."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from common.crypto import DecryptionError, FieldCipher, legacy_key
from common.secret_rules import problems
from common.settings import DEV_SECRETS, ROOT, Settings, SettingsError
from tools import secrets_env
from tools.services import free_port


@pytest.fixture()
def bare_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment with no secret and no APP_ENV, as a deployment that forgot them."""
    for name in [*DEV_SECRETS, "APP_ENV"]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_app_env_the_placeholders_stop_the_process_and_are_named(bare_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env()
    message = str(refused.value)
    assert "APP_ENV=production" in message
    for name in DEV_SECRETS:
        assert name in message


def test_a_short_secret_is_refused_and_named(bare_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in secrets_env.ensure(tmp_path / ".env").items():
        bare_env.setenv(name, value)
    bare_env.delenv("APP_ENV")
    Settings.from_env()  # the generated secrets pass in production
    bare_env.setenv("LINK_SIGNING_KEY", "short-but-not-a-placeholder")
    with pytest.raises(SettingsError, match="LINK_SIGNING_KEY is shorter than 32"):
        Settings.from_env()


def test_a_published_fernet_key_or_client_key_is_refused_outside_development() -> None:
    found = problems({"DATA_ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},{DEV_SECRETS['DATA_ENCRYPTION_KEYS']}",
                      "CASE_API_KEYS": "actions:" + "a" * 40 + ",staff:change-me-staff-key"}, strict=True)
    assert found == ["DATA_ENCRYPTION_KEYS item 2 is a published placeholder",
                     "CASE_API_KEYS item 2 is a published placeholder"]


def test_development_accepts_placeholders_but_never_a_malformed_key(bare_env: pytest.MonkeyPatch) -> None:
    bare_env.setenv("APP_ENV", "development")
    assert Settings.from_env().secret_list("DATA_ENCRYPTION_KEYS") == (DEV_SECRETS["DATA_ENCRYPTION_KEYS"],)
    bare_env.setenv("DATA_ENCRYPTION_KEYS", "a passphrase, hashed once")
    with pytest.raises(SettingsError, match="DATA_ENCRYPTION_KEYS item 1 is not a Fernet key"):
        Settings.from_env()
    bare_env.setenv("DATA_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    bare_env.setenv("CASE_API_KEYS", "root:" + "k" * 40)
    with pytest.raises(SettingsError, match="CASE_API_KEYS item 1 must be role:key"):
        Settings.from_env()


def test_the_env_file_is_generated_once_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    first = secrets_env.ensure(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(DEV_SECRETS) <= set(first) and first["APP_ENV"] == "development"
    assert problems({name: first[name] for name in DEV_SECRETS}, strict=True) == []
    assert secrets_env.ensure(path) == first  # kept, not regenerated
    # One key per client, each listed under its role; the case API's data key is not the assistant's.
    assert first["CASE_API_KEYS"] == (
        f"actions:{first['CASE_API_ACTIONS_KEY']},gateway:{first['CASE_API_GATEWAY_KEY']},"
        f"staff:{first['CASE_API_STAFF_KEY']}"
    )
    assert len({first["CASE_API_ACTIONS_KEY"], first["CASE_API_GATEWAY_KEY"], first["CASE_API_STAFF_KEY"]}) == 3
    assert first["DATA_ENCRYPTION_KEYS"] != first["CASE_DATA_ENCRYPTION_KEYS"]
    # A secret deleted from the file (or added to the code later) is generated, the rest kept.
    kept = [line for line in path.read_text().splitlines() if not line.startswith("LINK_SIGNING_KEY=")]
    path.write_text("\n".join(kept) + "\n")
    again = secrets_env.ensure(path)
    assert again["LINK_SIGNING_KEY"] != first["LINK_SIGNING_KEY"]
    assert {k: v for k, v in again.items() if k != "LINK_SIGNING_KEY"} == \
        {k: v for k, v in first.items() if k != "LINK_SIGNING_KEY"}


def test_the_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_AUTH_TOKEN", "t" * 40)
    assert secrets_env.environment(tmp_path / ".env")["RASA_AUTH_TOKEN"] == "t" * 40


def test_key_lists_rotate_and_a_legacy_passphrase_key_stays_readable() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = FieldCipher([old]).encrypt("440802198003120310")
    both = FieldCipher([new, old])
    assert both.decrypt(token) == "440802198003120310"
    rotated = both.rotate(token)
    assert FieldCipher([new]).decrypt(rotated) == "440802198003120310"
    with pytest.raises(DecryptionError):
        FieldCipher([new]).decrypt(token)
    # Data the old code sealed under a passphrase: list the key it derived, then rotate.
    legacy = legacy_key("change-me-data-encryption-key")
    assert FieldCipher([new, legacy]).decrypt(FieldCipher([legacy]).encrypt("x")) == "x"
    with pytest.raises(ValueError):
        FieldCipher(["change-me-data-encryption-key"])


def test_a_service_started_without_app_env_refuses_and_names_the_secrets() -> None:
    env = {name: value for name, value in os.environ.items() if name not in {*DEV_SECRETS, "APP_ENV"}}
    env["VAR_DIR"] = tempfile.mkdtemp(prefix="refusing-")
    started = subprocess.run(
        [sys.executable, "-m", "cases.main", "--port", str(free_port())], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert started.returncode != 0
    assert "refusing to start with APP_ENV=production" in started.stderr
    assert "CASE_API_KEYS item 1 is a published placeholder" in started.stderr


def test_an_old_development_var_stays_readable_and_its_key_is_refused_in_production(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "rasa_tracker.db").write_bytes(b"")
    generated = secrets_env.ensure(tmp_path / ".env")
    new, old = generated["DATA_ENCRYPTION_KEYS"].split(",")
    assert old == legacy_key("change-me-data-encryption-key") != new
    sealed_before = FieldCipher([old]).encrypt("13800138000")
    assert FieldCipher([new, old]).decrypt(sealed_before) == "13800138000"
    assert problems({"DATA_ENCRYPTION_KEYS": generated["DATA_ENCRYPTION_KEYS"]}, strict=False) == []
    assert problems({"DATA_ENCRYPTION_KEYS": generated["DATA_ENCRYPTION_KEYS"]}, strict=True) == [
        "DATA_ENCRYPTION_KEYS item 2 is a published placeholder"
    ]
