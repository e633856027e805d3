"""Shopper Sentiment edge capture agent: motion stills to S3, once, verified."""

__version__ = "0.1.0"
