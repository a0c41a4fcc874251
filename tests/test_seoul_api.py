"""Tests for sharemap._seoul_api: paging, errors and read-back, with replayed responses.

No test touches the network: ``_http_get`` is replaced by functions that answer like
the Seoul open API's ``bikeList`` service.
"""

from __future__ import annotations

import json
import urllib.error

import pytest

from sharemap import _seoul_api
from sharemap._errors import NetworkDownloadError
from sharemap.layers import read_layer


def _api_page(start: int, n: int) -> bytes:
    rows = [{"rackTotCnt": "10", "stationName": f"{i}. 대여소", "parkingBikeTotCnt": "3",
             "shared": "30", "stationLatitude": "37.58", "stationLongitude": "127.05",
             "stationId": f"ST-{i}"} for i in range(start, start + n)]
    return json.dumps({"rentBikeStatus": {"list_total_count": n, "RESULT": {
        "CODE": "INFO-000", "MESSAGE": "정상 처리되었습니다."}, "row": rows}},
        ensure_ascii=False).encode("utf-8")


def test_fetch_ttareungyi_pages_until_short_page(monkeypatch):
    urls: list[str] = []

    def fake_get(url: str, *, timeout: float = 30.0) -> bytes:
        urls.append(url)
        start = int(url.rstrip("/").split("/")[-2])
        return _api_page(start, 1000 if start < 2001 else 345)

    monkeypatch.setattr(_seoul_api, "_http_get", fake_get)
    monkeypatch.setenv("SEOUL_API_KEY", "k3y")
    stations = _seoul_api.fetch_ttareungyi_stations()
    assert [u.split("bikeList/")[1] for u in urls] == ["1/1000/", "1001/2000/", "2001/3000/"]
    assert all("/k3y/json/" in u for u in urls)
    assert len(stations) == 2345
    assert stations["stationId"].iloc[-1] == "ST-2345"
    assert stations["stationLatitude"].iloc[0] == 37.58


def test_fetch_ttareungyi_stops_on_no_data_answer(monkeypatch):
    def fake_get(url: str, *, timeout: float = 30.0) -> bytes:
        if "/1001/" in url:
            return b'{"RESULT": {"CODE": "INFO-200", "MESSAGE": "no data"}}'
        return _api_page(1, 1000)

    monkeypatch.setattr(_seoul_api, "_http_get", fake_get)
    assert len(_seoul_api.fetch_ttareungyi_stations(api_key="k")) == 1000


def test_fetch_ttareungyi_errors_are_one_line(monkeypatch):
    monkeypatch.delenv("SEOUL_API_KEY", raising=False)
    with pytest.raises(NetworkDownloadError, match="SEOUL_API_KEY"):
        _seoul_api.fetch_ttareungyi_stations()

    def offline(url: str, *, timeout: float = 30.0) -> bytes:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(_seoul_api, "_http_get", offline)
    with pytest.raises(NetworkDownloadError, match="cannot reach") as err:
        _seoul_api.fetch_ttareungyi_stations(api_key="secret-key")
    assert "secret-key" not in str(err.value)

    def refused(url: str, *, timeout: float = 30.0) -> bytes:
        return b'{"RESULT": {"CODE": "INFO-100", "MESSAGE": "invalid key"}}'

    monkeypatch.setattr(_seoul_api, "_http_get", refused)
    with pytest.raises(NetworkDownloadError, match="INFO-100 invalid key"):
        _seoul_api.fetch_ttareungyi_stations(api_key="bad")


def test_fetched_stations_read_back_with_preset(tmp_path, monkeypatch):
    monkeypatch.setattr(_seoul_api, "_http_get", lambda url, timeout=30.0: _api_page(1, 3))
    f = tmp_path / "stations.csv"
    _seoul_api.fetch_ttareungyi_stations(api_key="k").to_csv(f, index=False)
    spaces, _ = read_layer(f, category="bike", preset="ttareungyi")
    assert spaces["space_id"].tolist() == ["ST-1", "ST-2", "ST-3"]
