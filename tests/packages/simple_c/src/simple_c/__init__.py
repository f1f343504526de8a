from simple_c._core import features, run

__all__ = ["features", "run"]
