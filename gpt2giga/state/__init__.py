"""State that outlives a request (concurrency limits): in-process by default."""
