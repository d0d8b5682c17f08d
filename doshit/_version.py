"""The package version: the wheel's too (pyproject.toml reads it from here)."""

__version__ = "2.0.0"
