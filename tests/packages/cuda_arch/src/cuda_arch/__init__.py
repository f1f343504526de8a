from cuda_arch._core import backend

__all__ = ["backend"]
