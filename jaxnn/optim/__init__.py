"""torch.optim as optax transformations (filled in by the optimizers issue)."""

__all__: list[str] = []
