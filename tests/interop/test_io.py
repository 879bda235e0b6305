"""State dicts from files: .safetensors written by torch, torch.save'd .pt with DDP
prefixes, and jaxnn -> file -> torch round trips (issue #21)."""

import pickle

import jax.numpy as jnp
import numpy as np
import pytest
import safetensors.torch
import torch
from flax import nnx

import jaxnn


def _pair():
    torch.manual_seed(0)
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2)).eval()
    j = jaxnn.Sequential(
        jaxnn.Linear(3, 4, rngs=nnx.Rngs(1)), jaxnn.BatchNorm1d(4), jaxnn.Linear(4, 2, rngs=nnx.Rngs(2))
    ).eval()
    with torch.no_grad():
        t[1].running_mean.uniform_(-1, 1)
        t[1].running_var.uniform_(0.5, 2)
    return t, j


X = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)


def _same_outputs(t, j):
    np.testing.assert_allclose(j(jnp.asarray(X)), t(torch.tensor(X)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_safetensors_written_by_torch_loads(tmp_path):
    t, j = _pair()
    path = tmp_path / "model.safetensors"
    safetensors.torch.save_file(t.state_dict(), str(path))
    jaxnn.load_state_dict(j, path)
    _same_outputs(t, j)
    assert jaxnn.state_dict(j)["1.num_batches_tracked"].dtype == np.int64


def test_ddp_checkpoint_loads_with_strip_prefix(tmp_path):
    t, j = _pair()
    path = tmp_path / "ddp.pt"
    torch.save({"module." + k: v for k, v in t.state_dict().items()}, path)
    with pytest.raises(jaxnn.StateDictError, match='Unexpected key.*"module.0.weight"'):
        jaxnn.load_state_dict(j, path)
    j.load_state_dict(str(path), strip_prefix="module.")
    _same_outputs(t, j)


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_jaxnn_file_loads_into_torch(tmp_path, suffix):
    t, j = _pair()
    path = tmp_path / f"model{suffix}"
    jaxnn.save_state_dict(j, path)
    loaded = safetensors.torch.load_file(str(path)) if suffix == ".safetensors" else torch.load(path, weights_only=True)
    t.load_state_dict(loaded)
    _same_outputs(t, j)


def test_key_map_renames(tmp_path):
    t, j = _pair()
    renamed = {k.replace("0.", "first.", 1) if k.startswith("0.") else k: v for k, v in t.state_dict().items()}
    jaxnn.load_state_dict(j, renamed, key_map=lambda k: k.replace("first.", "0."))
    jaxnn.load_state_dict(j, renamed, key_map={"first.weight": "0.weight", "first.bias": "0.bias"})
    _same_outputs(t, j)


def test_training_checkpoint_is_refused_with_guidance(tmp_path):
    t, j = _pair()
    path = tmp_path / "ckpt.pt"
    torch.save({"model": t.state_dict(), "epoch": 3}, path)
    with pytest.raises(ValueError, match=r"does not hold a state dict.*\['model', 'epoch'\].*\['model'\]"):
        jaxnn.load_state_dict(j, path)


class _Payload:
    def __reduce__(self):
        return (print, ("unpickled code ran",))


def test_pickled_code_is_never_run(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"weight": _Payload()}, f)
    with pytest.raises(pickle.UnpicklingError):
        jaxnn.interop.read_state_dict(path)
    assert "unpickled code ran" not in capsys.readouterr().out


def test_unknown_suffix_is_named(tmp_path):
    _, j = _pair()
    with pytest.raises(ValueError, match=r"'.npz'"):
        jaxnn.load_state_dict(j, tmp_path / "model.npz")
