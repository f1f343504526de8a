"""What a variant build in a worker process imports, paid before the first build.

Imported by the workers' forkserver (pipeline/warm.py) before it forks them, so the
workers start with all of it and pay it once between them; a spawned worker imports
this module itself. Besides scikit-build-core and polywheel's build modules, a build
imports the `ninja` package (scikit-build-core looks for its program there), the
audit's instruction tables (pipeline/audit_preload.py), and what scikit-build-core
reads to write a wheel. Not the `cmake` package or NumPy, which scikit-build-core
imports only for paths that polywheel finds without them (cmake/package_paths.py).
What every build's written record names (pipeline/written.py) is looked up here too,
once for all the workers: polywheel's files, hashed, and iced's version, which scans
the installed distributions.
"""

from __future__ import annotations

import contextlib
import email.generator  # noqa: F401 - scikit-build-core writes METADATA with it
import sysconfig

import scikit_build_core.build.wheel  # noqa: F401

import polywheel.cmake.runner
import polywheel.pipeline.variant  # noqa: F401
from polywheel.pipeline.audit_preload import preload_audit
from polywheel.pipeline.written import look_up_dependencies

sysconfig.get_config_vars()  # reads the interpreter's _sysconfigdata module
with contextlib.suppress(ImportError):
    import ninja  # noqa: F401
preload_audit()
look_up_dependencies()
