#!/usr/bin/env python3
"""Test services for the namespace lab: an HTTP server and a service with a
banner nmap cannot identify (so -sV falls through to its probes, RPCCheck
included). Runs until killed."""
import argparse
import http.server
import socketserver
import threading


class Banner(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            self.request.sendall(b"XQZ-7 unknown-service ready\r\n")
            self.request.settimeout(2)
            if self.request.recv(4096):
                self.request.sendall(b"XQZ-7 ?\r\n")
        except OSError:
            pass


class Http(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 512

    def handle_error(self, request, client_address):
        pass  # scanners reset connections all the time


class Server6(Server):
    import socket
    address_family = socket.AF_INET6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--http", type=int, default=80)
    ap.add_argument("--banner", type=int, default=2222)
    a = ap.parse_args()
    servers = [Server6(("::", a.http), Http), Server6(("::", a.banner), Banner)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
