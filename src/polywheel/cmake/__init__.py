"""One CMake build per variant: the include file polywheel injects, the runner that
drives scikit-build-core (the only code that starts CMake), and what the build reported."""
