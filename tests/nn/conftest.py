import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_torch():
    """torch draws the reference weights: a fixed seed keeps every run the same case."""
    torch.manual_seed(0)
