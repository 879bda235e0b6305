"""torch state_dict import/export (filled in by the layers issue)."""

__all__: list[str] = []
