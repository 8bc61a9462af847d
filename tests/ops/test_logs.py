"""ops/logs.py: the log views' routes, the allowlist behind proxies, the viewer page's content."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
from html.parser import HTMLParser
from ipaddress import ip_address
from urllib.parse import urljoin

import httpx
import pytest

from gpt2giga.app import App
from gpt2giga.observe.logs import Ring
from gpt2giga.ops import logs
from gpt2giga.ops.logs import Allowlist, Tail
from tests.conftest import build_app

KEYED = {"GPT2GIGA_ENABLE_API_KEY_AUTH": "true", "GPT2GIGA_API_KEY": "k-1"}


def from_address(app: App, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


async def started(**env: str) -> App:
    app = build_app(**env)
    await app.startup()
    return app


# --- who may read -------------------------------------------------------------------------


def scope(peer: str, *forwarded: str) -> dict[str, object]:
    headers = [(b"x-forwarded-for", f.encode()) for f in forwarded]
    return {"client": (peer, 1234), "headers": headers}


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("10.0.0.9", [], "10.0.0.9"),
        # X-Forwarded-For from an untrusted peer is the client's own claim: ignored.
        ("10.0.0.9", ["127.0.0.1"], "10.0.0.9"),
        ("172.18.0.2", ["127.0.0.1"], "127.0.0.1"),
        # nginx appends the address it saw; what the client wrote stands to its left.
        ("172.18.0.2", ["127.0.0.1, 203.0.113.7"], "203.0.113.7"),
        # two trusted hops (a load balancer, then nginx), then the client
        ("172.18.0.2", ["198.51.100.4, 172.18.0.3"], "198.51.100.4"),
        # repeated headers are one list, in order
        ("172.18.0.2", ["198.51.100.4", "172.18.0.3"], "198.51.100.4"),
        # every hop trusted: the leftmost is as far as the chain goes
        ("172.18.0.2", ["172.18.0.5"], "172.18.0.5"),
        ("172.18.0.2", [], "172.18.0.2"),
        # an unreadable hop is nobody we can allow
        ("172.18.0.2", ["127.0.0.1, unknown"], None),
        ("::1", [], "::1"),
    ],
)
def test_the_client_is_the_nearest_untrusted_hop(
    peer: str, forwarded: list[str], client: str | None
) -> None:
    allowlist = Allowlist(["127.0.0.1"], ["172.18.0.0/16"])
    found = allowlist.client(scope(peer, *forwarded))
    assert found == (ip_address(client) if client else None)


def test_allowlist_takes_addresses_and_networks_and_empty_means_everyone() -> None:
    allowlist = Allowlist(["127.0.0.1", "10.1.0.0/16", "::1"], [])
    assert allowlist.allows(scope("127.0.0.1"))
    assert allowlist.allows(scope("10.1.200.3"))
    assert allowlist.allows(scope("::1"))
    assert not allowlist.allows(scope("10.2.0.1"))
    assert not allowlist.allows({"headers": []})  # no peer address at all (a unix socket)
    assert Allowlist([], []).allows(scope("203.0.113.7"))


async def test_every_log_view_refuses_an_address_outside_the_allowlist() -> None:
    env = {"GPT2GIGA_LOGS_IP_ALLOWLIST": "127.0.0.1", "GPT2GIGA_LOGS_TRUSTED_PROXIES": "10.9.0.1"}
    app = await started(**env)
    try:
        async with from_address(app, "10.0.0.9") as outsider:
            refused = [await outsider.get(p) for p in ("/logs", "/logs/3", "/logs/html")]
            stream = await outsider.get("/logs/stream")
            spoofed = await outsider.get("/logs/3", headers={"x-forwarded-for": "127.0.0.1"})
        async with from_address(app, "127.0.0.1") as local:
            allowed = await local.get("/logs/3")
        async with from_address(app, "10.9.0.1") as proxy:
            proxied = await proxy.get("/logs/3", headers={"x-forwarded-for": "127.0.0.1"})
            forged = await proxy.get("/logs/3", headers={"x-forwarded-for": "127.0.0.1, 10.0.0.9"})
    finally:
        await app.shutdown()
    for response in [*refused, stream, spoofed, forged]:
        assert response.status_code == 403
        assert response.json() == {"detail": "Access denied: IP not in logs allowlist"}
    assert allowed.status_code == 200 and proxied.status_code == 200


async def test_the_page_loads_without_the_key_and_the_lines_need_it() -> None:
    app = await started(**KEYED)
    try:
        async with from_address(app, "127.0.0.1") as c:
            page = await c.get("/logs/html")
            tail = await c.get("/logs", params={"lines": "5"})
            keyed = await c.get("/logs", params={"lines": "5"}, headers={"x-api-key": "k-1"})
    finally:
        await app.shutdown()
    assert page.status_code == 200 and "Live Log Stream" in page.text
    assert tail.status_code == 401
    assert keyed.status_code == 200


async def test_no_log_view_exists_in_prod() -> None:
    async with from_address(build_app(GPT2GIGA_MODE="PROD", GPT2GIGA_API_KEY="k-1"), "::1") as c:
        for path in ("/logs/html", "/logs", "/logs/stream"):
            assert (await c.get(path, headers={"x-api-key": "k-1"})).status_code == 404


# --- the stream ---------------------------------------------------------------------------


async def test_an_idle_stream_pings_and_a_line_is_one_event() -> None:
    ring = Ring()
    ring.setFormatter(logging.Formatter("%(message)s"))
    tail = Tail(ring, ping_seconds=0.01)
    try:
        assert await anext(tail) == b": ping\n\n"
        ring.emit(logging.makeLogRecord({"msg": "first\nsecond"}))
        assert await anext(tail) == b"data: first\ndata: second\n\n"
        ring.end_readers()
        await asyncio.sleep(0)
        with pytest.raises(StopAsyncIteration):
            await anext(tail)
    finally:
        await tail.aclose()
    assert ring._readers == []


# --- the page -----------------------------------------------------------------------------


class Page(HTMLParser):
    """Every URL-bearing attribute, and the text of the inline script and style."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: dict[str, str] = {}
        self._in: str | None = None
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "action", "srcset", "poster", "data", "formaction"):
                self.urls.append(value or "")
            if name == "id" and value:
                self.ids.add(value)
        self._in = tag if tag in ("script", "style") else None
        if tag in ("script", "style"):
            self.inline[tag] = ""

    def handle_data(self, data: str) -> None:
        if self._in:
            self.inline[self._in] += data

    def handle_endtag(self, tag: str) -> None:
        self._in = None


@pytest.fixture(scope="module")
def page() -> Page:
    parsed = Page()
    parsed.feed(logs.PAGE.decode())
    return parsed


def test_the_page_is_self_contained(page: Page) -> None:
    text = logs.PAGE.decode()
    assert page.urls == []  # no <script src>, <link href>, <img src>, form action
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I)
    assert "@import" not in page.inline["style"] and "url(" not in page.inline["style"]
    assert set(page.inline) == {"script", "style"}


def test_the_csp_allows_exactly_the_inline_script_and_style(page: Page) -> None:
    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    csp = logs.PAGE_CSP.decode()
    assert f"script-src 'sha256-{digest(page.inline['script'])}'" in csp
    assert f"style-src 'sha256-{digest(page.inline['style'])}'" in csp
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp


def test_the_page_sends_the_key_as_a_header_never_in_a_url(page: Page) -> None:
    script = page.inline["script"]
    assert '{ "x-api-key": key }' in script
    assert 'searchParams.set("key"' not in script and "?key=" not in script
    assert "sessionStorage" in script and "localStorage" not in script
    # every element the script looks up is on the page
    assert set(re.findall(r'\$\("(\w+)"\)', script)) <= page.ids


async def test_the_pages_relative_urls_reach_the_log_routes(page: Page) -> None:
    script = page.inline["script"]
    backlog = re.search(r'new URL\("([^"]+)", location\.href\);\s*url\.searchParams', script)
    stream = re.search(r'fetch\(new URL\("([^"]+)", location\.href\)', script)
    assert backlog is not None and stream is not None
    app = await started(GPT2GIGA_LOG_FORMAT="json")
    try:
        logging.getLogger("gpt2giga").warning("seen by the page")
        for prefix in ("", "/v1"):
            here = f"http://gateway{prefix}/logs/html"
            assert urljoin(here, backlog[1]) == f"http://gateway{prefix}/logs"
            assert urljoin(here, stream[1]) == f"http://gateway{prefix}/logs/stream"
            async with from_address(app, "127.0.0.1") as c:
                tail = await c.get(urljoin(here, backlog[1]), params={"lines": "200"})
            assert "seen by the page" in tail.text
    finally:
        await app.shutdown()


async def test_the_page_is_served_with_its_security_headers() -> None:
    async with from_address(build_app(), "127.0.0.1") as c:
        page = await c.get("/logs/html")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == logs.PAGE_CSP.decode()
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    assert page.content == logs.PAGE
