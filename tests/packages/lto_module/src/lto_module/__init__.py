from lto_module._core import describe, total

__all__ = ["describe", "total"]
