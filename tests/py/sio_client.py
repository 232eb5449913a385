"""A python-socketio client for the Rust integration tests (tests/it/socketio/python.rs).

    python3 tests/py/sio_client.py <url> <transport: default|polling|websocket>

Connects with auth, calls `sum` and `echo-bytes` with acks, asks the server to emit `news`,
answers the server's `question` ack, then disconnects. Prints one JSON object per line for
each observation; exits non-zero with a message on stderr on any error, or after 15 s.
"""

import base64
import json
import os
import sys
import threading

import socketio


def out(**obj):
    print(json.dumps(obj), flush=True)


def fail(message):
    sys.stderr.write(f"sio_client.py: {message}\n")
    sys.stderr.flush()
    os._exit(1)


def main():
    url, transport = sys.argv[1], sys.argv[2]
    watchdog = threading.Timer(15.0, fail, args=("timed out after 15 s",))
    watchdog.daemon = True
    watchdog.start()

    sio = socketio.Client(reconnection=False)
    news = threading.Event()
    disconnected = threading.Event()

    @sio.event
    def connect():
        out(event="connect", sid=sio.get_sid())

    @sio.event
    def connect_error(data):
        fail(f"connect_error: {data!r}")

    @sio.event
    def disconnect(*reason):
        out(event="disconnect")
        disconnected.set()

    @sio.on("news")
    def on_news(*args):
        out(event="news", args=list(args))
        news.set()

    @sio.on("question")
    def on_question(q):
        out(event="question", q=q)
        return {"answer": q * 2}

    transports = None if transport == "default" else [transport]
    sio.connect(url, auth={"user": "py", "n": 1}, transports=transports, wait_timeout=5)
    out(event="connected", transport=sio.transport())

    total = sio.call("sum", (2, 3), timeout=5)
    out(event="sum", result=total)

    blob = bytes(range(256)) + b"\x00\x1e"
    back = sio.call("echo-bytes", {"name": "blob", "data": blob}, timeout=5)
    if not isinstance(back, dict) or back.get("data") != blob:
        fail(f"echo-bytes came back as {back!r}")
    out(event="echo-bytes", name=back["name"], data=base64.b64encode(back["data"]).decode())

    sio.emit("please-emit", "hello from python")
    if not news.wait(5):
        fail("no news from the server")

    # Answered by on_question above; the server reports the answer it got.
    answered = sio.call("ask-me", 21, timeout=5)
    out(event="ask-me", result=answered)

    sio.disconnect()
    if not disconnected.wait(5):
        fail("no disconnect event")
    out(event="done")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - any failure must end the run non-zero
        fail(f"{type(e).__name__}: {e}")
    os._exit(0)
