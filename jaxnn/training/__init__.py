"""The training cycle: pure jitted steps over explicit pytrees."""

from .step import make_train_step, split_model

__all__ = ["make_train_step", "split_model"]
