"""Errors that carry a stable code, an HTTP status and a message that says what to do."""

from __future__ import annotations


class ParleyError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadRequest(ParleyError):
    code = "bad_request"


class Invalid(ParleyError):
    code = "invalid"
    status = 422


class Unauthorized(ParleyError):
    code = "unauthorized"
    status = 401


class Forbidden(ParleyError):
    code = "forbidden"
    status = 403


class NotFound(ParleyError):
    code = "not_found"
    status = 404


class Conflict(ParleyError):
    code = "conflict"
    status = 409


class PayloadTooLarge(ParleyError):
    code = "payload_too_large"
    status = 413


class RateLimited(ParleyError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SpamRejected(ParleyError):
    """The spam filter refused a message outright (its score passed PARLEY_SPAM_REJECT)."""

    code = "spam"
    status = 422


class Unavailable(ParleyError):
    code = "unavailable"
    status = 503


class TooManyConnections(ParleyError):
    code = "too_many_connections"
    status = 429
