"""The examples run end to end, learn (they assert so themselves) and write the plots they name."""

import os
import runpy
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_quickstart_learns_and_plots(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    runpy.run_path(os.path.join(ROOT, "examples", "quickstart.py"))["main"](epochs=4)
    out = capsys.readouterr().out
    assert "epoch 4/4" in out and "one more step by hand" in out
    png = tmp_path / "jaxnn_quickstart.png"
    assert f"training curves written to {png}" in out and png.read_bytes()[:4] == b"\x89PNG"


def test_mnist_like_reaches_its_stated_accuracy(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    example = runpy.run_path(os.path.join(ROOT, "examples", "mnist_like.py"))
    # main() asserts the docstring's 95% held-out accuracy itself.
    assert example["main"]() >= 0.95
    assert (tmp_path / "jaxnn_mnist_like.png").read_bytes()[:4] == b"\x89PNG"
    assert "held-out accuracy" in capsys.readouterr().out
