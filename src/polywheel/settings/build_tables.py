"""The keys of one build, shared by `[[tool.variants.variant]]` entries and axis entries
(`VARIANT_ENTRY`, `AXIS_ENTRY`); `settings/tables.py` places them in `[tool.variants]`."""

from __future__ import annotations

from polywheel.properties import LABEL_RE
from polywheel.settings.fields import (
    Boolean,
    Choice,
    Field,
    MapOf,
    String,
    StringList,
    StringMap,
    StringOrList,
    Table,
)
from polywheel.settings.options import DefineMap, RequirementList

__all__ = ["AXIS_ENTRY", "ENV_NAME_PATTERN", "VARIANT_ENTRY"]

# Portable environment variable names (POSIX): the OS refuses '' and names with '=',
# and a name with spaces cannot be read back by a shell or CMake's $ENV{}.
ENV_NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"
_PROPERTY_PATTERN = r"^\s*[a-z0-9_]+\s*::\s*[a-z0-9_]+\s*::\s*[a-z0-9_.]+\s*$"


def _build_option_fields(label: Field) -> tuple[Field, ...]:
    return (
        label,
        Field(
            "properties",
            StringList(item_schema_pattern=_PROPERTY_PATTERN),
            "Variant properties, 'namespace :: feature :: value' (PEP 825).",
            default=(),
            default_doc="`[]`",
        ),
        Field(
            "cmake-define",
            DefineMap(),
            "CMake cache variables for this build (-D).",
            default={},
            default_doc="`{}`",
        ),
        Field(
            "cmake-args",
            StringList(),
            "Extra arguments for the CMake configure step.",
            default=(),
            default_doc="`[]`",
        ),
        Field(
            "compile-options",
            StringList(),
            "Extra C/C++ compiler flags, applied like the variant's own flags.",
            default=(),
            default_doc="`[]`",
        ),
        Field(
            "env",
            StringMap(
                key_pattern=ENV_NAME_PATTERN,
                key_message="is not an environment variable name: use letters, digits "
                "and _, not starting with a digit",
            ),
            "Environment variables for this build.",
            default={},
            default_doc="`{}`",
        ),
        Field(
            "dependencies",
            RequirementList(),
            "Extra Requires-Dist entries of this variant's wheel.",
            default=(),
            default_doc="`[]`",
        ),
        Field(
            "build-requires",
            RequirementList(),
            "Extra requirements of this build's isolated build environment (`polywheel "
            "build`); the PEP 517 hooks report them from get_requires_for_build_wheel.",
            default=(),
            default_doc="`[]`",
        ),
        Field(
            "abi-dependencies",
            MapOf(
                Choice(("major", "minor", "micro")),
                # PEP 508 distribution names; the namespace writes them normalised.
                key_pattern=r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?",
                type_doc='table of `"major"`, `"minor"` or `"micro"`',
            ),
            "Dependencies whose ABI this build is tied to (PEP 850 `abi_dependency`): "
            "the property takes the release of each one in the build environment, to that "
            "precision, and the wheel requires that release range at run time.",
            default={},
            default_doc="`{}`",
        ),
        Field(
            "cuda-architectures",
            StringOrList(
                message="must be a string or a list of strings such as ['80-real', '90-real']"
            ),
            "CMAKE_CUDA_ARCHITECTURES entries such as '90-real'; polywheel derives "
            "nvidia :: sm_arch from them.",
        ),
        Field(
            "cuda-toolkit",
            String(message="must be a toolkit folder or 'build-env'"),
            "The CUDA toolkit of this build: a folder holding `bin/nvcc` (e.g. "
            "'/usr/local/cuda-12.8'), or 'build-env': the nvcc of the build environment "
            '(the CUDA 13 wheels, e.g. `build-requires = ["nvidia-cuda-nvcc>=13,<14"]`). '
            "Default: the nvcc CMake finds.",
        ),
        Field(
            "cuda",
            Boolean(),
            "Whether the build may enable CUDA (default: true exactly for variants with "
            "nvidia :: sm_arch).",
            default_doc="`true` exactly when the variant has `nvidia :: sm_arch`",
        ),
    )


VARIANT_ENTRY = Table(
    _build_option_fields(
        Field(
            "label",
            String(
                schema_pattern=LABEL_RE.pattern,
                message="every variant needs a `label` string",
            ),
            "The variant label (PEP 825); 'null' is the null variant.",
            required=True,
            default_doc="required in `[[variant]]`; the entry's name in an axis",
        )
    )
)
AXIS_ENTRY = Table(
    _build_option_fields(
        Field(
            "label",
            String(schema_pattern=r"^[0-9a-z_.]*$"),
            "This entry's part of the label (default: the entry's name).",
        )
    )
)
