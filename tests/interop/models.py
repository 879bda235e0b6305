"""torch models the interop tests convert, written here as a user would."""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock: a residual add, an optional downsample."""

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
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class TinyResNet(nn.Module):
    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 16, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


class DictMLP(nn.Module):
    """An MLP whose layers live in a ModuleDict and a ModuleList."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleDict({"inp": nn.Linear(6, 8), "hid": nn.Linear(8, 8), "out": nn.Linear(8, 3)})
        self.acts = nn.ModuleList([nn.GELU(approximate="tanh"), nn.LeakyReLU(0.2)])
        self.norm = nn.LayerNorm(8, eps=1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.acts[0](self.layers["inp"](x))
        x = self.norm(self.acts[1](self.layers["hid"](x)) + x)
        return torch.log_softmax(self.layers["out"](x), dim=-1)


class TinyViT(nn.Module):
    """cls_token / pos_embed parameters; patchify with Conv2d, flatten, transpose,
    cat, expand, indexing, and a hand-written attention with view/permute/softmax."""

    def __init__(self, dim: int = 8, heads: int = 2, patch: int = 4, image: int = 8, classes: int = 3) -> None:
        super().__init__()
        self.heads = heads
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, (image // patch) ** 2 + 1, dim) * 0.02)
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(0.0), nn.Linear(2 * dim, dim))
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        n, t, c = x.shape
        x = torch.cat([self.cls_token.expand(n, -1, -1), x], dim=1) + self.pos_embed
        qkv = self.qkv(self.norm1(x)).reshape(n, t + 1, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5
        y = attn.softmax(dim=-1) @ v
        x = x + self.proj(y.transpose(1, 2).reshape(n, t + 1, c))
        x = x + self.mlp(self.norm2(x))
        return self.head(x[:, 0])
