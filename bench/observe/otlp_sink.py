"""An OTLP/HTTP sink for bench/observe/run.sh: answers every POST with 204 and counts requests and bytes, so that
the traced gateway exports somewhere real without a collector's cost in the measurement.
Usage: otlp_sink.py PORT COUNT_FILE   (the counts so far are in COUNT_FILE after each request)"""
import http.server
import signal
import sys
import threading

port, count_file = int(sys.argv[1]), sys.argv[2]
counts = {"requests": 0, "bytes": 0}
lock = threading.Lock()


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        with lock:
            counts["requests"] += 1
            counts["bytes"] += len(body)
            with open(count_file, "w") as out:
                out.write(f"otlp_requests={counts['requests']} otlp_bytes={counts['bytes']}\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Sink)


def stop(*_):
    threading.Thread(target=server.shutdown).start()


signal.signal(signal.SIGTERM, stop)
server.serve_forever()
