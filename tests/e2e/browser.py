"""A real headless Chromium (Debian's ``chromium``, installed by ``make system-deps``), driven through
the DevTools protocol over aiohttp's websocket client: open a page, wait for it to load, evaluate an
expression in it. Enough to see what a person's browser draws, without a browser-automation library.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from tests.e2e.prometheus_fixtures import stop

CHROMIUM = "/usr/bin/chromium"
#: Flags for a machine with no outside network: without the background ones Chromium keeps trying
#: to reach Google's hosts.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--window-size=1280,900")


class Browser:
    def __init__(self, port: int) -> None:
        self.port = port

    def evaluate(self, url: str, expression: str, timeout: float = 30) -> Any:
        """Open ``url`` in a new tab, wait for its load event, return ``expression``'s value (JSON)."""
        return asyncio.run(asyncio.wait_for(self._evaluate(url, expression), timeout))

    async def _evaluate(self, url: str, expression: str) -> Any:
        async with aiohttp.ClientSession() as http:
            async with http.put(f"http://127.0.0.1:{self.port}/json/new?{quote(url, safe=':/')}") as answer:
                target = await answer.json(content_type=None)
            async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                ids = iter(range(1, 1_000_000))

                async def call(method: str, **params: Any) -> dict[str, Any]:
                    number = next(ids)
                    await ws.send_json({"id": number, "method": method, "params": params})
                    async for message in ws:
                        data = json.loads(message.data)
                        if data.get("id") == number:
                            if "error" in data:
                                raise RuntimeError(f"{method}: {data['error']}")
                            return data.get("result", {})
                    raise RuntimeError(f"{method}: the browser closed the connection")

                await call("Page.enable")
                await call("Page.navigate", url=url)
                while True:  # the load event arrives as a message without an id
                    message = await ws.receive()
                    if json.loads(message.data).get("method") == "Page.loadEventFired":
                        break
                result = await call("Runtime.evaluate", expression=expression, returnByValue=True)
                if "exceptionDetails" in result:
                    raise RuntimeError(f"the page's script failed: {result['exceptionDetails']}")
                return result["result"].get("value")


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium for the duration of the block."""
    binary = shutil.which("chromium") or CHROMIUM
    assert Path(binary).exists(), "Chromium is missing: `make system-deps` installs Debian's chromium"
    with tempfile.TemporaryDirectory(prefix="reentry-chromium-") as profile:
        process = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 30
            while not (port_file.exists() and port_file.read_text().strip()):
                assert process.poll() is None, "Chromium exited at start"
                assert time.monotonic() < deadline, "Chromium did not open its DevTools port within 30 s"
                time.sleep(0.1)
            yield Browser(int(port_file.read_text().splitlines()[0]))
        finally:
            stop(process)
