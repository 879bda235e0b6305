"""torch's default initialisers (filled in by the layers issue)."""

__all__: list[str] = []
