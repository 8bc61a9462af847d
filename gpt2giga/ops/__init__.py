"""Every system route: health, ping, readiness, metrics and runtime logs; never a dialect's."""
