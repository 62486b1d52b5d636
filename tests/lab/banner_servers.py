"""Test servers for tests/banners.rs, run inside the test's target namespace.

usage: banner_servers.py ADDR CERT KEY SECONDS mail|hostile

Binds these ports on ADDR (mail: 143 and 110; hostile: 7001-7005), prints "ready", serves for SECONDS, then exits:
  143  IMAP that offers STARTTLS (upgrades to TLS with CERT/KEY)
  110  POP3 that offers STLS
  7001 hostile: trickles one byte every 50 ms, forever, no newline
  7002 hostile: sends 100 MB, then closes
  7003 hostile: sends 4 KiB of random binary, then stays open
  7004 hostile: answers the client's first bytes with a broken TLS record, stays open
  7005 hostile: says nothing and never closes
"""
import os
import socket
import ssl
import sys
import threading
import time

addr, cert, key, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
end = time.time() + seconds


def lines(f):
    """Client lines until it closes or the run ends."""
    while time.time() < end:
        line = f.readline(1024)
        if not line:
            return
        yield line.strip()


def upgrade(c):
    t = ctx.wrap_socket(c, server_side=True)
    t.settimeout(5)
    try:
        t.recv(1024)
    except Exception:
        pass


def imap(c):
    c.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] lab IMAP ready\r\n")
    f = c.makefile("rb")
    for line in lines(f):
        tag = line.split(b" ")[0]
        if line.upper().endswith(b"CAPABILITY"):
            c.sendall(b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n" + tag + b" OK done\r\n")
        elif line.upper().endswith(b"STARTTLS"):
            c.sendall(tag + b" OK Begin TLS negotiation now\r\n")
            return upgrade(c)
        else:
            c.sendall(tag + b" BAD\r\n")


def pop3(c):
    c.sendall(b"+OK lab POP3 ready\r\n")
    f = c.makefile("rb")
    for line in lines(f):
        if line.upper() == b"CAPA":
            c.sendall(b"+OK\r\nUSER\r\nSTLS\r\n.\r\n")
        elif line.upper() == b"STLS":
            c.sendall(b"+OK Begin TLS\r\n")
            return upgrade(c)
        else:
            c.sendall(b"-ERR\r\n")


def trickle(c):
    while time.time() < end:
        c.sendall(b"x")
        time.sleep(0.05)


def flood(c):
    chunk = b"A" * 65536
    for _ in range(100 * 1024 * 1024 // len(chunk)):
        c.sendall(chunk)


def garbage(c):
    # Fixed bytes, every value from 0 to 255 (no accidental greeting).
    c.sendall(bytes((i * 97 + 13) % 256 for i in range(4096)))
    while time.time() < end and c.recv(4096):
        pass


def badtls(c):
    c.recv(4096)
    c.sendall(b"\x16\x03\x03\x00\x40" + os.urandom(64))
    while time.time() < end and c.recv(4096):
        pass


def silent(c):
    while time.time() < end and c.recv(4096):
        pass


def serve(port, handler):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    s.settimeout(0.5)

    def loop():
        while time.time() < end:
            try:
                c, _ = s.accept()
            except socket.timeout:
                continue
            c.settimeout(max(0.1, end - time.time()))

            def run(c=c):
                try:
                    handler(c)
                except Exception:
                    pass
                finally:
                    c.close()

            threading.Thread(target=run, daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


servers = {
    "mail": [(143, imap), (110, pop3)],
    "hostile": [(7001, trickle), (7002, flood), (7003, garbage), (7004, badtls), (7005, silent)],
}
for port, handler in servers[sys.argv[5]]:
    serve(port, handler)
print("ready", flush=True)
time.sleep(max(0, end - time.time()))
