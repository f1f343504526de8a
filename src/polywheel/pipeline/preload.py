"""What a variant build in a worker process imports, paid before the first build.

Imported by the workers' forkserver (pipeline/warm.py) before it forks them, so the
workers start with all of it and pay it once between them; a spawned worker imports
this module itself. Besides scikit-build-core and polywheel's build modules, a build
imports the `cmake` and `ninja` packages (scikit-build-core looks for their programs;
`cmake` lists its installed files on import), the audit's instruction tables
(pipeline/audit_preload.py), and what scikit-build-core reads to write a wheel. Not
NumPy: scikit-build-core would import it in every build for its include folder, which
polywheel finds without it (cmake/numpy_hint.py).
"""

from __future__ import annotations

import contextlib
import email.generator  # noqa: F401 - scikit-build-core writes METADATA with it
import sysconfig

import scikit_build_core.build.wheel  # noqa: F401

import polywheel.cmake.runner
import polywheel.pipeline.variant  # noqa: F401
from polywheel.pipeline.audit_preload import preload_audit

sysconfig.get_config_vars()  # reads the interpreter's _sysconfigdata module
for _package in ("cmake", "ninja"):
    with contextlib.suppress(ImportError):
        __import__(_package)
preload_audit()
