#!/usr/bin/env python3
"""chromium_visit.py: one headless Chromium page load, and what it did.

  chromium_visit.py [options] URL

Starts Debian's Chromium with a fresh profile and --remote-debugging-pipe
(the DevTools protocol as NUL-separated JSON over fds 3 and 4: no
websocket, no third-party module), loads URL, waits for the load event and
a short settle time, and writes one JSON object (to --out, else stdout):

  url, client, ua        what was visited, from where, as whom
  early_hints            the Link entries of the 103 Chromium received
                         (Network.responseReceivedEarlyHints), in order:
                         {url (absolute), rel, as}
  nav                    the PerformanceNavigationTiming entry (toJSON):
                         responseStart, firstInterimResponseStart,
                         loadEventEnd, ...
  lcp                    Largest Contentful Paint, ms (0: none reported)
  lcp_element            what it painted: {size, url (an image's), tag,
                         text (its first 60 characters), font (family,
                         weight, style)}
  resources              Resource Timing entries: {name, initiatorType,
                         startTime, responseEnd, transferSize}; initiator
                         "early-hints" means the 103's preload was used
  refs                   absolute URLs the final DOM references
                         (link href, script src, img src): depth 1
  requests               what the network saw: {url, type, initiator,
                         initiator_url, from_early_hints, status,
                         connection (Chromium's id of the connection),
                         dest, priority} (the last two as sent, from
                         Network.requestWillBeSentExtraInfo)
  error                  set when the load did not complete

Exit status 0 when the load event fired, 1 otherwise, 2 on bad usage.

Options:
  --chromium PATH      (default: chromium on PATH)
  --spki HASH          trust the test certificate by the base64 SHA-256
                       of its SubjectPublicKeyInfo (with
                       --ignore-certificate-errors Chromium fetches hinted
                       files and throws them away)
  --map HOST=IP        resolve HOST to IP (repeatable); every other name
                       fails, so Chromium makes no outside connections
  --ua UA              User-Agent
  --client TEXT        recorded as "client" (the address it was mapped to)
  --timeout S          give up after S seconds (default 30)
  --settle MS          wait after the load event (default 300)
  --out FILE
"""
import argparse
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions",
         "--no-default-browser-check", "--mute-audio",
         "--remote-debugging-pipe", "about:blank"]

COLLECT = r"""(async () => {
  let lcp_element = null;
  const lcp = await new Promise(done => {
    let v = 0;
    try {
      new PerformanceObserver(l => {
        for (const e of l.getEntries()) {
          v = e.startTime;
          const el = e.element;
          lcp_element = {size: e.size, url: e.url || '',
            tag: el ? el.tagName : '',
            text: el ? (el.textContent || '').trim().slice(0, 60) : '',
            font: el ? getComputedStyle(el).fontFamily + ' ' +
              getComputedStyle(el).fontWeight + ' ' +
              getComputedStyle(el).fontStyle : ''};
        }
      }).observe({type: 'largest-contentful-paint', buffered: true});
    } catch (e) {}
    setTimeout(() => done(v), 50);
  });
  const nav = performance.getEntriesByType('navigation')[0];
  const resources = performance.getEntriesByType('resource').map(r => ({
    name: r.name, initiatorType: r.initiatorType, startTime: r.startTime,
    responseEnd: r.responseEnd, transferSize: r.transferSize}));
  const refs = [];
  document.querySelectorAll('link[href], script[src], img[src]').forEach(
    e => refs.push(e.href || e.currentSrc || e.src));
  return JSON.stringify({nav: nav ? nav.toJSON() : null, lcp, lcp_element,
                         resources, refs});
})()"""


class Cdp:
    """A DevTools connection over the two pipes; events are buffered."""

    def __init__(self, rfd, wfd, deadline):
        self.rfd, self.wfd, self.deadline = rfd, wfd, deadline
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.replies = {}

    def _read(self, until):
        left = until - time.monotonic()
        if left <= 0:
            raise TimeoutError("devtools: timed out")
        r, _, _ = select.select([self.rfd], [], [], left)
        if not r:
            raise TimeoutError("devtools: timed out")
        data = os.read(self.rfd, 1 << 20)
        if not data:
            raise EOFError("devtools: chromium closed the pipe")
        self.buf += data
        while b"\0" in self.buf:
            msg, self.buf = self.buf.split(b"\0", 1)
            m = json.loads(msg)
            if "id" in m:
                self.replies[m["id"]] = m
            else:
                self.events.append(m)

    def call(self, method, params=None, session=None):
        self.next_id += 1
        mid = self.next_id
        m = {"id": mid, "method": method, "params": params or {}}
        if session:
            m["sessionId"] = session
        data = json.dumps(m).encode() + b"\0"
        while data:
            data = data[os.write(self.wfd, data):]
        while mid not in self.replies:
            self._read(self.deadline)
        r = self.replies.pop(mid)
        if "error" in r:
            raise RuntimeError("%s: %s" % (method, r["error"].get("message")))
        return r.get("result", {})

    def wait_event(self, method, until):
        """Returns once an event METHOD is buffered (True), False at UNTIL."""
        while not any(e["method"] == method for e in self.events):
            try:
                self._read(min(until, self.deadline))
            except TimeoutError:
                return False
        return True

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while True:
            try:
                self._read(end)
            except TimeoutError:
                return


def parse_links(value, base):
    """The Link entries of a header value: [{url, rel, as}], in order."""
    out = []
    for part in value.replace("\n", ",").split(","):
        part = part.strip()
        if not part.startswith("<") or ">" not in part:
            continue
        url = part[1:part.index(">")]
        attrs = {}
        for a in part[part.index(">") + 1:].split(";"):
            if "=" in a:
                k, v = a.split("=", 1)
                attrs[k.strip().lower()] = v.strip().strip('"')
        out.append({"url": urllib.parse.urljoin(base, url),
                    "rel": attrs.get("rel", ""), "as": attrs.get("as", "")})
    return out


def launch(args, profile):
    to_r, to_w = os.pipe()      # we write, chromium reads fd 3
    from_r, from_w = os.pipe()  # chromium writes fd 4, we read
    rules = ["MAP %s %s" % tuple(m.split("=", 1)) for m in args.map]
    rules.append("MAP * ~NOTFOUND")
    cmd = [args.chromium, "--user-data-dir=" + profile,
           "--host-resolver-rules=" + ", ".join(rules)] + FLAGS
    if args.spki:
        cmd.insert(1, "--ignore-certificate-errors-spki-list=" + args.spki)
    if args.ua:
        cmd.insert(1, "--user-agent=" + args.ua)

    def fds():
        # Out of the way first: a pipe end may itself be fd 3 or 4.
        a = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10)
        b = fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
        os.dup2(a, 3)
        os.dup2(b, 4)
        os.setsid()  # its own process group: killed whole at the end

    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(profile, "stderr"), "w"),
                            pass_fds=(3, 4), preexec_fn=fds)
    os.close(to_r)
    os.close(from_w)
    return proc, from_r, to_w


def visit(args, cdp, out):
    targets = cdp.call("Target.getTargets")["targetInfos"]
    pages = [t for t in targets if t["type"] == "page"]
    tid = (pages[0]["targetId"] if pages else
           cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"])
    sid = cdp.call("Target.attachToTarget",
                   {"targetId": tid, "flatten": True})["sessionId"]
    cdp.call("Network.enable", session=sid)
    cdp.call("Page.enable", session=sid)
    cdp.events.clear()
    cdp.call("Page.navigate", {"url": args.url}, session=sid)
    if not cdp.wait_event("Page.loadEventFired", cdp.deadline - 2):
        out["error"] = "no load event within %ss" % args.timeout
    cdp.pump(args.settle / 1000.0)
    r = cdp.call("Runtime.evaluate", {"expression": COLLECT,
                                      "awaitPromise": True,
                                      "returnByValue": True}, session=sid)
    val = r.get("result", {}).get("value")
    if val:
        out.update(json.loads(val))
    reqs = {}
    for e in cdp.events:
        m, p = e["method"], e.get("params", {})
        if m == "Network.responseReceivedEarlyHints":
            for k, v in p.get("headers", {}).items():
                if k.lower() == "link":
                    out["early_hints"] += parse_links(v, args.url)
        elif m == "Network.requestWillBeSent":
            ini = p.get("initiator", {})
            reqs.setdefault(p["requestId"], {}).update(
                url=p["request"]["url"], type=p.get("type", ""),
                initiator=ini.get("type", ""),
                initiator_url=ini.get("url", ""))
        elif m == "Network.requestWillBeSentExtraInfo":
            h = {k.lower(): v for k, v in p.get("headers", {}).items()}
            reqs.setdefault(p["requestId"], {}).update(
                dest=h.get("sec-fetch-dest", ""),
                priority=h.get("priority", ""))
        elif m == "Network.responseReceived":
            resp = p.get("response", {})
            reqs.setdefault(p["requestId"], {}).update(
                status=resp.get("status", 0),
                from_early_hints=bool(resp.get("fromEarlyHints")),
                connection=resp.get("connectionId", 0))
    out["requests"] = [r for r in reqs.values() if "url" in r]


def main():
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("url")
    ap.add_argument("--chromium", default=shutil.which("chromium") or
                    shutil.which("chromium-browser") or "chromium")
    ap.add_argument("--spki", default="")
    ap.add_argument("--map", action="append", default=[])
    ap.add_argument("--ua", default="")
    ap.add_argument("--client", default="")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--settle", type=float, default=300)
    ap.add_argument("--out", default="")
    ap.add_argument("-h", "--help", action="store_true")
    try:
        args = ap.parse_args()
    except SystemExit:
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 2
    if args.help:
        print(__doc__)
        return 0
    out = {"url": args.url, "client": args.client, "ua": args.ua,
           "early_hints": [], "nav": None, "lcp": 0, "resources": [],
           "refs": [], "requests": []}
    profile = tempfile.mkdtemp(prefix="herald-chromium.")
    proc = None

    def on_term(signum, frame):
        # Chromium runs in its own process group: take it down too.
        if proc is not None:
            os.killpg(proc.pid, 9)
        shutil.rmtree(profile, ignore_errors=True)
        sys.exit(1)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        proc, rfd, wfd = launch(args, profile)
        cdp = Cdp(rfd, wfd, time.monotonic() + args.timeout)
        visit(args, cdp, out)
        try:
            cdp.deadline = time.monotonic() + 3
            cdp.call("Browser.close")
        except (TimeoutError, EOFError, RuntimeError, OSError):
            pass
    except (TimeoutError, EOFError, RuntimeError, OSError) as e:
        out["error"] = str(e)
    finally:
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
        if "error" in out:
            try:
                with open(os.path.join(profile, "stderr")) as f:
                    out["chromium_stderr"] = f.read()[-2000:]
            except OSError:
                pass
        shutil.rmtree(profile, ignore_errors=True)
    text = json.dumps(out)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 1 if "error" in out else 0


if __name__ == "__main__":
    sys.exit(main())
