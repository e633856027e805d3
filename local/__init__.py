"""The offline pipeline: the same schema, SQL and visuals on embedded defaults."""
