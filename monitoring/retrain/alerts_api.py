"""Reading the firing alerts from Prometheus' HTTP API (`GET /api/v1/alerts`).

The trigger polls Prometheus rather than receiving Alertmanager's webhook: the API always says what fires now, so a
trigger that was down (or restarted) catches up on its first poll instead of depending on a notification it may
have missed, and there is one process fewer to run (docs/monitoring.md, "Closing the loop").
"""

from __future__ import annotations

import math
import re
from datetime import datetime

import httpx
from pydantic import ValidationError

from monitoring.errors import PrometheusUnreachableError
from monitoring.retrain.decide import FiringAlert

# RFC 3339 with up to nanoseconds ("2026-12-02T06:55:13.123456789Z"); Python's parser takes microseconds.
_FRACTION = re.compile(r"(\.\d{6})\d+")


def read_alerts(prometheus_url: str, timeout_s: float = 5.0, client: httpx.Client | None = None) -> list[FiringAlert]:
    url = f"{prometheus_url.rstrip('/')}/api/v1/alerts"
    try:
        answer = (client or httpx).get(url, timeout=timeout_s)
        answer.raise_for_status()
        body = answer.json()
        return [_alert(raw) for raw in body["data"]["alerts"]]
    except httpx.HTTPStatusError as exc:
        raise PrometheusUnreachableError(prometheus_url, f"HTTP {exc.response.status_code}") from None
    except httpx.HTTPError as exc:
        raise PrometheusUnreachableError(prometheus_url, str(exc) or type(exc).__name__) from None
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise PrometheusUnreachableError(prometheus_url, f"unexpected answer ({exc})") from None


def _alert(raw: dict) -> FiringAlert:
    labels = {str(k): str(v) for k, v in raw["labels"].items()}
    return FiringAlert(
        name=labels.get("alertname", ""),
        state=raw["state"],
        labels=labels,
        active_at_s=parse_time(raw["activeAt"]),
        value=_number(raw.get("value")),
    )


def parse_time(text: str) -> float:
    return datetime.fromisoformat(_FRACTION.sub(r"\1", text).replace("Z", "+00:00")).timestamp()


def _number(text: object) -> float | None:
    try:
        value = float(text)  # Prometheus sends sample values as strings
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
