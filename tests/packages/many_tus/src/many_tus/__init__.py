from ._core import checksum, scale  # noqa: F401
