#!/usr/bin/env python3
# Transport faults HTTP servers cannot make, on 127.0.0.1: raw-fault-server.py MODE PORTFILE.
#   reset-headers  half a status line and headers, then a TCP reset
#   reset-body     full headers promising 1000 bytes, 100 of them, then a TCP reset
#   trickle        full headers promising 1000 bytes, then one byte a second
import socket, struct, sys, threading, time

mode, port_file = sys.argv[1], sys.argv[2]

def read_request(connection):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            return False
        body += chunk
    return True

def reset(connection):
    # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"

def serve(connection):
    try:
        if not read_request(connection):
            return connection.close()
        if mode == "reset-headers":
            connection.sendall(HEAD[:30])
            time.sleep(0.1)
            reset(connection)
        elif mode == "reset-body":
            connection.sendall(HEAD + b"{" + b" " * 99)
            time.sleep(0.1)
            reset(connection)
        elif mode == "trickle":
            connection.sendall(HEAD)
            for _ in range(1000):
                connection.sendall(b" ")
                time.sleep(1)
    except OSError:
        pass

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
with open(port_file, "w") as f:
    f.write(str(listener.getsockname()[1]))
while True:
    connection, _ = listener.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
