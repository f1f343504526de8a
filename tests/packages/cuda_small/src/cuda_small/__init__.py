from cuda_small._core import backend

__all__ = ["backend"]
