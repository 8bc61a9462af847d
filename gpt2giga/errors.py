"""The gateway's error family: a status and a kind, nothing dialect-specific.

Each dialect renders these in its own shape (`*/translate.py: error_body`);
nothing here knows about httpx, ASGI or a wire format.
"""

from __future__ import annotations


class GatewayError(Exception):
    """A failure with a meaning every dialect can express."""

    status = 500
    kind = "api_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.retry_after = retry_after


class BadRequest(GatewayError):
    status = 400
    kind = "invalid_request"


class Unsupported(BadRequest):
    """Valid for the client's API, but GigaChat cannot do it."""

    kind = "unsupported"


class Unauthorized(GatewayError):
    status = 401
    kind = "unauthorized"


class Forbidden(GatewayError):
    status = 403
    kind = "forbidden"


class NotFound(GatewayError):
    status = 404
    kind = "not_found"


class MethodNotAllowed(GatewayError):
    status = 405
    kind = "method_not_allowed"


class PayloadTooLarge(GatewayError):
    status = 413
    kind = "payload_too_large"


class RateLimited(GatewayError):
    status = 429
    kind = "rate_limited"


class UpstreamError(GatewayError):
    status = 502
    kind = "upstream_error"


class Overloaded(GatewayError):
    """GigaChat answered 503, or the gateway is draining."""

    status = 503
    kind = "overloaded"


class StateUnavailable(GatewayError):
    """The shared state store (Redis, or the SQLite file of a one-box gateway) cannot be reached."""

    status = 503
    kind = "state_unavailable"


class UpstreamTimeout(GatewayError):
    status = 504
    kind = "upstream_timeout"


# Upstream statuses that keep their meaning for the client; 422 is a bad
# request in every client dialect; every other failure is the gateway's 502.
UPSTREAM_STATUS: dict[int, type[GatewayError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    413: PayloadTooLarge,
    422: BadRequest,
    429: RateLimited,
    503: Overloaded,
    504: UpstreamTimeout,
}


def from_upstream(status: int, message: str, retry_after: float | None = None) -> GatewayError:
    cls = UPSTREAM_STATUS.get(status, UpstreamError)
    return cls(message, retry_after=retry_after)
