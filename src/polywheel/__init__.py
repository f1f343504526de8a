"""polywheel: a PEP 517 build backend that builds variant wheels of CMake projects."""

__version__ = "0.1.0"
