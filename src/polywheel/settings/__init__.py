"""pyproject.toml → `Settings`: the model, its reader, and what is generated from it."""

from polywheel.settings.model import Settings
from polywheel.settings.reader import read_settings

__all__ = ["Settings", "read_settings"]
