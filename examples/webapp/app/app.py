"""The example's web application: counts visits in redis, answers on $PORT.

Standard library HTTP server plus Debian's python3-redis: nothing to download.
"""
import http.server
import json
import os
import socket

import redis

DB = redis.Redis(host=os.environ.get("REDIS_HOST", "db"), port=6379, socket_timeout=2)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            DB.ping()
            body = b"ok\n"
        else:
            hits = DB.incr("hits")
            body = json.dumps(
                {"hits": hits, "served_by": socket.gethostname(), "greeting": os.environ["GREETING"]}
            ).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("app:", fmt % args, flush=True)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    print(f"app: listening on {port}", flush=True)
    http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
