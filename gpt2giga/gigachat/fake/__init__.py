"""The fake GigaChat: the server (demo mode, tests, benchmarks) and what it answers."""
