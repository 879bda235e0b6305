"""Models the project did not write, converted and checked against torch:
torchvision's resnet18 / mobilenet_v2 / vit_b_16's VisionTransformer, timm's
resnet18 / vit_tiny_patch16_224 (random init, small inputs, no downloads) and
torch's own nn.Transformer.

Each model is checked twice:

* float32, evaluation mode: output, and the gradients w.r.t. every input and
  every parameter, at ``DEEP_F32`` (a few ulps per layer over the model's depth).
* float64, training mode: the first step's output and gradients at ``DEEP_F64``
  (BatchNorm's batch statistics), then three AdamW steps (losses, parameters,
  running averages) at ``ADAMW_F64``.

Why AdamW steps are compared in float64: Adam's first steps move every weight by
about ``lr * sign(g)``, whatever ``|g|``. In float32 the conv-weight gradients
of resnet18 trained on 4 images carry ~1e-4 absolute rounding error (XLA and ATen
sum in different orders); entries smaller than that have a coin-toss sign (86 of
its 11M differ in sign between jaxnn and torch), and the step moves each of them
``2 * lr`` apart.
torch's own float32 run differs from its float64 run in the same way (65 entries
off by 0.02 after one step, the loss 11% off after three), so no float32
tolerance tells a bug from rounding there.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import jaxnn
from tests.interop import assert_adamw_steps, assert_converted, randn
from tests.interop._torchvision import models, timm

# Deep float32 models: a few ulps per layer accumulate over ~20 layers.
DEEP_F32 = (1e-5, 1e-5)
# float64 through a whole model: a few thousand ulps of the largest value.
DEEP_F64 = (1e-10, 1e-11)
# The AdamW step g / (|g| + eps) has slope up to 1 / eps, so a float64 gradient
# error d moves a weight by up to lr * d / eps = 1e6 * d (lr=1e-2, eps=1e-8):
# 1e-6 allows d = 1e-12 (resnet18 measures 7e-8 after three steps).
ADAMW_F64 = (1e-9, 1e-6)


def _tv_resnet18():
    return models().resnet18(num_classes=10)


def _tv_mobilenet_v2():
    # torchvision's own blocks (InvertedResidual, Conv2dNormActivation, ReLU6,
    # F.adaptive_avg_pool2d) with two stages instead of seven: the test's cost
    # is XLA compile time, which grows with depth. No dropout, so that training
    # mode is deterministic.
    setting = [[1, 16, 1, 1], [6, 24, 2, 2]]
    return models().mobilenet_v2(num_classes=10, width_mult=0.5, inverted_residual_setting=setting, dropout=0.0)


def _tv_vit_b_16():
    # vit_b_16 is this class with patch 16 and 12 layers of width 768; its
    # builder fixes those, so the small configuration calls the class itself.
    return models().VisionTransformer(
        image_size=32, patch_size=16, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=5
    )


def _timm_resnet18():
    return timm().create_model("resnet18", pretrained=False, num_classes=10)


def _timm_vit_tiny(**kwargs):
    return timm().create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, num_classes=5, **kwargs)


def _torch_transformer(layers=2):
    return torch.nn.Transformer(
        d_model=16, nhead=2, num_encoder_layers=layers, num_decoder_layers=layers, dim_feedforward=32, dropout=0.0,
        batch_first=True,
    )


def _images(dtype, batch):
    return [randn(batch, 3, 32, 32, dtype=dtype)], np.arange(batch) % 5


def _sequences(dtype, batch):
    return [randn(batch, 5, 16, dtype=dtype), randn(batch, 4, 16, dtype=dtype, seed=1)], randn(
        batch, 4, 16, dtype=dtype, seed=2
    )


# name -> (builder, (dtype, batch) -> (inputs, AdamW target), AdamW criterion)
MODELS = {
    "torchvision_resnet18": (_tv_resnet18, _images, "cross_entropy"),
    "torchvision_mobilenet_v2": (_tv_mobilenet_v2, _images, "cross_entropy"),
    "torchvision_vit_b_16_small": (_tv_vit_b_16, _images, "cross_entropy"),
    "timm_resnet18": (_timm_resnet18, _images, "cross_entropy"),
    "timm_vit_tiny_patch16_224": (_timm_vit_tiny, _images, "cross_entropy"),
    "torch_transformer": (_torch_transformer, _sequences, "mse"),
}


# The float64 run keeps 2 of vit_tiny's 12 blocks: depth is what float32's
# tolerance is about (checked there at full depth); in float64 the other ten
# would only add ~30 s of compile time.
F64_CHANGES = {"timm_vit_tiny_patch16_224": {"depth": 2}}


def _build(name, dtype, training, **changes):
    make, data, criterion = MODELS[name]
    torch.manual_seed(0)
    tmodel = make(**changes).train(training)
    return (tmodel.double() if dtype == "float64" else tmodel), data, criterion


@pytest.mark.parametrize("name", MODELS)
def test_float32_eval_forward_and_gradients(name):
    tmodel, data, _ = _build(name, "float32", training=False)
    inputs, _ = data("float32", 2)
    assert_converted(tmodel, inputs, tol=DEEP_F32)


@pytest.mark.parametrize("name", MODELS)
def test_float64_training_gradients_and_adamw_steps(name, x64):
    # Batch 4: resnet18's last BatchNorms then normalise over 4 values per channel.
    tmodel, data, criterion = _build(name, "float64", training=True, **F64_CHANGES.get(name, {}))
    inputs, target = data("float64", 4)
    assert_adamw_steps(tmodel, inputs, target, tol=ADAMW_F64, criterion=criterion, grad_tol=DEEP_F64)


def test_compare_report_on_torch_transformer():
    # One encoder and one decoder layer: the report walks every submodule kind of
    # nn.Transformer either way (the parity of the 2+2 model is checked above).
    tmodel, data, _ = _build("torch_transformer", "float32", training=False, layers=1)
    jmodel = jaxnn.from_torch(tmodel)
    src, tgt = (torch.as_tensor(x) for x in data("float32", 2)[0])
    report = jaxnn.compare(tmodel, jmodel, src, tgt, grads=True)
    assert report.ok, str(report)
