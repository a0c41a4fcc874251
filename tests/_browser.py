"""Headless Chromium for the browser tests (no network, fresh profile).

Tests marked ``browser`` use :func:`launch`; :func:`skip_reason` says why they cannot run
(Chromium, chromedriver or selenium missing). On Debian/Ubuntu CI:
``apt-get install -y chromium chromium-driver`` and ``pip install selenium``.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

CHROME_NAMES = ("chromium", "chromium-browser", "google-chrome")
DRIVER_NAMES = ("chromedriver",)
CHROME_ARGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-dev-shm-usage", "--window-size=1100,850",
)
# Console messages about base tiles that cannot load offline are expected.
NETWORK_ERRORS = ("ERR_NAME_NOT_RESOLVED", "ERR_INTERNET_DISCONNECTED", "ERR_CONNECTION",
                  "ERR_NETWORK", "ERR_PROXY", "ERR_ADDRESS_UNREACHABLE", "ERR_TIMED_OUT")


def _which(names: tuple[str, ...]) -> str | None:
    for name in names:
        found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists()
                                       else None)
        if found:
            return found
    return None


def skip_reason() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install 'sharemap[test]')"
    if _which(CHROME_NAMES) is None:
        return "Chromium not found (apt-get install -y chromium)"
    if _which(DRIVER_NAMES) is None:
        return "chromedriver not found (apt-get install -y chromium-driver)"
    return None


def launch() -> Any:
    """Start headless Chromium with a fresh temporary profile; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _which(CHROME_NAMES)
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    profile = tempfile.mkdtemp(prefix="sharemap-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # An explicit driver path keeps Selenium Manager from trying to download one.
    driver = webdriver.Chrome(options=options, service=Service(_which(DRIVER_NAMES)))
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(15)
    driver._sharemap_profile = profile  # removed by quit()
    return driver


def quit_browser(driver: Any) -> None:
    """Quit the browser and remove its profile folder."""
    profile = getattr(driver, "_sharemap_profile", None)
    driver.quit()
    if profile:
        shutil.rmtree(profile, ignore_errors=True)


def open_file(driver: Any, path: Path) -> None:
    """Load a local HTML file and drop the logs of earlier pages."""
    driver.get_log("browser")
    driver.get_log("performance")
    driver.get(path.resolve().as_uri())


def severe_errors(driver: Any, tile_hosts: tuple[str, ...] = ()) -> list[str]:
    """SEVERE console messages, except failed loads from the given tile hosts."""
    out = []
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        msg = entry["message"]
        if any(h in msg for h in tile_hosts) and (
                any(e in msg for e in NETWORK_ERRORS) or "Failed to load resource" in msg):
            continue
        out.append(msg)
    return out


def requested_urls(driver: Any) -> list[str]:
    """URLs the page asked the network stack for since it was opened."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


_COUNT_COLOURS = """
const done = arguments[arguments.length - 1];
const img = new Image();
img.onload = () => {
    const c = document.createElement("canvas");
    c.width = img.width; c.height = img.height;
    const ctx = c.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4) { seen.add((d[i] << 16) | (d[i+1] << 8) | d[i+2]); }
    done(seen.size);
};
img.onerror = () => done(-1);
img.src = "data:image/png;base64," + arguments[0];
"""


def distinct_colours(driver: Any, png: bytes) -> int:
    """Number of distinct RGB colours in a PNG, decoded by the browser's canvas."""
    return int(driver.execute_async_script(_COUNT_COLOURS, base64.b64encode(png).decode()))
