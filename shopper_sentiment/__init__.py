"""Shopper Sentiment's operator tooling: the ``shopper-sentiment`` console script and its subcommands."""
