"""The library's version: one place, read by the build (pyproject.toml) and by ``shopper_sentiment.__version__``."""

__version__ = "0.1.0"
