"""Engine settings from a file (a mounted ConfigMap): partial files, overrides and errors that name the field."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.config import ConfigError, EngineConfig, load_config
from serve.cli import app


def test_a_partial_file_keeps_every_other_default(tmp_path: Path) -> None:
    f = tmp_path / "engine.yaml"
    f.write_text("reasoner:\n  backend: vllm\n  vllm:\n    model: my-model\ncorrelation:\n  group_window_s: 600\n")
    cfg = load_config(f)
    assert cfg.reasoner.backend == "vllm" and cfg.reasoner.vllm.model == "my-model"
    assert cfg.correlation.group_window_s == 600
    assert cfg.collect == EngineConfig().collect


def test_overrides_win_over_the_file(tmp_path: Path) -> None:
    f = tmp_path / "engine.json"
    f.write_text('{"data_dir": "/from/file", "remediation_mode": "auto"}')
    cfg = load_config(f, data_dir=tmp_path, remediation_mode=None)
    assert cfg.data_dir == tmp_path and cfg.remediation_mode == "auto"


@pytest.mark.parametrize(("text", "field"), [
    ("correlation:\n  group_window_s: -5\n", "correlation.group_window_s"),
    ("reasoner:\n  backend: gpt\n", "reasoner.backend"),
    ("no_such_setting: 1\n", "no_such_setting"),
    ("- a list\n", "mapping"),
    ("key: [unclosed\n", "not valid YAML"),
])
def test_a_bad_file_names_what_is_wrong(tmp_path: Path, text: str, field: str) -> None:
    f = tmp_path / "engine.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_config(f)


def test_serve_refuses_a_bad_config_before_starting_anything(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("clusters:\n  - name: a\n    dump: .\n")
    bad = tmp_path / "engine.yaml"
    bad.write_text("reasoner:\n  backend: gpt\n")
    result = CliRunner().invoke(app, ["serve", "--fleet", str(fleet), "--config", str(bad)])
    assert result.exit_code == 2
    assert "reasoner.backend" in result.output
