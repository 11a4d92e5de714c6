#!/usr/bin/env python3
# kernel_exec.py — runs one line of Python in a rental's Jupyter kernel through the agent, as a browser
# would: POST /jupyter/<rental>/api/kernels with the sign-in cookie, then the kernel's channels over a
# WebSocket (RFC 6455, written here with the standard library alone: no client package is installed
# offline) with an execute_request, and prints what the kernel wrote to stdout.
# Usage: kernel_exec.py http://127.0.0.1:PORT/jupyter/RENTAL COOKIE CODE   (exit 1 on any failure)
import base64, json, os, socket, struct, sys, urllib.request, uuid
from urllib.parse import urlparse

base, cookie, code = sys.argv[1].rstrip('/'), sys.argv[2], sys.argv[3]
req = urllib.request.Request(base + '/api/kernels', data=b'{}', method='POST',
                             headers={'Cookie': cookie, 'Content-Type': 'application/json'})
kid = json.load(urllib.request.urlopen(req, timeout=60))['id']
u = urlparse(base)
s = socket.create_connection((u.hostname, u.port), timeout=60)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((f'GET {u.path}/api/kernels/{kid}/channels?session_id=t HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n'
           f'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n'
           f'Sec-WebSocket-Version: 13\r\nCookie: {cookie}\r\n\r\n').encode())
buf = b''
while b'\r\n\r\n' not in buf:
    chunk = s.recv(4096)
    if not chunk:
        sys.exit('closed during the handshake')
    buf += chunk
head, buf = buf.split(b'\r\n\r\n', 1)
if b' 101 ' not in head.split(b'\r\n')[0]:
    sys.exit('no upgrade: ' + head.decode(errors='replace'))

def send_text(data):
    mask = os.urandom(4)
    n = len(data)
    hdr = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack('>H', n) if n < 65536
                           else bytes([0x80 | 127]) + struct.pack('>Q', n))
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

def need(n):
    global buf
    while len(buf) < n:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit('closed')
        buf += chunk
    out, buf = buf[:n], buf[n:]
    return out

msg_id = str(uuid.uuid4())
send_text(json.dumps({'header': {'msg_id': msg_id, 'username': 't', 'session': 't', 'msg_type': 'execute_request',
                                 'version': '5.3', 'date': ''}, 'parent_header': {}, 'metadata': {},
                      'content': {'code': code, 'silent': False, 'store_history': False, 'user_expressions': {},
                                  'allow_stdin': False, 'stop_on_error': True}, 'channel': 'shell',
                      'buffers': []}).encode())
out = ''
while True:
    b0, b1 = need(2)
    n = b1 & 0x7f
    if n == 126:
        n = struct.unpack('>H', need(2))[0]
    elif n == 127:
        n = struct.unpack('>Q', need(8))[0]
    payload = need(n)
    if b0 & 0x0f == 8:
        sys.exit('closed by the server')
    if b0 & 0x0f != 1:
        continue
    m = json.loads(payload)
    if m.get('parent_header', {}).get('msg_id') != msg_id:
        continue
    if m.get('msg_type') == 'stream' and m['content'].get('name') == 'stdout':
        out += m['content']['text']
    if m.get('msg_type') == 'status' and m['content'].get('execution_state') == 'idle':
        break
print(out, end='')
