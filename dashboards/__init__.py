"""Analytics in code: Athena named queries (``queries/*.sql``), QuickSight definitions, the local renderer.

Installed as ``shopper_sentiment.dashboards`` (pyproject.toml maps this folder into the package).
"""
