"""Browser tests: Debian's headless Chromium, driven by Playwright, against the whole platform
running as `make demo` runs it (demo region, simulated gateways), on services of its own.

Screenshots of every main page are written to ``$DUSTTWIN_SCREENSHOTS`` (default
``var/test-artefacts/screenshots``); docs/user-guide.md shows copies of them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import pytest
import redis
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from dusttwin.demo import DEMO_PASSWORD
from dusttwin.settings import Settings
from tests.api.demo_data import OWN
from tests.browser.platform import REDIS_DB, Platform, start_platform
from tests.connectors.private_services import PrivateDynsecMosquitto, free_port

CHROMIUM: Final = "/usr/bin/chromium"
# as the machine's notes say: without the background-networking flags Chromium keeps trying to
# reach Google's hosts, which this offline machine refuses
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# the simulator raises a sensor fault on the first Baoshan enterprise (user qiye-310113)
SCENARIOS: Final = [f"{OWN.record.credit_code}=sensor_fault"]
DESKTOP: Final[ViewportSize] = {"width": 1366, "height": 900}
PHONE: Final[ViewportSize] = {"width": 390, "height": 844}


# package scope: the platform's processes and Playwright's event loop (which keeps asyncio.run
# and pytest-asyncio from running in this thread) end with the browser tests, not with the session
@pytest.fixture(scope="package")
def platform(
    settings: Settings,
    fresh_database: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:
    """The platform with the demo region and the simulator, for the whole browser session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `deploy/local/services.sh up` (or `make test`)")
    root = tmp_path_factory.mktemp("platform")
    redis_url = settings.redis_url.get_secret_value().rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()  # no scheduler claims left from an earlier run
    broker = PrivateDynsecMosquitto(
        root / "mqtt", free_port(), "dusttwin-admin", secrets.token_urlsafe(18)
    )
    broker.configure()
    broker.start()
    dsn = fresh_database("dusttwin_test_browser")
    (root / "logs").mkdir()
    try:
        running = start_platform(dsn, root / "data", root / "logs", redis_url, broker, SCENARIOS)
    except BaseException:
        broker.stop()
        raise
    yield running
    running.stop()
    broker.stop()


@pytest.fixture(scope="package")
def browser(platform: Platform) -> Iterator[Browser]:
    """Headless Chromium from Debian (no browser download).

    Playwright's synchronous API keeps an event loop running in this thread, where
    ``asyncio.run`` then refuses to run: the fixtures that use it (the platform's) come first.
    """
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the tests leave their screenshots (test artefacts)."""
    where = Path(os.environ.get("DUSTTWIN_SCREENSHOTS", "var/test-artefacts/screenshots"))
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture
def login(browser: Browser, platform: Platform) -> Iterator[Callable[..., Page]]:
    """``login(username, next_path, phone=False)``: a new browser context logged in through the
    login form, on ``next_path``; closed after the test."""
    contexts = []

    def open_as(username: str, next_path: str, *, phone: bool = False) -> Page:
        context = browser.new_context(
            viewport=PHONE if phone else DESKTOP,
            locale="zh-CN",
            device_scale_factor=1,
            is_mobile=phone,
            has_touch=phone,
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{platform.dash_url}/login?next={next_path}")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(f"**{next_path}")
        return page

    yield open_as
    for context in contexts:
        context.close()
    platform.check_alive()
