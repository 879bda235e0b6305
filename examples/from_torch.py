"""Port a torch model to jaxnn in one call, check it layer by layer, fine-tune it.

A torchvision-style ResNet is written in torch below (no torchvision needed),
converted with ``jaxnn.from_torch``, checked module by module with
``jaxnn.compare``, and fine-tuned for 3 steps with ``jaxnn.optim.SGD`` through
jaxnn's jitted train step; torch runs the same 3 steps and the weights agree.

    python examples/from_torch.py
"""

from __future__ import annotations

import numpy as np
import torch
from flax import nnx
from torch import nn

import jaxnn


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, widths=(16, 32), num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(BasicBlock(widths[0], widths[0]), BasicBlock(widths[0], widths[0]))
        self.layer2 = nn.Sequential(BasicBlock(widths[0], widths[1], 2), BasicBlock(widths[1], widths[1]))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def main(steps: int = 3) -> float:
    torch.manual_seed(0)
    tmodel = ResNet()
    x = np.random.default_rng(0).standard_normal((8, 3, 16, 16)).astype("float32")
    y = np.arange(8) % 10

    jmodel = jaxnn.from_torch(tmodel.eval())
    report = jaxnn.compare(tmodel, jmodel, torch.as_tensor(x))
    print(report)
    assert report.ok, report.first_divergence

    tmodel.train()
    jmodel.train()
    opt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(tmodel(torch.as_tensor(x)), torch.as_tensor(y)).backward()
        opt.step()

    tx = jaxnn.optim.SGD(lr=0.1, momentum=0.9)
    graphdef, params, rest = jaxnn.split_model(jmodel)
    opt_state = tx.init(params)
    step = jaxnn.make_train_step(graphdef, jaxnn.CrossEntropyLoss(), tx)
    for i in range(steps):
        params, rest, opt_state, metrics = step(params, rest, opt_state, (x, y))
        print(f"step {i}: loss {float(metrics['loss']):.5f}")
    nnx.update(jmodel, params, rest)
    got, expected = jaxnn.state_dict(jmodel), tmodel.state_dict()
    worst = max(float(np.max(np.abs(got[k] - v.numpy()))) for k, v in expected.items())
    print(f"after {steps} SGD steps the largest weight difference from torch is {worst:.2e}")
    assert worst < 1e-4
    return worst


if __name__ == "__main__":
    main()
