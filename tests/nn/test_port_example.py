"""examples/port_from_torch.py runs and reports agreement (exit status 0)."""

import importlib.util
import pathlib

import jax


def test_port_from_torch_example_agrees():
    path = pathlib.Path(__file__).resolve().parents[2] / "examples" / "port_from_torch.py"
    spec = importlib.util.spec_from_file_location("port_from_torch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main() == 0
    assert jax.config.jax_default_matmul_precision == "highest"
