"""[connectors.<name>] tables: each kind's keys, one clear error naming the key."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.credentials import CredentialError, hub_key, remote_auth
from hub.config import CONNECTOR_KEYS, ConfigError, ConnectorSettings, load_settings

EXAMPLE = Path(__file__).parents[3] / "config.example.toml"
PULL = 'kind = "taxii-pull"\nurl = "https://taxii.example/api1/"\ncollection = "c"\n'


def load(tmp_path: Path, text: str) -> tuple[ConnectorSettings, ...]:
    path = tmp_path / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(str(path), env={}).connectors


def test_each_kind_loads_with_its_defaults(tmp_path: Path) -> None:
    pull, push, folder = load(
        tmp_path,
        f'[connectors.cert]\n{PULL}hub_key_env = "K"\ntypes = ["indicator"]\n'
        '[connectors.out]\nkind = "taxii-push"\nurl = "https://d.example/api/"\n'
        'collection = "x"\nhub_collection = "members"\nhub_key_file = "k"\n'
        'username = "u"\npassword_env = "P"\n'
        '[connectors.drop]\nkind = "directory"\npath = "drop"\nhub_key_file = "k"\ntlp = "green"\n',
    )
    assert (pull.name, pull.kind, pull.types, pull.hub_collection) == (
        "cert",
        "taxii-pull",
        ("indicator",),
        "inbox",
    )
    assert (push.kind, push.hub_collection, push.username) == ("taxii-push", "members", "u")
    assert (folder.kind, folder.path, folder.tlp, folder.interval_seconds) == (
        "directory",
        "drop",
        "green",
        300,
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('kind = "ftp"\n', r"connectors\.x\.kind: one of taxii-pull, taxii-push, directory"),
        ('kind = "taxii-pull"\nhub_key_env = "K"\n', r"connectors\.x\.url: required"),
        (PULL, r"connectors\.x\.hub_key_file: name the file"),
        (PULL + 'hub_key_env = "K"\npassword = "hunter2"\n', r"x\.password: never put a secret"),
        (PULL + 'hub_key = "id:secret"\n', r"connectors\.x\.hub_key: never put a secret"),
        (PULL + 'hub_key_env = "K"\npath = "drop"\n', r"x\.path: not a setting of a taxii-pull"),
        (PULL + 'hub_key_env = "K"\nsurprise = 1\n', r"connectors\.x\.surprise: unknown setting"),
        (PULL + 'hub_key_env = "K"\nhub_key_file = "f"\n', r"x\.hub_key_file: give hub_key_file"),
        (PULL + 'hub_key_env = "K"\npassword_env = "P"\n', r"x\.username: a username and a"),
        (
            PULL + 'hub_key_env = "K"\nusername = "u"\npassword_env = "P"\ntoken_env = "T"\n',
            r"x\.token_file: a token or a username",
        ),
        (PULL + 'hub_key_env = "K"\ninterval_seconds = 0\n', r"x\.interval_seconds: at least 1"),
        (PULL + 'hub_key_env = "K"\npage_size = "many"\n', r"x\.page_size: expected an integer"),
        (PULL + 'hub_key_env = "K"\ntlp = "purple"\n', r"connectors\.x\.tlp: one of clear"),
        (PULL + 'hub_key_env = "K"\nadded_after = "yesterday"\n', r"x\.added_after: a STIX"),
        (PULL + 'hub_key_env = "K"\nhub_url = "hub.example"\n', r"x\.hub_url: an http"),
        (
            'kind = "taxii-pull"\nurl = "https://u:p@taxii.example/"\ncollection = "c"\n'
            'hub_key_env = "K"\n',
            r"connectors\.x\.url: no credentials in a URL",
        ),
        (
            'kind = "taxii-push"\nurl = "https://d.example/"\ncollection = "c"\n'
            'hub_key_env = "K"\n',
            r"connectors\.x\.hub_collection: the hub feed to forward",
        ),
        ('kind = "directory"\nhub_key_env = "K"\n', r"connectors\.x\.path: required"),
    ],
)
def test_a_bad_connector_table_names_the_key(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, f"[connectors.x]\n{table}")


def test_a_bad_name_and_an_unknown_connector_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"connectors\.Bad Name: a name is"):
        load(tmp_path, f'[connectors."Bad Name"]\n{PULL}hub_key_env = "K"\n')
    path = tmp_path / "hub.toml"
    path.write_text(f'[connectors.cert]\n{PULL}hub_key_env = "K"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"connectors\.nope: no such connector \(cert\)"):
        load_settings(str(path), env={}).connector("nope")


def test_the_example_file_documents_every_connector_setting_and_kind() -> None:
    """config.example.toml has a commented example of each kind, and each parses."""
    text = EXAMPLE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^#\s+([a-z_]+) = ", text, flags=re.MULTILINE))
    every = set().union(*CONNECTOR_KEYS.values())
    assert every <= documented, f"undocumented: {sorted(every - documented)}"
    blocks = re.findall(r"^# (\[connectors\.[^\n]+\]\n(?:# [a-z_]+ = [^\n]*\n)+)", text, re.M)
    uncommented = "\n".join(re.sub(r"^# ", "", block, flags=re.MULTILINE) for block in blocks)
    kinds = {c.kind for c in load_settings_text(uncommented)}
    assert kinds == set(CONNECTOR_KEYS)


def load_settings_text(text: str) -> tuple[ConnectorSettings, ...]:
    # Comments after values (`key = "v"  # why`) are TOML comments: the text parses as is.
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hub.toml"
        path.write_text(text, encoding="utf-8")
        return load_settings(str(path), env={}).connectors


def test_secrets_come_from_files_and_env_and_are_never_shown(tmp_path: Path) -> None:
    (tmp_path / "hub.key").write_text("key123:s3cret-value\n", encoding="utf-8")
    path = tmp_path / "hub.toml"
    path.write_text(
        f'[connectors.cert]\n{PULL}hub_key_file = "hub.key"\nusername = "u"\n'
        'password_env = "CERT_PASSWORD"\n',
        encoding="utf-8",
    )
    settings = load_settings(str(path), env={})
    cfg = settings.connector("cert")
    key = hub_key(settings, cfg, env={})
    assert (key.key_id, key.secret) == ("key123", "s3cret-value")
    assert "s3cret" not in repr(key)
    with pytest.raises(CredentialError, match=r"cert\.password_env: .*CERT_PASSWORD is unset"):
        remote_auth(settings, cfg, env={})
    assert remote_auth(settings, cfg, env={"CERT_PASSWORD": "pw"}) is not None
    (tmp_path / "hub.key").write_text("no-colon\n", encoding="utf-8")
    with pytest.raises(CredentialError, match=r"cert\.hub_key: the key must read KEYID:SECRET"):
        hub_key(settings, cfg, env={})
    (tmp_path / "hub.key").unlink()
    with pytest.raises(CredentialError, match=r"cert\.hub_key_file: cannot read .*hub\.key"):
        hub_key(settings, cfg, env={})


def test_connectors_reach_the_hub_only_over_http() -> None:
    """Importing every connector module loads neither the hub's storage, its services, Flask
    nor SQLAlchemy (checked in a fresh interpreter)."""
    code = (
        "import sys\n"
        "import connectors.runner, connectors.status, connectors.directory, connectors.misp\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy') or "
        "m.startswith(('hub.storage', 'hub.services', 'hub.taxii', 'hub.api'))]\n"
        "print(','.join(sorted(bad)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
