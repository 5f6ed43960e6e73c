"""Screenshots of the running web client for the README, with headless Chromium.

    python tools/screenshot.py --url http://localhost:8069 --db NAME \
        --shot "odoo/action-crm.crm_lead_action_pipeline?view_type=list" docs/screenshots/list.png ...

Logs in over HTTP (admin / admin by default), hands the session cookie to Chromium
through the DevTools protocol (websocket-client), opens each page, waits for the web
client to settle and saves a PNG.
"""

import argparse
import base64
import json
import re
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import websocket


def login(base_url, db, user, password):
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base_url}/web/login?db={db}").read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"login": user, "password": password, "csrf_token": csrf, "db": db}).encode()
    opener.open(f"{base_url}/web/login", data)
    session = next(cookie.value for cookie in jar if cookie.name == "session_id")
    return session


class Chromium:
    def __init__(self, width, height):
        self.profile = tempfile.mkdtemp(prefix="crm-shot-")
        self.process = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--window-size={width},{height}", "--remote-debugging-port=9333",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                targets = json.load(urllib.request.urlopen("http://127.0.0.1:9333/json"))
                page = next(target for target in targets if target["type"] == "page")
                break
            except (OSError, StopIteration):
                time.sleep(0.1)
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                return message.get("result", {})
            self.on_event(message)

    def on_event(self, message):
        """A DevTools event received while waiting for an answer (ignored; subclasses may keep them)."""

    def evaluate(self, expression):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True).get("result", {}).get("value")

    def close(self):
        self.socket.close()
        self.process.terminate()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://localhost:8069")
    parser.add_argument("--db", required=True)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--size", default="1440x900")
    parser.add_argument("--shot", nargs=2, action="append", metavar=("PATH", "PNG"), required=True)
    parser.add_argument("--wait-for", default=".o_action_manager .o_view_controller",
                        help="CSS selector that tells the page is drawn")
    # clicks and typing, in the order given on the command line
    parser.add_argument("--click", dest="steps", action="append", default=[], type=lambda css: [css], metavar="CSS",
                        help="element to click once the page is drawn (repeatable, in order)")
    parser.add_argument("--type", dest="steps", nargs=2, action="append", metavar=("CSS", "TEXT"),
                        help="input to type TEXT into once the page is drawn (repeatable, in order)")
    parser.add_argument("--scroll", default=None, metavar="CSS", help="element to scroll into view last")
    parser.add_argument("--settle", type=float, default=2, help="seconds to wait after each step")
    args = parser.parse_args()
    width, height = (int(value) for value in args.size.split("x"))
    session = login(args.url, args.db, args.user, args.password)
    browser = Chromium(width, height)
    try:
        browser.call("Network.enable")
        host = urllib.parse.urlparse(args.url).hostname
        browser.call("Network.setCookie", name="session_id", value=session, domain=host, path="/")
        for path, png in args.shot:
            browser.call("Page.navigate", url=f"{args.url}/{path}")
            selector = json.dumps(args.wait_for)
            for _ in range(150):
                time.sleep(0.2)
                if browser.evaluate(f"!!document.querySelector({selector})"):
                    break
            time.sleep(args.settle)  # let the view finish loading its data and fonts
            for selector, *text in args.steps:
                if not text:
                    browser.evaluate(f"document.querySelector({json.dumps(selector)}).click()")
                    time.sleep(args.settle)
                    continue
                # as a user types: the value, then the input and change events components listen to
                browser.evaluate(
                    f"(el => {{ el.value = {json.dumps(text[0])}; "
                    f"el.dispatchEvent(new Event('input', {{bubbles: true}})); "
                    f"el.dispatchEvent(new Event('change', {{bubbles: true}})); }})"
                    f"(document.querySelector({json.dumps(selector)}))"
                )
                time.sleep(args.settle)
            if args.scroll:
                browser.evaluate(f"document.querySelector({json.dumps(args.scroll)}).scrollIntoView()")
                time.sleep(1)
            shot = browser.call("Page.captureScreenshot", format="png")
            with open(png, "wb") as file:
                file.write(base64.b64decode(shot["data"]))
            print(f"{png}: {path}")
    finally:
        browser.close()


if __name__ == "__main__":
    main()
