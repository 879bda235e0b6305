"""The quickstart runs end to end, learns (it asserts so itself) and writes the plot it names."""

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
