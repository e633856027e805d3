"""Analytics in code: Athena named queries (``queries/*.sql``) and QuickSight definitions."""
