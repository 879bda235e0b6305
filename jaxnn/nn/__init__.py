"""torch-layout layers on flax.nnx (filled in by the layers issue)."""

__all__: list[str] = []
