"""polywheel.settings: the field kinds, the key trees built from them, and the reader."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from polywheel.errors import ConfigError
from polywheel.properties import NAME_RE, VariantProperty
from polywheel.settings.fields import (
    ArrayOf,
    Boolean,
    Choice,
    Field,
    Integer,
    Kind,
    MapOf,
    String,
    StringList,
    StringMap,
    StringOrList,
    Table,
)
from polywheel.settings.model import (
    DEFAULT_BUILD_DIR,
    AuditSettings,
    AxisEntry,
    BuildOptions,
    DeclaredVariant,
    ProviderDecl,
    Settings,
    VariantTable,
)
from polywheel.settings.options import DefineMap
from polywheel.settings.reader import read_settings, read_variant_table
from polywheel.settings.schema import generate_schema
from polywheel.settings.tables import (
    AXIS_ENTRY,
    PROVIDER,
    TOOL_VARIANTS,
    VARIANT_ENTRY,
    VARIANT_TABLE,
)

KEY = "tool.variants.x"

APPLY = Choice(("global", "targets"), explain={"targets": "only some targets"})
SMALL_TABLE = Table(
    (
        Field("name", String(), "The name.", required=True),
        Field("count", Integer(1), "How many.", default=1),
        Field("flag", Boolean(), "A flag."),
    ),
    key_hints={"old-name": "`old-name` was renamed to `name`"},
)


def schema_accepts(kind: Kind, value: Any) -> bool:
    return bool(jsonschema.Draft7Validator(kind.schema()).is_valid(value))


def validate_accepts(kind: Kind, value: Any) -> bool:
    try:
        kind.validate(value, KEY)
    except ConfigError:
        return False
    return True


# --- validate(): good input ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (APPLY, "global", "global"),
        (Integer(), 0, 0),
        (Integer(2), 7, 7),
        (Boolean(), False, False),
        (String(), "", ""),
        (String(pattern=r"\{label\}"), "build/{label}", "build/{label}"),
        (StringList(), [], ()),
        (StringList(non_empty=True), ["a", "b"], ("a", "b")),
        (StringOrList(), "80-real", ("80-real",)),
        (StringOrList(), "80;90", ("80", "90")),
        (StringOrList(), ["80;90", "100-real"], ("80", "90", "100-real")),
        (StringOrList(), [], ()),
        (StringMap(), {"CC": "gcc"}, {"CC": "gcc"}),
        (
            DefineMap(),
            {"A": True, "B": False, "C": "x", "D": 3, "E": ["a", "b"], "F": []},
            {"A": "ON", "B": "OFF", "C": "x", "D": "3", "E": "a;b", "F": ""},
        ),
        (SMALL_TABLE, {"name": "n"}, {"name": "n", "count": 1}),
        (
            SMALL_TABLE,
            {"name": "n", "count": 3, "flag": True},
            {"name": "n", "count": 3, "flag": True},
        ),
        (ArrayOf(SMALL_TABLE), [{"name": "a"}], ({"name": "a", "count": 1},)),
        (ArrayOf(Integer()), [], ()),
        (MapOf(Integer(), key_pattern=NAME_RE.pattern), {"a_1": 1}, {"a_1": 1}),
        (MapOf(Integer()), {}, {}),
    ],
)
def test_validate_accepts(kind: Kind, value: Any, expected: Any) -> None:
    assert kind.validate(value, KEY) == expected


# --- validate(): errors name the exact key ---------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "key", "message"),
    [
        (APPLY, "globl", KEY, "'globl' is not allowed; allowed: global, targets (only some"),
        (APPLY, 1, KEY, "1 is not allowed"),
        (APPLY, None, KEY, "None is not allowed"),
        (Integer(), -1, KEY, "must be an integer >= 0"),
        (Integer(3), 2, KEY, "must be an integer >= 3"),
        (Integer(), True, KEY, "must be an integer >= 0"),
        (Integer(), "3", KEY, "must be an integer"),
        (Integer(), 1.5, KEY, "must be an integer"),
        (Integer(0, message="must be a count"), -5, KEY, "must be a count"),
        (Boolean(), "true", KEY, "must be true or false"),
        (Boolean(), 1, KEY, "must be true or false"),
        (String(), 3, KEY, "must be a string"),
        (String(pattern=r"\{label\}", message="needs {label}"), "build/x", KEY, "needs {label}"),
        (StringList(), "a", KEY, "must be a list of strings"),
        (StringList(), ["a", 1], KEY, "must be a list of strings"),
        (StringList(non_empty=True), [], KEY, "must be a list of strings"),
        (StringOrList(), 80, KEY, "must be a string or a list of strings"),
        (StringOrList(), ["80", 90], KEY, "must be a string or a list of strings"),
        (StringOrList(), {"a": "b"}, KEY, "must be a string or a list of strings"),
        (StringMap(), {"A": 1}, KEY, "must be a table of strings"),
        (StringMap(), ["A"], KEY, "must be a table of strings"),
        (DefineMap(), "A=1", KEY, "must be a table"),
        (DefineMap(), {"OK": "1", "BAD": 1.5}, f"{KEY}.BAD", "must be a string, a boolean"),
        (DefineMap(), {"BAD": ["a", 1]}, f"{KEY}.BAD", "or a list of strings"),
        (DefineMap(), {"BAD": {"x": "y"}}, f"{KEY}.BAD", "must be a string"),
        (SMALL_TABLE, "x", KEY, "must be a table"),
        (SMALL_TABLE, {"name": "n", "nmae": 1}, f"{KEY}.nmae", "unknown key 'nmae'"),
        (SMALL_TABLE, {"name": "n", "size": 1}, f"{KEY}.size", "allowed keys: name, count, flag"),
        (SMALL_TABLE, {}, f"{KEY}.name", "is required"),
        (SMALL_TABLE, {"name": 1}, f"{KEY}.name", "must be a string"),
        (SMALL_TABLE, {"name": "n", "count": 0}, f"{KEY}.count", "must be an integer >= 1"),
        (ArrayOf(SMALL_TABLE), {"name": "a"}, KEY, "must be an array"),
        (ArrayOf(SMALL_TABLE), [{"name": "a"}, {}], f"{KEY}[1].name", "is required"),
        (ArrayOf(SMALL_TABLE), [{"name": "a"}, 5], f"{KEY}[1]", "must be a table"),
        (ArrayOf(Integer()), [1, 2, -3], f"{KEY}[2]", "must be an integer >= 0"),
        (MapOf(Integer()), [1], KEY, "must be a table"),
        (MapOf(Integer(), non_empty=True), {}, KEY, "must be a table"),
        (MapOf(Integer()), {"a": 1, "b": -1}, f"{KEY}.b", "must be an integer >= 0"),
        (
            MapOf(Integer(), key_pattern=NAME_RE.pattern),
            {"Bad-Name": 1},
            f"{KEY}.Bad-Name",
            "'Bad-Name' must match ^[a-z0-9_]+$",
        ),
        (
            MapOf(MapOf(SMALL_TABLE)),
            {"axis": {"entry": {"name": "n", "extra": 1}}},
            f"{KEY}.axis.entry.extra",
            "unknown key 'extra'",
        ),
    ],
)
def test_validate_rejects(kind: Kind, value: Any, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        kind.validate(value, KEY)
    assert exc.value.key == key
    assert message in exc.value.message


def test_choice_did_you_mean() -> None:
    with pytest.raises(ConfigError) as exc:
        APPLY.validate("target", KEY)
    assert exc.value.hint == "did you mean `targets`?"
    with pytest.raises(ConfigError) as exc:
        APPLY.validate("zzz", KEY)
    assert exc.value.hint is None


def test_table_unknown_key_did_you_mean() -> None:
    with pytest.raises(ConfigError) as exc:
        SMALL_TABLE.validate({"name": "n", "cont": 1}, KEY)
    assert exc.value.hint == "did you mean `count`?"


def test_table_key_hints_win_over_did_you_mean() -> None:
    with pytest.raises(ConfigError) as exc:
        SMALL_TABLE.validate({"old-name": "n"}, KEY)
    assert exc.value.key == f"{KEY}.old-name"
    assert exc.value.hint == "`old-name` was renamed to `name`"


def test_kind_message_and_hint_replace_default() -> None:
    kind = String(pattern="x", message="must contain x", hint="like 'x1'")
    with pytest.raises(ConfigError) as exc:
        kind.validate("abc", KEY)
    assert exc.value.message == "must contain x"
    assert exc.value.hint == "like 'x1'"


def test_table_required_uses_the_fields_message() -> None:
    with pytest.raises(ConfigError) as exc:
        VARIANT_ENTRY.validate({"properties": []}, "tool.variants.variant[0]")
    assert exc.value.key == "tool.variants.variant[0].label"
    assert exc.value.message == "every variant needs a `label` string"


# --- schema(): valid JSON schema that agrees with validate() --------------------------------

AGREEMENT = [
    (APPLY, ["global", "targets"], ["globl", 1, None, ["global"]]),
    (Integer(), [0, 16], [-1, True, "3", 1.5, None]),
    (Integer(2), [2, 100], [1, 0]),
    (Boolean(), [True, False], [1, "true", None]),
    (String(), ["", "abc"], [1, None, ["a"]]),
    (String(pattern=r"\{label\}"), ["b/{label}", "{label}"], ["b", "{lab}", 3]),
    (StringList(), [[], ["a", "b"]], ["a", [1], None]),
    (StringList(non_empty=True), [["a"]], [[], "a"]),
    (StringOrList(), ["80;90", ["80"], []], [80, [80], None, {"a": "b"}]),
    (StringMap(), [{}, {"A": "b"}], [{"A": 1}, {"A": True}, ["A"], "A"]),
    (
        DefineMap(),
        [{}, {"A": "x", "B": True, "C": 3, "D": ["a", "b"]}],
        [{"A": 1.5}, {"A": [1]}, {"A": {"b": "c"}}, {"A": None}, "A"],
    ),
    (
        SMALL_TABLE,
        [{"name": "n"}, {"name": "n", "count": 2, "flag": False}],
        [{}, {"name": "n", "extra": 1}, {"name": 1}, {"name": "n", "count": 0}, "x"],
    ),
    (ArrayOf(Integer()), [[], [0, 1]], [[-1], [1, "a"], {"a": 1}, 1]),
    (
        MapOf(Integer(), key_pattern=NAME_RE.pattern, non_empty=True),
        [{"abc": 1}, {"a_1": 0, "b": 2}],
        [{}, {"ABC": 1}, {"a-b": 1}, {"abc": -1}, [1]],
    ),
    (
        PROVIDER,
        [
            {"requires": ["x-provider"], "plugin-api": "x.plugin:Plugin"},
            {"static-properties": {"fast": ["on"]}},
        ],
        [{"requires": []}, {"enable-if": "x"}, {"static-properties": {}}, "x"],
    ),
]


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    AGREEMENT,
    ids=[type(kind).__name__ + str(i) for i, (kind, _, _) in enumerate(AGREEMENT)],
)
def test_schema_agrees_with_validate(kind: Kind, good: list[Any], bad: list[Any]) -> None:
    jsonschema.Draft7Validator.check_schema(kind.schema())
    for value in good:
        assert validate_accepts(kind, value), value
        assert schema_accepts(kind, value), value
    for value in bad:
        assert not validate_accepts(kind, value), value
        assert not schema_accepts(kind, value), value


@pytest.mark.parametrize(
    ("kind", "value"),
    [(Integer(), 16.0), (DefineMap(), {"JOBS": 4.0})],
)
def test_schema_agrees_with_validate_on_integral_floats(kind: Kind, value: Any) -> None:
    assert schema_accepts(kind, value) == validate_accepts(kind, value)


def test_schema_only_patterns_are_not_enforced_by_validate() -> None:
    # Labels and property strings are checked later with a better message.
    label = String(schema_pattern=r"^[0-9a-z_.]+$")
    assert label.validate("Not-A-Label", KEY) == "Not-A-Label"
    assert not schema_accepts(label, "Not-A-Label")
    items = StringList(item_schema_pattern=r"^[a-z]+$")
    assert items.validate(["A"], KEY) == ("A",)
    assert not schema_accepts(items, ["A"])


def test_table_schema_shape() -> None:
    schema = SMALL_TABLE.schema()
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["name"]
    assert schema["properties"]["count"]["default"] == 1
    assert schema["properties"]["count"]["description"] == "How many."
    assert "default" not in schema["properties"]["name"]
    assert "required" not in Table((Field("a", String(), "A."),)).schema()


@pytest.mark.parametrize("table", [TOOL_VARIANTS, VARIANT_TABLE, VARIANT_ENTRY, AXIS_ENTRY])
def test_key_trees_have_valid_schemas(table: Table) -> None:
    jsonschema.Draft7Validator.check_schema(table.schema())


def test_generated_schema_accepts_full_tool_variants() -> None:
    validator = jsonschema.Draft7Validator(generate_schema())
    validator.check_schema(generate_schema())
    assert validator.is_valid(FULL["tool"]["variants"])
    assert not validator.is_valid({"build-dir": "build"})
    assert not validator.is_valid({"variant": [{"label": "X"}]})
    assert not validator.is_valid({"axes": {"cpu": {}}})


# --- read_settings ---------------------------------------------------------------------------

FULL: dict[str, Any] = {
    "tool": {
        "variants": {
            "format": "pep825",
            "max-label-length": 0,
            "plain-wheel": "null",
            "build-dir": "out/{wheel_tag}/{label}",
            "apply-flags": "targets",
            "variant": [{"label": "null"}],
            "axes": {
                "cpu": {
                    "v1": {"properties": ["x86_64 :: level :: v1"]},
                    "v3": {
                        "label": "x86_64_v3",
                        "properties": ["x86_64::level::v3", " my_ns :: fast :: on "],
                        "cmake-define": {"USE_AVX": True, "KERNELS": ["a", "b"]},
                        "compile-options": ["-O3"],
                    },
                },
                "cuda": {
                    "cu12": {
                        "cuda-architectures": "80-real;90",
                        "env": {"CUDAHOSTCXX": "g++"},
                        "dependencies": ["nvidia-cuda-runtime-cu12"],
                        "cmake-args": ["--log-level=DEBUG"],
                        "cuda": True,
                    },
                },
            },
            "exclude": [{"cpu": "v1", "cuda": "cu12"}],
            "label-template": "{cpu}_{cuda}",
            "audit": {
                "mode": "warning",
                "allow-functions": ["*_avx512_*"],
                "allow-sections": [".text.dispatch*"],
            },
        },
        "scikit-build": {"build-dir": "ignored/{wheel_tag}"},
    },
    "variant": {
        "default-priorities": {"namespace": ["nvidia", "my_ns", "x86_64"]},
        "providers": {
            "my_ns": {
                "static-properties": {"fast": ["on"], "mode": ["b", "a"]},
                "feature-order": ["mode", "fast"],
                "optional": True,
            },
            "nvidia": {
                "requires": ["nvidia-variant-provider"],
                "plugin-api": "nvidia_variant_provider.plugin:NvidiaVariantPlugin",
            },
        },
        "variants": {"x86_64_v3": {"x86_64": {"level": ["v3"]}}},
    },
}


def test_read_settings_full() -> None:
    settings = read_settings(FULL)
    assert settings.format == "pep825"
    assert settings.max_label_length == 0
    assert settings.plain_wheel == "null"
    assert settings.build_dir == "out/{wheel_tag}/{label}"
    assert settings.apply_flags == "targets"
    assert settings.variants == (
        DeclaredVariant("null", BuildOptions(), "tool.variants.variant[0]"),
    )
    assert settings.label_template == "{cpu}_{cuda}"
    assert settings.exclude == ({"cpu": "v1", "cuda": "cu12"},)
    assert settings.audit == AuditSettings("warning", ("*_avx512_*",), (".text.dispatch*",))

    (cpu_name, cpu), (cuda_name, cuda) = settings.axes
    assert (cpu_name, cuda_name) == ("cpu", "cuda")
    assert cpu[0] == AxisEntry(
        "v1",
        "v1",
        BuildOptions(properties=(VariantProperty("x86_64", "level", "v1"),)),
        "tool.variants.axes.cpu.v1",
    )
    v3 = cpu[1]
    assert v3.name == "v3"
    assert v3.label_part == "x86_64_v3"
    assert v3.key == "tool.variants.axes.cpu.v3"
    assert v3.options.properties == (
        VariantProperty("x86_64", "level", "v3"),
        VariantProperty("my_ns", "fast", "on"),
    )
    assert v3.options.cmake_define == {"USE_AVX": "ON", "KERNELS": "a;b"}
    assert v3.options.compile_options == ("-O3",)
    assert v3.options.cuda_architectures is None
    assert v3.options.cuda is None
    cu12 = cuda[0].options
    assert cu12.cuda_architectures == ("80-real", "90")
    assert cu12.env == {"CUDAHOSTCXX": "g++"}
    assert cu12.dependencies == ("nvidia-cuda-runtime-cu12",)
    assert cu12.cmake_args == ("--log-level=DEBUG",)
    assert cu12.cuda is True


def test_read_settings_variant_table() -> None:
    table = read_settings(FULL).variant_table
    assert table.priorities == ("nvidia", "my_ns", "x86_64")
    assert table.declared_variants == {
        "x86_64_v3": frozenset({VariantProperty("x86_64", "level", "v3")})
    }
    my_ns, nvidia = table.providers
    assert my_ns == ProviderDecl(
        "my_ns",
        {
            "static-properties": {"fast": ["on"], "mode": ["b", "a"]},
            "feature-order": ["mode", "fast"],
            "optional": True,
        },
    )
    # Plain lists, as variant.json carries them (the model holds tuples).
    assert type(my_ns.table["feature-order"]) is list
    assert type(my_ns.table["static-properties"]["mode"]) is list
    assert nvidia.namespace == "nvidia"
    assert type(nvidia.table["requires"]) is list
    assert nvidia.table == FULL["variant"]["providers"]["nvidia"]


def test_read_settings_defaults() -> None:
    assert read_settings({}) == Settings()
    assert read_settings({"tool": {"variants": {}}}) == Settings()
    assert read_settings({"project": {"name": "x"}}).build_dir == DEFAULT_BUILD_DIR
    assert read_variant_table(None) == VariantTable()


@pytest.mark.parametrize(
    ("user_dir", "expected"),
    [
        ("build/{wheel_tag}", "build/{wheel_tag}/{label}"),
        ("build/{wheel_tag}/", "build/{wheel_tag}/{label}"),
        ("out", "out/{label}"),
    ],
)
def test_build_dir_from_scikit_build(user_dir: str, expected: str) -> None:
    settings = read_settings({"tool": {"scikit-build": {"build-dir": user_dir}}})
    assert settings.build_dir == expected


@pytest.mark.parametrize(
    ("tool_variants", "key", "message"),
    [
        ("x", "tool.variants", "must be a table"),
        ({"formt": "pep825"}, "tool.variants.formt", "unknown key 'formt'"),
        ({"format": "pep 825"}, "tool.variants.format", "'pep 825' is not allowed"),
        ({"max-label-length": -1}, "tool.variants.max-label-length", "(0 = no limit)"),
        ({"build-dir": "build"}, "tool.variants.build-dir", "containing '{label}'"),
        ({"apply-flags": "all"}, "tool.variants.apply-flags", "allowed: global (every"),
        ({"variant": {"label": "a"}}, "tool.variants.variant", "[[tool.variants.variant]]"),
        ({"variant": [{"label": "a"}, {}]}, "tool.variants.variant[1].label", "needs a `label`"),
        (
            {"variant": [{"label": "a", "properties": ["x86_64 :: level"]}]},
            "tool.variants.variant[0].properties[0]",
            "is not a variant property",
        ),
        (
            {"variant": [{"label": "a", "properties": ["x::y::z", "x :: y :: z"]}]},
            "tool.variants.variant[0].properties",
            "lists the same property twice",
        ),
        (
            {"variant": [{"label": "a", "cmake-define": {"X": 1.5}}]},
            "tool.variants.variant[0].cmake-define.X",
            "must be a string, a boolean",
        ),
        (
            {"variant": [{"label": "a", "cuda-architectures": 90}]},
            "tool.variants.variant[0].cuda-architectures",
            "such as ['80-real', '90-real']",
        ),
        ({"axes": {"cpu": {}}}, "tool.variants.axes.cpu", "non-empty table of entries"),
        ({"axes": ["cpu"]}, "tool.variants.axes", "must be a table of axes"),
        (
            {"axes": {"cpu": {"v3": {"properties": ["x86_64 :: level :: V3"]}}}},
            "tool.variants.axes.cpu.v3.properties[0]",
            "the value 'V3' must match",
        ),
        (
            {"axes": {"cpu": {"v3": {"lable": "x"}}}},
            "tool.variants.axes.cpu.v3.lable",
            "unknown key 'lable'",
        ),
        ({"exclude": [{}]}, "tool.variants.exclude[0]", "must be a table {axis = entry"),
        ({"exclude": [{"cpu": 1}]}, "tool.variants.exclude[0].cpu", "an entry name"),
        ({"label-template": 1}, "tool.variants.label-template", "such as '{cpu}_{cuda}'"),
        ({"audit": {"mode": "strict"}}, "tool.variants.audit.mode", "'strict' is not allowed"),
        ({"audit": {"allow": []}}, "tool.variants.audit.allow", "unknown key 'allow'"),
    ],
)
def test_read_settings_rejects(tool_variants: Any, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        read_settings({"tool": {"variants": tool_variants}})
    assert exc.value.key == key
    assert message in exc.value.message


# --- [variant]: the provider rules between keys ---------------------------------------------

STATIC_2 = {"a": ["x"], "b": ["y"]}


@pytest.mark.parametrize(
    ("providers", "key", "message"),
    [
        (
            {"blas": {"requires": ["blas-provider"], "static-properties": {"lib": ["mkl"]}}},
            "variant.providers.blas",
            "exactly one of `requires`",
        ),
        ({"blas": {}}, "variant.providers.blas", "exactly one of `requires`"),
        ({"blas": {"optional": True}}, "variant.providers.blas", "exactly one of"),
        (
            {"blas": {"static-properties": {"lib": ["mkl"]}, "plugin-api": "blas:Plugin"}},
            "variant.providers.blas.plugin-api",
            "`plugin-api` needs `requires`",
        ),
        (
            {"blas": {"requires": ["p"], "plugin-api": "not a reference"}},
            "variant.providers.blas.plugin-api",
            "is not an object reference like 'module.path:Object'",
        ),
        (
            {"blas": {"requires": ["p"], "plugin-api": "mod:"}},
            "variant.providers.blas.plugin-api",
            "is not an object reference",
        ),
        (
            {"blas": {"requires": ["p"], "feature-order": ["lib"]}},
            "variant.providers.blas.feature-order",
            "only for `static-properties` providers",
        ),
        (
            {"blas": {"static-properties": STATIC_2}},
            "variant.providers.blas.feature-order",
            "several static features needs `feature-order`",
        ),
        (
            {"blas": {"static-properties": STATIC_2, "feature-order": ["a"]}},
            "variant.providers.blas.feature-order",
            "must list exactly the static features ['a', 'b']",
        ),
        (
            {"blas": {"static-properties": STATIC_2, "feature-order": ["a", "b", "c"]}},
            "variant.providers.blas.feature-order",
            "must list exactly the static features",
        ),
        (
            {"blas": {"static-properties": {"a": ["x"]}, "feature-order": ["a", "a"]}},
            "variant.providers.blas.feature-order",
            "must list exactly the static features ['a']",
        ),
        (
            {"blas": {"requires": []}},
            "variant.providers.blas.requires",
            "must be a non-empty list of requirement strings",
        ),
        (
            {"blas": {"static-properties": {}}},
            "variant.providers.blas.static-properties",
            "must be a table {feature = [values",
        ),
        (
            {"blas": {"static-properties": {"lib": []}}},
            "variant.providers.blas.static-properties.lib",
            "must be a non-empty list of values",
        ),
        (
            {"blas": {"static-properties": {"Lib": ["mkl"]}}},
            "variant.providers.blas.static-properties.Lib",
            "must match ^[a-z0-9_]+$",
        ),
        (
            {"BLAS": {"requires": ["p"]}},
            "variant.providers.BLAS",
            "'BLAS' must match ^[a-z0-9_]+$",
        ),
        (
            {"blas": {"requires": ["p"], "enable-if": "x"}},
            "variant.providers.blas.enable-if",
            "unknown key 'enable-if'",
        ),
    ],
)
def test_provider_rules(providers: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        read_variant_table({"providers": providers})
    assert exc.value.key == key
    assert message in exc.value.message


@pytest.mark.parametrize(
    ("old_key", "hint"),
    [
        ("enable-if", "older PEP 817 format"),
        ("install-time", "older PEP 817 format"),
        ("plugin-use", "older PEP 817 format"),
        ("build-requires", "ahead-of-time"),
        ("builtin", "ahead-of-time"),
    ],
)
def test_provider_old_keys_have_hints(old_key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as exc:
        read_variant_table({"providers": {"blas": {"requires": ["p"], old_key: True}}})
    assert exc.value.key == f"variant.providers.blas.{old_key}"
    assert exc.value.hint is not None
    assert hint in exc.value.hint


@pytest.mark.parametrize(
    "provider",
    [
        {"requires": ["p"]},
        {"requires": ["p"], "plugin-api": "pkg.mod"},
        {"requires": ["p"], "plugin-api": "pkg.mod:Obj.attr", "optional": False},
        {"static-properties": {"a": ["x"]}},
        {"static-properties": {"a": ["x"]}, "feature-order": ["a"]},
        {"static-properties": STATIC_2, "feature-order": ["b", "a"]},
    ],
)
def test_provider_accepts(provider: dict[str, Any]) -> None:
    table = read_variant_table({"providers": {"blas": provider}})
    assert table.providers == (ProviderDecl("blas", provider),)


def test_provider_static_values_must_match_value_pattern() -> None:
    with pytest.raises(ConfigError) as exc:
        read_variant_table({"providers": {"blas": {"static-properties": {"lib": ["MKL-2"]}}}})
    assert exc.value.key == "variant.providers.blas.static-properties.lib"


@pytest.mark.parametrize(
    ("variant", "key", "message"),
    [
        (
            {"default-priorities": {"namespace": ["nvidia", "x86_64", "nvidia"]}},
            "variant.default-priorities.namespace",
            "distinct namespaces",
        ),
        (
            {"default-priorities": {"namespace": []}},
            "variant.default-priorities.namespace",
            "distinct namespaces",
        ),
        (
            {"default-priorities": {}},
            "variant.default-priorities.namespace",
            "distinct namespaces",
        ),
        (
            {"default-priorities": ["nvidia"]},
            "variant.default-priorities",
            "exactly one key, `namespace`",
        ),
        (
            {"default-priorities": {"namespace": ["a"], "feature": ["b"]}},
            "variant.default-priorities.feature",
            "unknown key 'feature'",
        ),
        (
            {"variants": {"v3": {"x86_64": {"level": "v3"}}}},
            "variant.variants.v3.x86_64.level",
            "list of values",
        ),
        ({"variants": {"v3": ["x86_64"]}}, "variant.variants.v3", "{namespace = {feature"),
        ({"variants": []}, "variant.variants", "must be a table of variant tables"),
        ({"providers": []}, "variant.providers", "must be a table of provider tables"),
        ({"provider": {}}, "variant.provider", "unknown key 'provider'"),
        ("x", "variant", "must be a table"),
    ],
)
def test_variant_table_rejects(variant: Any, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        read_variant_table(variant)
    assert exc.value.key == key
    assert message in exc.value.message


def test_read_settings_reports_variant_table_errors() -> None:
    with pytest.raises(ConfigError) as exc:
        read_settings({"variant": {"default-priorities": {"namespace": ["a", "a"]}}})
    assert exc.value.key == "variant.default-priorities.namespace"
