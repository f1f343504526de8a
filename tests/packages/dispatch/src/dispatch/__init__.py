from dispatch._core import total

__all__ = ["total"]
