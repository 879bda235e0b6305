"""Models the project did not write, converted and checked against torch:
torchvision's resnet18 / mobilenet_v2 / VisionTransformer (random init, small
inputs, no downloads) and torch's own nn.Transformer."""

from __future__ import annotations

import numpy as np
import torch

import jaxnn
from tests.interop import assert_converted, randn
from tests.interop._torchvision import models

# Deep float32 models: a few ulps per layer accumulate over ~20 layers.
DEEP_F32 = (1e-5, 1e-5)



def test_torchvision_resnet18():
    torch.manual_seed(0)
    tmodel = models().resnet18(num_classes=10).eval()
    assert_converted(tmodel, [randn(2, 3, 32, 32)], tol=DEEP_F32)


def test_torchvision_mobilenet_v2():
    torch.manual_seed(0)
    # torchvision's own blocks (InvertedResidual, Conv2dNormActivation, ReLU6,
    # F.adaptive_avg_pool2d) with two stages instead of seven: the test's cost
    # is XLA compile time, which grows with depth.
    setting = [[1, 16, 1, 1], [6, 24, 2, 2]]
    tmodel = models().mobilenet_v2(num_classes=10, width_mult=0.5, inverted_residual_setting=setting).eval()
    assert_converted(tmodel, [randn(2, 3, 32, 32)], tol=DEEP_F32)


def test_torchvision_vit():
    torch.manual_seed(0)
    tv = models()
    tmodel = tv.VisionTransformer(
        image_size=32, patch_size=16, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=5
    ).eval()
    assert_converted(tmodel, [randn(2, 3, 32, 32)], tol=DEEP_F32)


def test_torch_transformer():
    torch.manual_seed(0)
    tmodel = torch.nn.Transformer(
        d_model=16, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=32, batch_first=True
    ).eval()
    jmodel = jaxnn.from_torch(tmodel)
    src, tgt = randn(2, 5, 16), randn(2, 4, 16, seed=1)
    with torch.no_grad():
        expected = tmodel(torch.as_tensor(src), torch.as_tensor(tgt)).numpy()
    np.testing.assert_allclose(np.asarray(jmodel(src, tgt)), expected, rtol=1e-5, atol=1e-5)
    report = jaxnn.compare(tmodel, jmodel, torch.as_tensor(src), torch.as_tensor(tgt), grads=True)
    assert report.ok, str(report)
