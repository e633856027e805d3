"""Compaction of the curated tables' closed store-days (the logic behind ``app.handler``)."""
