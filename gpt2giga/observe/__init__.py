"""Per-request observation: the record, its one entry point, metrics, logs, traffic, redaction."""
