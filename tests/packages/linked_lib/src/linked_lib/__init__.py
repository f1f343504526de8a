from linked_lib._core import answer

__all__ = ["answer"]
