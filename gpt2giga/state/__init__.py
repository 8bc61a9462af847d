"""State that outlives a request (concurrency limits, expiring maps): in-process by default."""
