from nb_ext._core import add

__all__ = ["add"]
