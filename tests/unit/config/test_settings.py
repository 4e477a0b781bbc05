from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import DEFAULT_COLLECTIONS, ConfigError, load_settings


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, env={})
    assert settings.server.port == 8080
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'hub.db'}"
    assert settings.collections == DEFAULT_COLLECTIONS
    assert settings.secret_path("session_key") == tmp_path / "var" / "secrets" / "session_key"


def test_file_values_and_relative_paths_follow_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = 9000\n[storage]\ndata_dir = "data"\n')
    settings = load_settings(path, env={})
    assert settings.server.port == 9000
    assert settings.data_dir == tmp_path / "data"


def test_hub_config_env_chooses_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9100\n")
    assert load_settings(None, env={"HUB_CONFIG": path}).server.port == 9100


def test_env_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9000\n[storage]\necho = false\n")
    env = {
        "HUB_SERVER_PORT": "9200",
        "HUB_STORAGE_ECHO": "yes",
        "HUB_TAXII_TITLE": "CERT hub",
        "HUB_SERVER_TRUSTED_PROXIES": "1",
    }
    settings = load_settings(path, env=env)
    assert settings.server.port == 9200
    assert settings.server.trusted_proxies == 1
    assert settings.storage.echo is True
    assert settings.taxii.title == "CERT hub"


def test_collections_from_file_replace_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[collections.energy]\ntitle = "Energy"\nkind = "trust-group"\n'
        'readers = ["industry:energy", "government"]\nwriters = ["sector:energy"]\n',
    )
    (only,) = load_settings(path, env={}).collections
    assert (only.alias, only.kind, only.readers, only.writers) == (
        "energy",
        "trust-group",
        ("industry:energy", "government"),
        ("sector:energy",),
    )


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[server]\nport = 'x'\n", {}, r"server\.port: expected an integer"),
        (
            "",
            {"HUB_SERVER_PORT": "eighty"},
            r"server\.port \(from HUB_SERVER_PORT\): expected an integer",
        ),
        ("", {"HUB_STORAGE_ECHO": "maybe"}, r"storage\.echo .*true or false"),
        ("[server]\nprot = 1\n", {}, r"server\.prot: unknown setting"),
        ("[sever]\n", {}, r"unknown section \[sever\]"),
        ("[server]\nport = 70000\n", {}, r"server\.port"),
        ("", {"HUB_SERVER_TRUSTED_PROXIES": "-1"}, r"server\.trusted_proxies"),
        ("[queue]\nheartbeat_seconds = 30\n", {}, r"queue\.worker_stale_seconds: more than"),
        ("", {"HUB_QUEUE_WORKER_FORGET_HOURS": "0"}, r"queue\.worker_forget_hours"),
        ("[storage]\nurl = 'mysql://x'\n", {}, r"storage\.url"),
        ("[taxii]\ndefault_page_size = 5000\n", {}, r"taxii\.default_page_size"),
        ("[collections.x]\nreaders = ['martians']\n", {}, r"collections\.x\.readers: 'martians'"),
        ("[collections.x]\nkind = 'bin'\n", {}, r"collections\.x\.kind"),
        ("[collections.Bad]\n", {}, r"collections\.Bad"),
        ("[server\n", {}, r"not valid TOML"),
        ("", {"HUB_SERVER_KEEPALIVE_SECONDS": "0"}, r"server\.keepalive_seconds"),
        (
            "[sharing.allowed_properties]\nindicator = ['name', 'pattern']\n",
            {},
            r"sharing\.allowed_properties\.indicator: keep type, spec_version, id, created, "
            r"modified",
        ),
        (
            "[sharing.allowed_properties]\nurl = ['type', 'id', 'value', 'x_note', 'Bad']\n",
            {},
            r"'Bad' not a STIX property name.*x_note: custom x_ properties",
        ),
        ("[sharing.allowed_properties]\nurl = []\n", {}, r"url: keep type, id"),
    ],
)
def test_bad_settings_name_the_key(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message):
        load_settings(path, env=env)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(str(tmp_path / "nope.toml"), env={})


def test_example_file_documents_every_default() -> None:
    example = Path(__file__).parents[3] / "config.example.toml"
    assert load_settings(str(example), env={}).collections == DEFAULT_COLLECTIONS
    from dataclasses import fields

    from hub.config import Settings

    defaults = Settings()
    loaded = load_settings(str(example), env={})
    for section in (
        "server",
        "storage",
        "secrets",
        "taxii",
        "ingest",
        "queue",
        "sharing",
        "retention",
        "transparency",
        "console",
    ):
        assert getattr(loaded, section) == getattr(defaults, section)
        text = example.read_text(encoding="utf-8")
        for f in fields(getattr(defaults, section)):
            assert f"\n{f.name} = " in text, f"{section}.{f.name} is not documented"


def test_every_console_setting_is_documented_in_its_section() -> None:
    from dataclasses import fields

    from hub.config import ConsoleSettings

    text = (Path(__file__).parents[3] / "config.example.toml").read_text(encoding="utf-8")
    section = text.split("\n[console]\n", 1)[1].split("\n[", 1)[0]
    lines = section.splitlines()
    for f in fields(ConsoleSettings):
        (index,) = [i for i, line in enumerate(lines) if line.startswith(f"{f.name} = ")]
        # Each setting has a comment above it (or shares the one of the setting just above).
        above = lines[index - 1]
        assert above.startswith("#") or above.split(" = ")[0] in {
            g.name for g in fields(ConsoleSettings)
        }, f"console.{f.name} has no comment"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HUB_CONSOLE_COOKIE_SAMESITE": "None"}, r"console\.cookie_samesite"),
        ({"HUB_CONSOLE_COOKIE_SECURE": "sometimes"}, r"console\.cookie_secure"),
        ({"HUB_CONSOLE_IDLE_TIMEOUT_MINUTES": "0"}, r"console\.idle_timeout_minutes"),
        ({"HUB_CONSOLE_LOCKOUT_SECONDS": "7200"}, r"console\.lockout_seconds"),
    ],
)
def test_bad_console_settings_name_the_key(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, env=env)
