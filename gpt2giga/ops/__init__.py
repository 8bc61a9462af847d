"""Every system route: health, readiness, metrics and runtime logs; never a dialect's."""
