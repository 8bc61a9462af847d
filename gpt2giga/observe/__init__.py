"""What is observed of each request (the record, access log, metrics, traffic log, redaction)."""
