"""Config loading: every mistake is one line naming the key or file, exit code 2 from the CLI."""

import textwrap
from pathlib import Path

import pytest

from vigil.cli import main
from vigil.config import load_site
from vigil.errors import ConfigError

PIPELINE = """\
detector:
  weights: model.onnx
  imgsz: 640
"""

SITE = """\
site: t
pipeline: p
database: sqlite:///x.db
cameras:
  - id: cam1
    source: clip.mp4
    lines:
      - name: l1
        points: [[0, 10], [100, 10]]
"""


def write(tmp_path: Path, site: str = SITE, pipeline: str = PIPELINE) -> Path:
    (tmp_path / "pipelines").mkdir(exist_ok=True)
    (tmp_path / "pipelines" / "p.yaml").write_text(pipeline)
    (tmp_path / "configs").mkdir(exist_ok=True)
    path = tmp_path / "configs" / "site.yaml"
    path.write_text(textwrap.dedent(site))
    return path


def test_valid_config_loads_and_resolves_relative_paths(tmp_path):
    cfg = load_site(write(tmp_path))
    assert cfg.site.cameras[0].lines[0].in_side == "right"
    assert cfg.pipeline.detector.weights == "model.onnx" and cfg.pipeline.name == "p"
    assert cfg.pipeline_path == (tmp_path / "pipelines" / "p.yaml").resolve()
    assert cfg.source_of(cfg.site.cameras[0]) == str((tmp_path / "configs" / "clip.mp4").resolve())


@pytest.mark.parametrize("site, pipeline, expected", [
    (SITE.replace("site: t", "site: t\nfoo: 1"), PIPELINE, "unknown key 'foo' at top level"),
    (SITE.replace("    source: clip.mp4", "    source: clip.mp4\n    sorce: x"), PIPELINE,
     "unknown key 'sorce' at cameras.0"),
    (SITE.replace("[[0, 10], [100, 10]]", "[[0, 10], [0, 10]]"), PIPELINE, "are the same"),
    (SITE.replace("[[0, 10], [100, 10]]", "[[-5, 10], [100, 10]]"), PIPELINE, "negative coordinate -5"),
    (SITE.replace("[[0, 10], [100, 10]]", "[[0, 10]]"), PIPELINE, "cameras.0.lines.0.points"),
    # the unknown key is the news even when a required key is then missing or bad (issue 17)
    (SITE.replace("cameras:", "cameras: []\nx:").split("\n  - id")[0], PIPELINE, "unknown key 'x' at top level"),
    (SITE.replace("cameras:", "camras:"), PIPELINE, "unknown key 'camras' at top level"),
    (SITE.replace("cameras:", "cameras: []").split("\n  - id")[0], PIPELINE, "cameras"),
    (SITE + "  - id: cam1\n    source: b.mp4\n", PIPELINE, "camera id 'cam1' is used twice"),
    (SITE, PIPELINE + "  imgsz: 10\n", "key 'imgsz' is given twice"),
    (SITE, PIPELINE.replace("imgsz: 640", "imgsz: 640\n  classes: [car, plane]"), "unknown class 'plane'"),
    (SITE, PIPELINE + "tracker:\n  max_lost_secs: 2\n", "unknown key 'max_lost_secs' at tracker"),
    (SITE, "detector: {}\n", "missing required key 'detector.weights'"),
    (SITE.replace("pipeline: p", "pipeline: nope"), PIPELINE, "pipeline 'nope' not found"),
    ("cameras: [\n", PIPELINE, "invalid YAML"),
    ("- just\n- a list\n", PIPELINE, "expected a mapping"),
])
def test_config_errors_are_one_line(tmp_path, site, pipeline, expected):
    path = write(tmp_path, site, pipeline)
    with pytest.raises(ConfigError) as err:
        load_site(path)
    msg = str(err.value)
    assert expected in msg
    assert "\n" not in msg
    assert str(tmp_path) in msg  # names the file


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_site(tmp_path / "nope.yaml")


def test_cli_exit_code_2_and_one_line(tmp_path, capsys):
    path = write(tmp_path, SITE.replace("site: t", "site: t\nfoo: 1"))
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "unknown key 'foo'" in err[0]


def test_cli_missing_video_names_it(tmp_path, capsys):
    path = write(tmp_path)
    assert main(["replay", str(path), str(tmp_path / "missing.mp4")]) == 2
    assert "missing.mp4" in capsys.readouterr().err


def test_cli_usage_error_is_nonzero(capsys):
    assert main(["replay"]) != 0
    assert main(["no-such-command"]) != 0


def test_a_missing_pipeline_names_each_place_looked_in_once(tmp_path, monkeypatch):
    """The site's folder is often the working folder: its pipelines/ was listed twice."""
    from vigil.config.load import find_pipeline

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIGIL_PIPELINES", raising=False)
    with pytest.raises(ConfigError) as err:
        find_pipeline("nope", tmp_path)
    looked = str(err.value).split("looked in: ")[1].split(". Name")[0].split(", ")
    assert looked == [str(tmp_path.parent / "pipelines" / "nope.yaml"), str(tmp_path / "pipelines" / "nope.yaml")]


def test_readme_config_snippets_match_the_real_files():
    """The README's configs/demo.yaml snippet shows the real lines, and its thermal: example is a
    valid ThermalConfig (a new user copies both)."""
    import re

    import yaml

    from vigil.config.fusion import ThermalConfig

    repo = Path(__file__).resolve().parents[2]
    blocks = re.findall(r"```yaml\n(.*?)```", (repo / "README.md").read_text(), re.S)
    demo = next(yaml.safe_load(b) for b in blocks if b.startswith("# configs/demo.yaml"))
    real = yaml.safe_load((repo / "configs" / "demo.yaml").read_text())
    assert demo["cameras"][0]["lines"] == real["cameras"][0]["lines"]
    thermal = next(yaml.safe_load(b) for b in blocks if "thermal:" in b and "homography" in b)
    ThermalConfig.model_validate(thermal[0]["thermal"])
