"""Headless Chromium from the Debian packages (`scripts/services.sh` ensure_chromium) driven by selenium."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"  # gitignored


def chromium(login: str | None = None) -> webdriver.Chrome:
    """A headless browser; with `login` it sends that basic-auth login on every request (as a browser does
    once the operator typed it into the prompt)."""
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver:
        pytest.fail("chromium and chromedriver are not installed: run `source scripts/services.sh && ensure_chromium`")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # to read response statuses
    browser = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    if login:
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {
            "Authorization": "Basic " + base64.b64encode(login.encode()).decode()}})
    return browser


def screenshot(browser: webdriver.Chrome, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def statuses(browser: webdriver.Chrome, url_part: str) -> list[int]:
    """HTTP statuses of the documents loaded since the last call whose URL contains `url_part`."""
    import json

    found = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.responseReceived" and message["params"].get("type") == "Document":
            response = message["params"]["response"]
            if url_part in response["url"]:
                found.append(int(response["status"]))
    return found
