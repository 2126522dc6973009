from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import ConfigError, load_config


def test_example_config_in_deploy_loads() -> None:
    cfg = load_config(Path(__file__).parent.parent / "deploy" / "mq200.toml")
    assert cfg.daemon.serial == "/dev/ttyAMA0"
    assert cfg.station.max_amperage_fw_a == 48


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[daemon]\nserail = 'x'\n", "daemon.serail"),
        ("[nope]\n", "unknown section [nope]"),
        ("[station]\nmax_amperage_fw_a = 99\n", "station.max_amperage_fw_a"),
        ("[station]\nplug_and_charge_id = 'short'\n", "station.plug_and_charge_id"),
        ("[twin]\nlisten_port = 'eighty'\n", "twin.listen_port"),
        ("[twin]\nmode = 'remote'\n", "remote_url"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, needle: str) -> None:
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert needle in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
