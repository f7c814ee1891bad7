"""The bottom layer: atomic file writes, TOML writing and typed values for config fields.
Imports nothing of rnnkit."""

from __future__ import annotations

from .fields import ConfigError as ConfigError
from .files import atomic_write as atomic_write

__all__ = ["ConfigError", "atomic_write"]
