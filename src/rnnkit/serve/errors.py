"""A request the server refuses, as the JSON a client reads: what is wrong and how to fix it.

Every refusal is {"error": WHAT, "fix": HOW} with a 4xx status; a predictor that fails on an input
becomes 422 (it said what it could not use) or 500 (it broke), and the server goes on serving.
"""

from __future__ import annotations

import logging
from typing import Any

LOG = logging.getLogger("rnnkit.serve")
CHECK_INPUT = "compare the request with GET /metadata (what this run reads) and the examples at /docs"


class RequestError(Exception):
    """A refused request: HTTP `status`, `message` (what is wrong) and `fix` (what to send instead)."""

    def __init__(self, status: int, message: str, fix: str = CHECK_INPUT) -> None:
        super().__init__(message)
        self.status, self.message, self.fix = status, message, fix

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "fix": self.fix}


def from_exception(error: Exception) -> RequestError:
    """A predictor's exception as a refusal. rnnkit's predictors raise ValueError or TypeError
    with a message naming the bad input, so those are the client's to fix (422); anything else
    is a fault of the model or of rnnkit (500), logged with its traceback."""
    if isinstance(error, RequestError):
        return error
    if isinstance(error, (ValueError, TypeError, KeyError, IndexError)):
        return RequestError(422, f"the model cannot use this input: {error}")
    LOG.error("predictor failed", exc_info=error)
    return RequestError(500, f"the model failed on this input ({type(error).__name__}: {error}); the server is "
                        "still running", "try another input; if this one should work, report it with the input")
