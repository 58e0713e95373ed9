"""The ``deltaprop explain`` command, run in-process through ``main``."""

from __future__ import annotations

import itertools
import json

import pytest

from deltaprop.cli import main


def test_explain_prints_the_worked_example(capsys):
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("deltaprop explain: one step of backpropagation")
    assert "network: 2 inputs -> 2 sigmoid -> 1 sigmoid; loss: squared_error" in out
    assert "learning_rate 0.5" in out
    # Mazur's published error and updated w5
    assert "0.274811" in out and "0.358916" in out


def test_explain_json_and_markdown(capsys):
    assert main(["explain", "--format", "json", "--steps", "5"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["loss"] == pytest.approx(0.274811083, abs=1e-9)
    assert data["layers"][1]["d_weights"][0][0] == pytest.approx(0.082167041, abs=1e-9)
    curve = data["loss_curve"]
    assert len(curve) == 5 and curve[0] == data["loss"]
    assert all(b < a for a, b in itertools.pairwise(curve))

    assert main(["explain", "--format", "markdown", "--learning-rate", "0.1"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("## deltaprop explain")
    assert "learning_rate 0.1" in md


def test_explain_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "worked.png"
    assert main(["explain", "--png", str(path)]) == 0
    assert path.read_bytes()[:4] == b"\x89PNG"
    captured = capsys.readouterr()
    assert f"wrote {path}" in captured.err
    assert main(["explain", "--png", str(tmp_path / "missing" / "x.png")]) == 2
    assert "cannot write --png" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["explain", "model.npz", "data.csv", "--row", "3"], ["explain", "--row", "0"]],
)
def test_explaining_a_saved_model_is_not_available_yet(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "needs the 'train' command" in err


def test_explain_bad_options(capsys):
    assert main(["explain", "--steps", "0"]) == 2
    assert "steps must be >= 1" in capsys.readouterr().err
    assert main(["explain", "--format", "yaml"]) == 2
    assert main(["explain", "--learning-rate", "-1"]) == 2
    assert "learning_rate must be > 0" in capsys.readouterr().err
