"""The operator console in a real browser against the real stack (PostgreSQL, Redis, a worker, the fakes):
log in, find a customer by a phone typed differently, read the timeline, fix the address in Shopify, replay
the failed Heartland sync and see it succeed; search Shopify duplicates and merge a pair; no action without
the CSRF token, no page without the login."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.wait import WebDriverWait

from possync.adapters.shopify.webhooks import customer_payload
from possync.models.db import session_scope
from possync.models.tables import ConsoleAction, JobStatus, SyncJob
from tests.e2e.browser import chromium, screenshot, statuses
from tests.e2e.conftest import CONSOLE_LOGIN
from tests.e2e.harness import Shop, wait_for
from tests.e2e.port_forward import outside_address, port_forward
from tests.e2e.test_shopify_to_pos import finished


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    driver = chromium(CONSOLE_LOGIN)
    yield driver
    driver.quit()


def _failed_heartland_sync(make_shop, db_url: str) -> tuple[Shop, str, SyncJob]:  # type: ignore[no-untyped-def]
    shop = make_shop("heartland")
    customer_id = shop.shopify.add_customer("Jo", "Kim", "jo.kim@example.com", "+1 613-555-0199")  # no address
    shop.send("customers/create", customer_payload(id=customer_id, email="jo.kim@example.com"))
    [job] = wait_for(lambda: finished(db_url), what="the Heartland sync to fail")
    assert job.status == JobStatus.FAILED.value and job.last_error_class == "missing_fields", job.last_error
    return shop, customer_id, job


def _click(browser: WebDriver, element: WebElement) -> None:
    """Click and wait for the page it leads to (a click returns before a form's navigation ends).

    The click is the element's own `click()` run in the page: chromedriver's native click, racing the
    navigation it starts, sometimes answered HTTP 500 "unhandled inspector error" (and a retry could submit
    twice). What a native click checks for the operator, that the element is shown and enabled, is asserted."""
    assert element.is_displayed() and element.is_enabled(), element.get_attribute("outerHTML")
    page = browser.find_element(By.TAG_NAME, "html")
    browser.execute_script("arguments[0].click()", element)
    WebDriverWait(browser, 30).until(staleness_of(page))


def _text(browser: WebDriver) -> str:
    return browser.find_element(By.TAG_NAME, "body").text


def _job(db_url: str, job_id: int) -> SyncJob:
    with session_scope(db_url) as session:
        return session.get_one(SyncJob, job_id)


def test_find_read_fix_replay_and_see_it_succeed(make_shop, db_url: str, receiver, browser: WebDriver) -> None:  # type: ignore[no-untyped-def]
    shop, customer_id, job = _failed_heartland_sync(make_shop, db_url)
    console = f"{receiver.url}/console"

    browser.get(f"{console}/tenants")
    assert shop.name in _text(browser) and "heartland" in _text(browser)
    screenshot(browser, "1-tenants")

    browser.get(f"{console}/customers")
    browser.find_element(By.ID, "q").send_keys("(613) 555 0199")  # Shopify holds +16135550199
    _click(browser, browser.find_element(By.ID, "search"))
    results = browser.find_element(By.ID, "results").text
    assert shop.name in results and customer_id in results and "phone" in results
    screenshot(browser, "2-search")
    _click(browser, browser.find_element(By.CSS_SELECTOR, "#results a.story"))
    timeline = browser.find_element(By.ID, "timeline").text
    assert f"job {job.id} failed at" in timeline and "missing_fields" in timeline
    assert "shopify webhook customers/create" in timeline and "HTTP" in timeline
    assert "jo.kim@example.com" not in _text(browser) and "j***@example.com" in _text(browser)  # masked
    screenshot(browser, "3-story-failed")

    browser.get(f"{console}/failed?tenant={shop.name}")
    row = browser.find_element(By.ID, f"job-{job.id}")
    assert "Heartland needs an email and a complete address" in row.text and "Fix the customer in Shopify" in row.text
    screenshot(browser, "4-failed")
    with shop.shopify.lock:  # the merchant fixes the address in Shopify
        shop.shopify._customers[customer_id]["addresses"] = [
            {"address1": "1 Main St", "city": "Austin", "province_code": "TX", "zip": "78701", "country_code": "US"}]
    _click(browser, row.find_element(By.CSS_SELECTOR, "button.replay-one"))
    assert f"replay of job {job.id}: replayed 1" in _text(browser)

    story = f"{console}/customers/{shop.name}/{customer_id}"

    def succeeded() -> bool:
        browser.get(story)
        return f"job {job.id} created" in browser.find_element(By.ID, "timeline").text

    wait_for(succeeded, timeout=60, interval=0.5, what="the replayed sync to show as created")
    assert _job(db_url, job.id).status == JobStatus.SUCCEEDED.value
    assert len(shop.pos.records) == 1
    assert "operator: replay" in _text(browser)
    screenshot(browser, "5-story-replayed")
    _click(browser, browser.find_element(By.ID, "reveal"))  # the reveal is recorded, then the data shown
    assert "jo.kim@example.com" in _text(browser)
    browser.get(f"{console}/matches")
    screenshot(browser, "6-matches")
    browser.get(f"{console}/audit")
    assert "reveal" in _text(browser) and "replay" in _text(browser)
    screenshot(browser, "7-audit")


def test_shopify_duplicates_searched_by_a_worker_then_merged(make_shop, db_url: str, receiver,  # type: ignore[no-untyped-def]
                                                              browser: WebDriver) -> None:
    shop = make_shop("heartland")
    older = shop.shopify.add_customer("Lu", "Park", "Lu.Park@example.com", None)
    newer = shop.shopify.add_customer("Lu", None, "lu.park@example.com ", None)  # one person by the email key
    matches = f"{receiver.url}/console/matches"
    browser.get(matches)
    row = browser.find_element(By.CSS_SELECTOR, f"tr.tenant-{shop.name}")
    assert "not searched yet" in row.text
    _click(browser, row.find_element(By.CSS_SELECTOR, "button.scan"))  # the search runs in the worker
    assert "Shopify customers started" in _text(browser)

    def listed() -> bool:
        browser.get(matches)
        return f"Merge {newer} into {older}" in browser.find_element(By.ID, "duplicates").text

    wait_for(listed, timeout=60, interval=0.5, what="the worker's search to list the pair")
    assert "email" in browser.find_element(By.CSS_SELECTOR, f"tr.tenant-{shop.name}").text
    screenshot(browser, "8-shopify-duplicates")
    _click(browser, browser.find_element(By.CSS_SELECTOR, f"tr.tenant-{shop.name} button.merge"))
    assert f"merged Shopify customer {newer} into {older}" in _text(browser)
    assert newer not in shop.shopify.customers and older in shop.shopify.customers
    assert f"Merge {newer} into" not in _text(browser)  # no longer offered
    with session_scope(db_url) as session:
        assert [a.action for a in session.query(ConsoleAction).order_by(ConsoleAction.id)] == [
            "duplicate_scan", "shopify_merge"]


def test_no_action_without_the_csrf_token(make_shop, db_url: str, receiver, browser: WebDriver) -> None:  # type: ignore[no-untyped-def]
    _, _, job = _failed_heartland_sync(make_shop, db_url)
    browser.get(f"{receiver.url}/console/failed")
    row = browser.find_element(By.ID, f"job-{job.id}")
    browser.execute_script("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    _click(browser, row.find_element(By.CSS_SELECTOR, "button.replay-one"))
    assert "CSRF token" in _text(browser)
    assert _job(db_url, job.id).status == JobStatus.FAILED.value
    with session_scope(db_url) as session:
        assert session.query(ConsoleAction).count() == 0


def test_the_console_works_through_a_published_port(make_shop, db_url: str, receiver, browser: WebDriver) -> None:  # type: ignore[no-untyped-def]
    """Compose's console: the browser at http://127.0.0.1:8001, the container seeing the bridge's address. The
    session cookie is then Secure; the browser must still keep it over that plain-http loopback URL, or no
    action passes its CSRF check."""
    _, _, job = _failed_heartland_sync(make_shop, db_url)
    with port_forward(receiver.server.port, outside_address()) as port:
        browser.get(f"http://127.0.0.1:{port}/console/failed")
        [cookie] = browser.get_cookies()
        assert cookie["secure"] and cookie["httpOnly"], cookie  # what compose's operator gets
        row = browser.find_element(By.ID, f"job-{job.id}")
        _click(browser, row.find_element(By.CSS_SELECTOR, "button.replay-one"))
        assert f"replay of job {job.id}: replayed 1" in _text(browser), _text(browser)


def test_no_page_without_the_login(receiver) -> None:  # type: ignore[no-untyped-def]
    stranger = chromium()
    try:
        for page in ("tenants", "failed", "customers?q=1", "matches", "audit"):
            stranger.get(f"{receiver.url}/console/{page}")
            assert statuses(stranger, f"/console/{page}") == [401], page
            assert "possync console" not in stranger.page_source and "csrf_token" not in stranger.page_source
    finally:
        stranger.quit()
