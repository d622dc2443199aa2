"""Drive Debian's headless Chromium over the Chrome DevTools Protocol (CDP): load a page, record every
network request it makes, time it, evaluate JavaScript in it and take a screenshot.

Library use (the browser test and the report benchmark)::

    from tests.support.chromium_cdp import load_page
    page = load_page("file:///tmp/report.html", evaluate="document.title", screenshot="shot.png")
    page.requests      # every URL the page requested (Network.requestWillBeSent), in order
    page.load_ms       # navigation start → load event, measured by the page (Navigation Timing)
    page.painted_ms    # navigation start → first frame after load (two requestAnimationFrame callbacks)
    page.value         # the result of ``evaluate`` (returned by value)

Chromium runs with the flags of issue #8 (--headless --no-sandbox --disable-gpu --no-first-run
--disable-background-networking --disable-component-update --disable-sync), a fresh --user-data-dir,
and --remote-debugging-port=0; the port is read from the DevToolsActivePort file Chromium writes.
The websocket client is aiohttp's (already installed as a faust dependency).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio")
START_TIMEOUT_S = 30.0


class ChromiumError(RuntimeError):
    pass


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise ChromiumError("chromium is not installed: apt-get install -y chromium (scripts/test does this)")


@dataclass
class PageResult:
    url: str
    requests: list[str] = field(default_factory=list)
    load_ms: float = 0.0
    painted_ms: float = 0.0
    wall_ms: float = 0.0
    value: Any = None
    console_errors: list[str] = field(default_factory=list)


class _Session:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future] = {}
        self.events: asyncio.Queue = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = msg.json()
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                await self.events.put(data)

    async def call(self, method: str, timeout: float = 60.0, **params: Any) -> dict:
        i = next(self.ids)
        fut = asyncio.get_running_loop().create_future()
        self.pending[i] = fut
        await self.ws.send_json({"id": i, "method": method, "params": params})
        data = await asyncio.wait_for(fut, timeout)
        if "error" in data:
            raise ChromiumError(f"{method}: {data['error']}")
        return data.get("result", {})


async def _run(port: int, url: str, evaluate: str | None, screenshot: str | None, width: int,
               shot_height: int | None, timeout_s: float) -> PageResult:
    result = PageResult(url)
    async with aiohttp.ClientSession() as http:
        async with http.put(f"http://127.0.0.1:{port}/json/new?about:blank") as resp:
            target = await resp.json(content_type=None)
        async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            s = _Session(ws)
            await s.call("Network.enable")
            await s.call("Page.enable")
            await s.call("Runtime.enable")
            await s.call("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1,
                         mobile=False)
            t0 = time.perf_counter()
            await s.call("Page.navigate", url=url)
            deadline = time.monotonic() + timeout_s
            while True:
                ev = await asyncio.wait_for(s.events.get(), max(deadline - time.monotonic(), 0.01))
                method = ev["method"]
                if method == "Network.requestWillBeSent":
                    result.requests.append(ev["params"]["request"]["url"])
                elif method == "Runtime.exceptionThrown":
                    result.console_errors.append(str(ev["params"]["exceptionDetails"].get("text")))
                elif method == "Page.loadEventFired":
                    break
            painted = await s.call("Runtime.evaluate", awaitPromise=True, returnByValue=True, expression=(
                "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"))
            result.wall_ms = (time.perf_counter() - t0) * 1000
            result.painted_ms = float(painted["result"]["value"])
            timing = await s.call("Runtime.evaluate", returnByValue=True, expression=(
                "performance.getEntriesByType('navigation')[0].loadEventEnd"))
            result.load_ms = float(timing["result"]["value"])
            if evaluate is not None:
                out = await s.call("Runtime.evaluate", returnByValue=True, awaitPromise=True, expression=evaluate)
                if "exceptionDetails" in out:
                    raise ChromiumError(f"evaluate failed: {out['exceptionDetails']}")
                result.value = out["result"].get("value")
            if screenshot is not None:
                metrics = await s.call("Page.getLayoutMetrics")
                height = int(metrics["cssContentSize"]["height"])
                if shot_height:
                    height = min(height, shot_height)
                shot = await s.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                                    clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
                Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
                Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
            # Late requests (anything the page fetches after load) must be seen too: drain what arrived.
            await asyncio.sleep(0.2)
            while not s.events.empty():
                ev = s.events.get_nowait()
                if ev["method"] == "Network.requestWillBeSent":
                    result.requests.append(ev["params"]["request"]["url"])
            s.reader.cancel()
    return result


@contextlib.contextmanager
def _browser():
    profile = tempfile.mkdtemp(prefix="truesli-chromium-")
    proc = subprocess.Popen([chromium_binary(), *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None:
                raise ChromiumError(f"chromium exited with {proc.returncode}: "
                                    f"{proc.stderr.read().decode(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                raise ChromiumError("chromium did not open its DevTools port in time")
            time.sleep(0.05)
        yield int(port_file.read_text().splitlines()[0])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
        shutil.rmtree(profile, ignore_errors=True)


def load_page(url: str, *, evaluate: str | None = None, screenshot: str | os.PathLike | None = None,
              width: int = 1200, shot_height: int | None = None, timeout_s: float = 60.0) -> PageResult:
    """Start a fresh Chromium, load ``url`` once, and report what happened (see the module docstring)."""
    with _browser() as port:
        return asyncio.run(_run(port, url, evaluate, str(screenshot) if screenshot else None, width, shot_height,
                                timeout_s))
