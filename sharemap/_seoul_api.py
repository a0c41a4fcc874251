"""Seoul Open Data Plaza API: the current Ttareungyi station list (needs the internet).

The ``bikeList`` service returns at most 1,000 stations per request, so the list is
fetched in pages (1-1000, 1001-2000, ...) until a short or empty page. The key comes
from the ``api_key`` argument or the ``SEOUL_API_KEY`` environment variable (get one at
https://data.seoul.go.kr). The result has the API's own columns (``stationId``,
``stationName``, ``stationLatitude``, ``stationLongitude``, ...); saved as CSV it is
read back with ``preset = "ttareungyi"``.

This module is the only part of the layer code that touches the network; tests
replace :func:`_http_get`.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from typing import Any

import pandas as pd

from ._errors import NetworkDownloadError

__all__ = ["fetch_ttareungyi_stations"]

logger = logging.getLogger(__name__)

BIKE_LIST_URL = "http://openapi.seoul.go.kr:8088/{key}/json/bikeList/{start}/{end}/"
PAGE_SIZE = 1000
_NUMERIC = ("stationLatitude", "stationLongitude", "rackTotCnt", "parkingBikeTotCnt", "shared")


def _http_get(url: str, *, timeout: float = 30.0) -> bytes:
    """Return the body of a GET request (replaced in tests)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bytes(response.read())


def _page(key: str, start: int, end: int) -> dict[str, Any]:
    url = BIKE_LIST_URL.format(key=key, start=start, end=end)
    try:
        body = _http_get(url)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        msg = (f"cannot reach the Seoul open-data API ({reason}); check the network, or "
               "download the station file and read it with preset = \"ttareungyi\"")
        raise NetworkDownloadError(msg) from None
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        msg = f"the Seoul open-data API sent an answer that is not JSON (stations {start}-{end})"
        raise NetworkDownloadError(msg) from None
    if not isinstance(doc, dict):
        msg = "the Seoul open-data API sent an unexpected answer"
        raise NetworkDownloadError(msg)
    return doc


def fetch_ttareungyi_stations(*, api_key: str | None = None, max_pages: int = 50
                              ) -> pd.DataFrame:
    """Download the current Ttareungyi station list from Seoul's open-data API.

    Parameters
    ----------
    api_key
        The Seoul Open Data Plaza key (default: the ``SEOUL_API_KEY`` environment
        variable).
    max_pages
        Safety limit on the number of 1,000-station pages.

    Returns
    -------
    stations
        One row per station with the API's columns; coordinates and counts as numbers.

    Raises
    ------
    NetworkDownloadError
        Without a key, without a network, or when the API refuses the request.
    """
    key = api_key or os.environ.get("SEOUL_API_KEY", "").strip()
    if not key:
        msg = ("no Seoul open-data API key: set the SEOUL_API_KEY environment variable (a key "
               "from https://data.seoul.go.kr) or pass `api_key`")
        raise NetworkDownloadError(msg)
    rows: list[dict[str, Any]] = []
    for page in range(max_pages):
        start = page * PAGE_SIZE + 1
        doc = _page(key, start, start + PAGE_SIZE - 1)
        status = doc.get("rentBikeStatus")
        result = (status or doc).get("RESULT") or {}
        code = str(result.get("CODE", "INFO-000"))
        if code == "INFO-200":  # "no data": the previous page was the last
            break
        if status is None or code != "INFO-000":
            msg = (f"the Seoul open-data API refused the request: {code} "
                   f"{result.get('MESSAGE', '')}".strip())
            raise NetworkDownloadError(msg)
        got = status.get("row") or []
        rows.extend(got)
        if len(got) < PAGE_SIZE:
            break
    stations = pd.DataFrame(rows)
    for col in _NUMERIC:
        if col in stations.columns:
            stations[col] = pd.to_numeric(stations[col], errors="coerce")
    logger.info("Downloaded %d Ttareungyi stations from the Seoul open-data API", len(stations))
    return stations
