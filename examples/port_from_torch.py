"""Port a torch CNN to jaxnn line for line, load its checkpoint, get the same outputs.

The torch model and the jaxnn model below are written the same way (conv,
batchnorm, pooling, linear; torch's names, NCHW layout and parameter shapes).
The torch model is trained for a few steps (so the BatchNorm statistics are no
longer the defaults), saved with ``torch.save``, loaded into jaxnn with
``model.load_state_dict(torch.load(...))``, and both are run on the same batch.

Run: PYTHONPATH=. python examples/port_from_torch.py
"""

import os
import sys
import tempfile

import jax
import numpy as np
from flax import nnx

import jaxnn

try:
    import torch
except ImportError:  # the jaxnn side alone has nothing to compare with
    torch = None


class JaxCNN(jaxnn.Module):
    def __init__(self, num_classes: int = 10, *, rngs: nnx.Rngs):
        self.features = jaxnn.Sequential(
            jaxnn.Conv2d(1, 8, 3, padding=1, rngs=rngs),
            jaxnn.BatchNorm2d(8),
            jaxnn.ReLU(),
            jaxnn.MaxPool2d(2),
            jaxnn.Conv2d(8, 16, 3, padding=1, rngs=rngs),
            jaxnn.BatchNorm2d(16),
            jaxnn.ReLU(),
            jaxnn.AdaptiveAvgPool2d(4),
        )
        self.classifier = jaxnn.Sequential(
            jaxnn.Flatten(),
            jaxnn.Dropout(0.25, rngs=rngs),
            jaxnn.Linear(16 * 4 * 4, num_classes, rngs=rngs),
        )

    def __call__(self, x):
        return self.classifier(self.features(x))


def make_torch_cnn(num_classes: int = 10):
    nn = torch.nn

    class TorchCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 8, 3, padding=1),
                nn.BatchNorm2d(8),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(8, 16, 3, padding=1),
                nn.BatchNorm2d(16),
                nn.ReLU(),
                nn.AdaptiveAvgPool2d(4),
            )
            self.classifier = nn.Sequential(
                nn.Flatten(),
                nn.Dropout(0.25),
                nn.Linear(16 * 4 * 4, num_classes),
            )

        def forward(self, x):
            return self.classifier(self.features(x))

    return TorchCNN()


def main() -> int:
    if torch is None:
        print("port_from_torch: torch is not installed, nothing to port (pip install torch). Skipping.")
        return 0
    jax.config.update("jax_default_matmul_precision", "highest")  # torch's full-float32 matmuls
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    tmodel = make_torch_cnn()
    opt = torch.optim.SGD(tmodel.parameters(), lr=0.05)
    for _ in range(5):
        x = torch.tensor(rng.standard_normal((16, 1, 12, 12)), dtype=torch.float32)
        y = torch.tensor(rng.integers(0, 10, 16))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(x), y).backward()
        opt.step()

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cnn.pt")
        torch.save(tmodel.state_dict(), path)
        model = JaxCNN(rngs=nnx.Rngs(0))
        model.load_state_dict(torch.load(path))

    print(f"loaded {len(model.state_dict())} tensors, {jaxnn.num_parameters(model)} parameters:")
    for name, value in model.state_dict().items():
        print(f"  {name:36s} {str(value.shape):16s} {value.dtype}")

    forward = nnx.jit(lambda m, x: m(x))  # one compilation per mode; BatchNorm updates flow back
    batch = rng.standard_normal((4, 1, 12, 12)).astype(np.float32)
    tmodel.eval()
    model.eval()
    with torch.no_grad():
        expected = tmodel(torch.tensor(batch)).numpy()
    got = np.asarray(forward(model, batch))
    err = float(np.max(np.abs(got - expected)))
    print(f"eval outputs, max |jaxnn - torch| = {err:.2e}")
    print("predicted classes  jaxnn:", got.argmax(1), " torch:", expected.argmax(1))
    ok = np.allclose(got, expected, rtol=1e-5, atol=1e-5)

    # Train mode without dropout's randomness: BatchNorm uses batch statistics and
    # updates its running buffers on both sides, identically.
    model.train()
    tmodel.train()
    model.classifier[1].p = tmodel.classifier[1].p = 0.0
    got_train = np.asarray(forward(model, batch))
    with torch.no_grad():
        expected_train = tmodel(torch.tensor(batch)).numpy()
    ok &= np.allclose(got_train, expected_train, rtol=1e-5, atol=1e-5)
    stats = model.state_dict()["features.1.running_mean"] - tmodel.state_dict()["features.1.running_mean"].numpy()
    ok &= float(np.max(np.abs(stats))) < 1e-6
    print(f"train outputs, max |jaxnn - torch| = {np.max(np.abs(got_train - expected_train)):.2e}; "
          f"running_mean after the step differs by {np.max(np.abs(stats)):.1e}")
    print("outputs agree" if ok else "OUTPUTS DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
