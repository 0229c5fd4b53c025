"""Why a check could not pass, as a :class:`reentry.model.FailureClass`: pure mapping of causes.

The class tells the on-call engineer where to look: Unreachable (the network or the system is
down), Unauthorized (credentials or RBAC), NoData (the system answers but has nothing yet),
ThresholdMissed (the value is there and wrong), InvalidConfiguration (the plan itself is wrong:
a PromQL syntax error, a Secret or key that does not exist, a malformed path, an unknown kind).
"""

from __future__ import annotations

import ssl

import httpx2 as httpx

from reentry import errors, paths
from reentry.httpclient import InvalidMaterial, MissingReference
from reentry.model import FailureClass
from reentry.objects import InvalidName, UnexpectedObject, UnknownKind

_UNAUTHORIZED = (401, 403)


def for_status(code: int) -> FailureClass:
    """The class of an HTTP error answer from the system a check asked (not the API server).

    401/403: the credentials; 404 and other 4xx: the request the plan makes (a wrong URL or
    query); 5xx and 429: the system is not serving right now.
    """
    if code in _UNAUTHORIZED:
        return FailureClass.UNAUTHORIZED
    if code == 429 or code >= 500:
        return FailureClass.UNREACHABLE
    return FailureClass.INVALID_CONFIGURATION


def classify(err: BaseException) -> FailureClass | None:
    """The class of an exception a probe raised; None when the cause is in the code, not the world."""
    if isinstance(err, httpx.TransportError):
        # Refused, reset, timed out, or TLS that does not verify: no answer to judge.
        return FailureClass.UNREACHABLE
    if isinstance(err, httpx.HTTPStatusError):
        return for_status(err.response.status_code)
    if isinstance(err, errors.Forbidden):
        return FailureClass.UNAUTHORIZED  # the operator's own RBAC refuses what the check reads
    if isinstance(err, errors.Invalid | errors.NotFound):
        return FailureClass.INVALID_CONFIGURATION
    if isinstance(err, errors.ApiRefused):
        return FailureClass.UNREACHABLE
    if isinstance(err, MissingReference | InvalidMaterial | UnknownKind | InvalidName | UnexpectedObject
                  | paths.InvalidPath):
        return FailureClass.INVALID_CONFIGURATION
    if isinstance(err, ssl.SSLError | ValueError):  # e.g. a CA bundle or a value the spec points at is malformed
        return FailureClass.INVALID_CONFIGURATION
    return None
