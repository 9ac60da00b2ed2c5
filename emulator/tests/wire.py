"""Requests sent as raw JSON 1.1, the way a client without botocore's checks sends them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def send(endpoint_url: str, operation: str, params: Any) -> tuple[int, dict[str, Any]]:
    """POST ``params`` to SageMaker.<operation>; return the HTTP status and the JSON body."""
    request = urllib.request.Request(
        endpoint_url + "/",
        data=json.dumps(params).encode(),
        method="POST",
        headers={
            "X-Amz-Target": f"SageMaker.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
