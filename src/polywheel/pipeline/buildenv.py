"""The isolated build environments of `polywheel build`, and the check without them.

Like `python -m build`, every build runs in a virtual environment made from
`[build-system] requires` (plus the variant's `build-requires`), not in the environment
polywheel was started from. The environment is:
- resolved first (`uv pip compile`), and keyed by the resolved set, the interpreter and
  the running polywheel, so one environment serves every run and every variant with the
  same requirements, and a new release of a requirement makes a new one;
- created under a per-key lock in a scratch folder (`.polywheel-PID-KEY`), then renamed,
  so no run ever sees a half-made one and a killed run's leftovers are removed later;
- given the *running* polywheel (a link to its package, plus a dist-info) instead of a
  `polywheel` from the index: the worker in the environment must run the same code as
  the process that hands it the job, and a local checkout is not on any index.
Without uv, `venv` and pip make it, keyed by the requirements as written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

import polywheel
from polywheel.cachedir import user_cache_dir
from polywheel.errors import BuildError, ConfigError
from polywheel.matrix.spec import VariantSpec
from polywheel.pipeline.faults import die_with_parent, exclusive, remove_leftovers
from polywheel.project import Project
from polywheel.wheel import SCRATCH

__all__ = [
    "BuildEnv",
    "env_key",
    "env_requirements",
    "find_uv",
    "for_builds",
    "own_scripts_on_path",
    "prepare",
    "unmet",
    "worker_environ",
]

_KEY = "build-system.requires"
_DONE = "polywheel-env.json"  # written last: a folder without it is not an environment
_LAYOUT = 1  # bump when the way environments are made changes


@dataclasses.dataclass(frozen=True)
class BuildEnv:
    path: Path
    key: str
    created: bool = False

    @property
    def python(self) -> Path:
        return _scripts(self.path) / ("python.exe" if os.name == "nt" else "python")


def _scripts(env: Path) -> Path:
    return env / ("Scripts" if os.name == "nt" else "bin")


def _parse(text: str, key: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise ConfigError(f"{text!r} is not a PEP 508 requirement: {exc}", key=key) from None


def _applies(req: Requirement) -> bool:
    return req.marker is None or req.marker.evaluate({"extra": ""})


def _own_requirements() -> list[str]:
    """What the running polywheel needs to run (its extras left out)."""
    try:
        declared = metadata.requires("polywheel") or []
    except metadata.PackageNotFoundError:  # pragma: no cover - polywheel run from a tree
        declared = ["scikit-build-core>=1.1,<1.2", "packaging>=24", "pyproject-metadata>=0.9"]
    return [text for text in declared if _applies(Requirement(text))]


def env_requirements(
    requires: Sequence[str], extra: Sequence[str] = (), key: str = _KEY
) -> list[str]:
    """The requirements an environment is resolved from: `requires` and `extra` with a
    `polywheel` entry replaced by what the running polywheel needs (it is linked in)."""
    out: list[str] = []
    for text in [*requires, *extra]:
        req = _parse(text, key)
        if canonicalize_name(req.name) != "polywheel":
            out.append(text)
        elif _applies(req) and not req.specifier.contains(polywheel.__version__, prereleases=True):
            raise ConfigError(
                f"asks for {text}, but this is polywheel {polywheel.__version__}: the build "
                "environment gets the polywheel that runs the build; run a polywheel that "
                "matches, or widen the requirement",
                key=key,
            )
    return list(dict.fromkeys([*out, *_own_requirements()]))


def unmet(requires: Sequence[str], key: str = _KEY) -> list[str]:
    """The requirements this interpreter does not satisfy (markers honoured), each with
    what was found: for `--no-isolation`."""
    missing = []
    for text in requires:
        req = _parse(text, key)
        if not _applies(req):
            continue
        if canonicalize_name(req.name) == "polywheel":
            found: str | None = polywheel.__version__
        else:
            try:
                found = metadata.version(req.name)
            except metadata.PackageNotFoundError:
                found = None
        if found is None:
            missing.append(f"{text} (not installed)")
        elif not req.specifier.contains(found, prereleases=True):
            missing.append(f"{text} (found {found})")
    return missing


def find_uv() -> str | None:
    """$UV (as `python -m build` reads it), uv on PATH, else the `uv` package's."""
    found = shutil.which(os.environ.get("UV") or "uv")
    if found:
        return found
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    with contextlib.suppress(FileNotFoundError):
        return str(find_uv_bin())
    return None


def env_key(resolved: str) -> str:
    """The environment's name: the resolved set, this interpreter, the linked polywheel."""
    inputs = {
        "resolved": resolved,
        "python": [
            sys.version,
            sys.implementation.cache_tag,
            sysconfig.get_platform(),
            os.path.realpath(sys.executable),
        ],
        "polywheel": [polywheel.__version__, str(_package_dir())],
        "layout": _LAYOUT,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:20]


def _package_dir() -> Path:
    return Path(polywheel.__file__).resolve().parent


def own_scripts_on_path(environ: dict[str, str] | os._Environ[str]) -> None:
    """Put the scripts folder of the running interpreter on PATH, first: started as
    `venv/bin/polywheel` without activating the venv, its tools (swig, cython) must be
    found too."""
    scripts = str(Path(sys.executable).parent)
    parts = environ.get("PATH", "").split(os.pathsep)
    if scripts not in parts:
        environ["PATH"] = os.pathsep.join([scripts, *filter(None, parts)])


def worker_environ(python: Path) -> dict[str, str]:
    """The environment of a build in an isolated environment: its scripts folder first on
    PATH (CMake, ninja and the project's tools), then the running interpreter's."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "__PYVENV_LAUNCHER__"):
        env.pop(name, None)
    own_scripts_on_path(env)
    env["PATH"] = os.pathsep.join([str(python.parent), env["PATH"]])
    env["VIRTUAL_ENV"] = str(python.parent.parent)
    return env


def _run(cmd: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    # die_with_parent: a `kill -9` of polywheel must not leave an installer running.
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        list(cmd),
        capture_output=True,
        text=True,
        check=False,
        stdin=kwargs.pop("stdin", subprocess.DEVNULL),
        preexec_fn=die_with_parent if os.name == "posix" else None,
        **kwargs,
    )


def _reason(output: str, requirements: Sequence[str]) -> str:
    """One line out of an installer's complaint, naming the requirement it concerns."""
    lines = [ln.strip(" \u00d7\u2570\u2500\u25b6\u2502").strip() for ln in output.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith(("hint:", "help:"))]
    text = " ".join(lines) or "the installer failed without saying why"
    low = text.lower()
    for req in requirements:
        name = Requirement(req).name
        if name.lower() in low or str(canonicalize_name(name)) in low:
            return f"{req}: {text}"
    return text


def _resolve(uv: str, requirements: Sequence[str]) -> tuple[str | None, str]:
    """(the pinned set, or None) and uv's complaint when it cannot resolve."""
    proc = _run(
        [
            uv,
            "pip",
            "compile",
            "-",
            "--python",
            sys.executable,
            "--no-header",
            "--no-annotate",
            "-q",
        ],
        input="\n".join(requirements) + "\n",
        stdin=None,
    )
    if proc.returncode != 0:
        return None, proc.stderr
    return proc.stdout, ""


def _link_polywheel(python: Path) -> None:
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    purelib = Path(site.stdout.strip())
    (purelib / "polywheel").symlink_to(_package_dir(), target_is_directory=True)
    info = purelib / f"polywheel-{polywheel.__version__}.dist-info"
    info.mkdir()
    requires = "".join(f"Requires-Dist: {r}\n" for r in _own_requirements())
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: polywheel\nVersion: {polywheel.__version__}\n{requires}"
    )
    (info / "INSTALLER").write_text("polywheel\n")
    (info / "RECORD").write_text("")


def _create(folder: Path, requirements: Sequence[str], pinned: str | None, uv: str | None) -> None:
    """Make the environment in `folder`; raises BuildError naming what failed."""
    reqs = folder.parent / f"{folder.name}.txt"
    reqs.write_text(pinned if pinned is not None else "\n".join(requirements) + "\n")
    try:
        if uv is not None:
            # Relocatable: its scripts keep working once the folder is renamed.
            steps = [
                [uv, "venv", "-q", "--relocatable", "--python", sys.executable, str(folder)],
                [uv, "pip", "sync", "-q", "--python", str(_scripts(folder) / "python"), str(reqs)],
            ]
        else:
            steps = [
                [sys.executable, "-m", "venv", str(folder)],
                [str(_scripts(folder) / "python"), "-m", "pip", "install", "-q",
                 "--disable-pip-version-check", "--no-input", "-r", str(reqs)],
            ]  # fmt: skip
        for step in steps:
            proc = _run(step)
            if proc.returncode != 0:
                raise BuildError(
                    "cannot create the build environment: "
                    + _reason(proc.stderr + proc.stdout, requirements),
                    key=_KEY,
                )
        _link_polywheel(_scripts(folder) / "python")
        (folder / _DONE).write_text(json.dumps({"requirements": list(requirements)}))
    finally:
        reqs.unlink(missing_ok=True)


def prepare(requirements: Sequence[str], emit: Callable[[str], None]) -> BuildEnv:
    """The environment for `requirements` (see `env_requirements`), made if needed."""
    cache = user_cache_dir("envs")
    uv = find_uv()
    asked = hashlib.sha256(
        json.dumps([sorted(requirements), sys.version, sys.executable]).encode()
    ).hexdigest()[:20]
    last = cache / f"last-{asked}.txt"
    pinned: str | None = None
    if uv is not None:
        pinned, complaint = _resolve(uv, requirements)
        if pinned is None:
            # Offline: the environment resolved last time from the same requirements.
            with contextlib.suppress(OSError):
                previous = last.read_text()
                if (cache / env_key(previous) / _DONE).is_file():
                    emit("*** cannot resolve the build requirements now; using the "
                         "environment they resolved to last time")  # fmt: skip
                    pinned = previous
            if pinned is None:
                raise BuildError(
                    "cannot resolve the build environment: " + _reason(complaint, requirements),
                    key=_KEY,
                    hint="is the package index reachable (proxy, --offline, UV_INDEX_URL)? "
                    "`--no-isolation` builds with what this interpreter has",
                )
    key = env_key(pinned if pinned is not None else "\n".join(sorted(requirements)))
    final = cache / key
    with exclusive([cache / f"{key}.lock"], emit):
        if not (final / _DONE).is_file():
            emit(f"*** creating the build environment {final} ({len(requirements)} requirement(s))")
            for leftover in remove_leftovers(cache):
                emit(f"*** removed {leftover.name}, left behind by a polywheel run that was killed")
            shutil.rmtree(final, ignore_errors=True)  # a half-made one of a pip run
            scratch = cache / f"{SCRATCH}{os.getpid()}-{key}"
            # pip's scripts name their folder: they are made in place, under the lock.
            target = scratch if uv is not None else final
            try:
                _create(target, requirements, pinned, uv)
                if target != final:
                    target.rename(final)
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
            created = True
        else:
            emit(f"*** build environment: {final} (cached)")
            created = False
        if pinned is not None:
            last.write_text(pinned)
    return BuildEnv(final, key, created)


def for_builds(
    project: Project,
    specs: Sequence[VariantSpec | None],
    *,
    isolation: bool,
    emit: Callable[[str], None],
) -> list[BuildEnv | None]:
    """The environment of each build (None: this interpreter's, after checking that it
    has every requirement). Builds with the same requirements share one."""
    requires = project.pyproject.get("build-system", {}).get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise ConfigError("must be a list of PEP 508 requirement strings", key=_KEY)
    if not isolation:
        missing = unmet(requires)
        for spec in specs:
            extra = spec.build_requires if spec else ()
            missing += [
                m for m in unmet(extra, f"{spec and spec.key}.build-requires") if m not in missing
            ]
        if missing:
            raise BuildError(
                "--no-isolation, and this environment lacks " + ", ".join(missing),
                key=_KEY,
                hint=f"install them into {sys.prefix}, or build without --no-isolation",
            )
        return [None for _ in specs]
    made: dict[tuple[str, ...], BuildEnv] = {}
    out: list[BuildEnv | None] = []
    for spec in specs:
        key = f"{spec.key}.build-requires" if spec and spec.build_requires else _KEY
        wanted = tuple(env_requirements(requires, spec.build_requires if spec else (), key))
        if wanted not in made:
            made[wanted] = prepare(wanted, emit)
        out.append(made[wanted])
    return out
