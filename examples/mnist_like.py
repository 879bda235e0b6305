"""An MLP classifier on a synthetic MNIST-like dataset, trained with jaxnn.fit.

The data is made here, no download: ten classes of 28x28 grey images, each
class a few random blurred strokes (a "glyph"), every sample that glyph shifted
by up to 1 pixel, scaled in intensity and covered in noise. An MLP
784-256-10 trained for 3 epochs with Adam reaches >= 95% accuracy on held-out
samples (about 97% with the defaults; the script checks 95%).

Run: python examples/mnist_like.py [--epochs 3] [--steps-per-call 8] [--plot PATH]
"""

import argparse
import os
import tempfile

import numpy as np
from flax import nnx

import jaxnn


def make_model(sizes=(784, 256, 10), seed: int = 0) -> jaxnn.Sequential:
    """torch's ``nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))``."""
    rngs = nnx.Rngs(seed)
    return jaxnn.Sequential(
        jaxnn.Flatten(),
        jaxnn.Linear(sizes[0], sizes[1], rngs=rngs),
        jaxnn.ReLU(),
        jaxnn.Linear(sizes[1], sizes[2], rngs=rngs),
    )


def _glyph(rng: np.random.Generator, size: int = 28, strokes: int = 3) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    img = np.zeros((size, size), np.float32)
    for _ in range(strokes):
        (y0, x0), (y1, x1) = rng.uniform(5, size - 5, (2, 2))
        for t in np.linspace(0, 1, 24):
            cy, cx = y0 + t * (y1 - y0), x0 + t * (x1 - x0)
            img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 2.0)
    return np.clip(img / img.max(), 0, 1)


def make_dataset(n: int, seed: int = 0, classes: int = 10, noise: float = 0.35):
    """``n`` samples (images (n, 1, 28, 28) float32, labels (n,) int32) from ``classes`` random glyphs."""
    glyphs = np.stack([_glyph(np.random.default_rng(1000 + c)) for c in range(classes)])
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n).astype(np.int32)
    shifts = rng.integers(-1, 2, (n, 2))
    images = np.stack([np.roll(glyphs[c], tuple(s), axis=(0, 1)) for c, s in zip(labels, shifts)])
    images = images * rng.uniform(0.6, 1.0, (n, 1, 1)) + noise * rng.standard_normal(images.shape)
    return images[:, None].astype(np.float32), labels


def main(epochs: int = 3, steps_per_call: int = 8, plot: str | None = None, min_accuracy: float = 0.95) -> float:
    (x, y), (xt, yt) = make_dataset(6000, seed=0), make_dataset(1000, seed=1)
    model = make_model()
    history = jaxnn.fit(
        model,
        jaxnn.CrossEntropyLoss(),
        jaxnn.optim.Adam(lr=1e-3),
        (x, y),
        epochs=epochs,
        batch_size=128,
        eval_data=(xt, yt),
        metrics=["accuracy", "top3"],
        steps_per_call=steps_per_call,
    )
    acc = history["val_accuracy"][-1]
    print(f"held-out accuracy {acc:.4f} (top-3 {history['val_top3_accuracy'][-1]:.4f})")
    try:
        path = history.plot(plot or os.path.join(tempfile.gettempdir(), "jaxnn_mnist_like.png"), title="mnist-like MLP")
        print("training curves written to", path)
    except ImportError as err:
        print(err)
    assert acc >= min_accuracy, f"expected >= {min_accuracy:.0%} held-out accuracy, got {acc:.2%}"
    return acc


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps-per-call", type=int, default=8)
    parser.add_argument("--plot", default=None)
    args = parser.parse_args()
    main(args.epochs, args.steps_per_call, args.plot)
