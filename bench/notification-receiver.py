#!/usr/bin/env python3
"""A rest-hook endpoint for bench/notifications.sh: for every event it is told, writes one line
"<delay ms> <event number> <subscription>" to the file given, where the delay is from the event's
timestamp (the version's lastUpdated, taken as the write transaction starts) to arrival here."""
import datetime
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
OUT = open(sys.argv[2], "a", buffering=1)


def parse(instant):
    return datetime.datetime.strptime(instant, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        arrived = datetime.datetime.now(datetime.timezone.utc)
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        status = body["entry"][0]["resource"]["parameter"]
        subscription = next(p["valueReference"]["reference"] for p in status if p["name"] == "subscription")
        for p in status:
            if p["name"] != "notification-event":
                continue
            parts = {q["name"]: q for q in p["part"]}
            delay = (arrived - parse(parts["timestamp"]["valueInstant"])).total_seconds() * 1000
            OUT.write(f"{delay:.1f} {parts['event-number']['valueString']} {subscription.rsplit('/', 1)[-1]}\n")
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Hook).serve_forever()
