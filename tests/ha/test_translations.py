"""translations/en.json is strings.json with HA's common phrases filled in, key for key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from custom_components.mq200.sensor import SENSORS

ROOT = Path(__file__).resolve().parents[2] / "custom_components" / "mq200"


def _keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _keys(v) for k, v in node.items()}
    return None


def test_en_json_matches_strings_json() -> None:
    strings = json.loads((ROOT / "strings.json").read_text())
    english = json.loads((ROOT / "translations" / "en.json").read_text())
    assert _keys(strings) == _keys(english)
    assert "[%key:" not in (ROOT / "translations" / "en.json").read_text()


def test_every_entity_service_and_option_is_translated() -> None:
    strings = json.loads((ROOT / "strings.json").read_text())
    for description in SENSORS:
        entry = strings["entity"]["sensor"][description.translation_key]
        for option in description.options or []:
            assert option in entry["state"], (description.key, option)
    services = yaml.safe_load((ROOT / "services.yaml").read_text())
    for name, spec in services.items():
        assert set(spec["fields"]) <= set(strings["services"][name]["fields"]), name
    icons = json.loads((ROOT / "icons.json").read_text())
    assert set(icons["services"]) == set(services)
    manifest = json.loads((ROOT / "manifest.json").read_text())
    assert manifest["iot_class"] == "local_push" and manifest["config_flow"] is True
