"""Every system route: readiness, metrics, runtime logs, debug translate; never a dialect's."""
