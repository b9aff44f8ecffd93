"""The error type that carries an HTTP status through the protocol code."""


class FederationError(Exception):
    """An HTTP-facing failure: status code, a message safe to send to the remote,
    and the internal cause for our logs."""

    def __init__(self, status: int, message: str, cause: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.cause = cause
