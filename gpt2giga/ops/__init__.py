"""Every system route: health, readiness, metrics, runtime logs, debug translate, admin."""
