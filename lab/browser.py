"""Headless Chromium (Debian's `chromium`) driven over the DevTools protocol on a pipe.

Chromium's `--remote-debugging-pipe` speaks the DevTools protocol as JSON messages ended by
a NUL byte on file descriptors 3 (to Chromium) and 4 (from it): no driver binary, no
WebSocket library, Python's standard library only. What the lab's tests need of a browser:
open a page, fill a form's fields and click its button as a participant would (the page has
no JavaScript of its own; the test drives it through the protocol), read the text shown,
take a screenshot.

    with Browser(prefix=["ip", "netns", "exec", "lab-x"]) as b:
        b.open("http://127.0.0.1:8080/")
        b.fill({"#name": "Alice"}); b.click("button[type=submit]")
        b.text("#token"); b.screenshot(Path("page.png"))
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
INSTALL = "apt-get install -y chromium"


class BrowserError(Exception):
    pass


class Browser:
    """One headless Chromium with one tab; every wait is bounded (`timeout` seconds)."""

    def __init__(self, prefix: list[str] | None = None, timeout: float = 20, width: int = 390, height: int = 844):
        if not os.path.exists(CHROMIUM):
            raise BrowserError(f"no {CHROMIUM}: install Debian's Chromium ({INSTALL})")
        self.timeout, self.next_id, self.buffer = timeout, 0, b""
        self.profile = tempfile.TemporaryDirectory(prefix="televoc-chromium-")
        to_chromium_r, self.to_chromium = os.pipe()
        self.from_chromium, from_chromium_w = os.pipe()
        argv = [
            *(prefix or []),
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--remote-debugging-pipe",
            f"--user-data-dir={self.profile.name}",
            f"--window-size={width},{height}",  # a small phone's screen
            "about:blank",
        ]

        def fds():  # the protocol's descriptors in the child: 3 reads, 4 writes
            os.dup2(to_chromium_r, 3)
            os.dup2(from_chromium_w, 4)

        self.process = subprocess.Popen(
            argv,
            preexec_fn=fds,
            pass_fds=(3, 4),  # kept open after fds() put the pipes there
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chromium_r)
        os.close(from_chromium_w)
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable", session=True)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=True,
        )

    # --- the protocol ----------------------------------------------------------------------
    def call(self, method: str, session: bool = False, **params) -> dict:
        """Send one command, return its result (events in between are dropped)."""
        self.next_id += 1
        message: dict = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self.to_chromium, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            answer = self._read(deadline)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
        raise BrowserError(f"{method}: no answer within {self.timeout} s")

    def _read(self, deadline: float) -> dict:
        import select

        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_chromium], [], [], left)[0]:
                raise BrowserError("Chromium said nothing in time")
            chunk = os.read(self.from_chromium, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium ended (exit {self.process.poll()})")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    # --- what a participant does -------------------------------------------------------------
    def _loaded(self, before: str | None = None) -> None:
        """Wait until a document other than `before` is complete (bounded)."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            state = self.evaluate("[document.readyState, String(performance.timeOrigin)]")
            if state[0] == "complete" and state[1] != before:
                return
            time.sleep(0.1)
        raise BrowserError("the page did not load in time")

    def open(self, url: str) -> None:
        before = self.evaluate("String(performance.timeOrigin)")
        self.call("Page.navigate", session=True, url=url)
        self._loaded(before)

    def fill(self, fields: dict[str, str]) -> None:
        """Type into text fields, or check the radio button `selector` (value ignored)."""
        for selector, value in fields.items():
            found = self.evaluate(
                f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return false;"
                f" if (e.type === 'radio' || e.type === 'checkbox') e.checked = true;"
                f" else e.value = {json.dumps(value)}; return true; }})()"
            )
            if not found:
                raise BrowserError(f"no {selector} on the page")

    def click(self, selector: str) -> None:
        """Click a submit button and wait for the page it leads to."""
        before = self.evaluate("String(performance.timeOrigin)")
        if not self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return false;"
            f" e.click(); return true; }})()"
        ):
            raise BrowserError(f"no {selector} on the page")
        self._loaded(before)

    def text(self, selector: str = "body") -> str:
        value = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); return e ? e.innerText : null; }})()"
        )
        if value is None:
            raise BrowserError(f"no {selector} on the page")
        return value

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    # --- lifetime -----------------------------------------------------------------------
    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (BrowserError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        for fd in (self.to_chromium, self.from_chromium):
            try:
                os.close(fd)
            except OSError:
                pass
        self.profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
