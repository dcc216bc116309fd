#!/usr/bin/env python3
"""Time to first render of pages in headless Chromium, in real time (no virtual time).

Usage: render-time.py PROFILE_DIR URL [URL ...]
Drives one Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe: no port,
no websocket), opens each URL in a fresh tab in turn and waits for the page to set
document.body.dataset.renderMs (milliseconds from its navigation start, measured by the page
once its content is in the DOM and laid out). Prints one JSON line per URL:
{"url": ..., "renderMs": ..., "wallMs": ...}; exits 1 if a page does not get there in 60 s.
"""
import json, os, subprocess, sys, time

profile, urls = sys.argv[1], sys.argv[2:]
to_chrome_r, to_chrome_w = os.pipe()
from_chrome_r, from_chrome_w = os.pipe()

def child_fds():
    # Through fresh copies: dup2 onto the same number would keep close-on-exec.
    read_end, write_end = os.dup(to_chrome_r), os.dup(from_chrome_w)
    os.dup2(read_end, 3)
    os.dup2(write_end, 4)

chrome = subprocess.Popen(
    ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
     "--user-data-dir=" + profile, "--window-size=1280,900", "--no-first-run", "about:blank"],
    close_fds=False, preexec_fn=child_fds,  # fds 3 and 4 only: the pipes themselves are close-on-exec
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(to_chrome_r)
os.close(from_chrome_w)
buffer, next_id = b"", 0

def call(method, params=None, session=None):
    global buffer, next_id
    next_id += 1
    message = {"id": next_id, "method": method, "params": params or {}}
    if session:
        message["sessionId"] = session
    os.write(to_chrome_w, json.dumps(message).encode() + b"\0")
    while True:
        while b"\0" not in buffer:
            chunk = os.read(from_chrome_r, 1 << 16)
            if not chunk:
                sys.exit("chromium closed the pipe")
            buffer += chunk
        raw, buffer = buffer.split(b"\0", 1)
        reply = json.loads(raw)
        if reply.get("id") == next_id:
            if "error" in reply:
                sys.exit(f"{method}: {reply['error']}")
            return reply["result"]

status = 0
try:
    for url in urls:
        started = time.monotonic()
        target = call("Target.createTarget", {"url": url})["targetId"]
        session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        value = None
        while value is None and time.monotonic() - started < 60:
            result = call("Runtime.evaluate", {"expression": "document.body && document.body.dataset.renderMs || null",
                                               "returnByValue": True}, session)
            value = result.get("result", {}).get("value")
            if value is None:
                time.sleep(0.02)
        wall = (time.monotonic() - started) * 1000
        call("Target.closeTarget", {"targetId": target})
        if value is None:
            status = 1
        print(json.dumps({"url": url.split("#")[0], "renderMs": float(value) if value else None, "wallMs": round(wall, 1)}), flush=True)
finally:
    chrome.kill()
    chrome.wait()
sys.exit(status)
