#!/usr/bin/python3
"""A small Docker registry token server (the Bearer flow of Docker Hub, GHCR
and Forgejo) for docker-registry's `auth: token`: GET /token with basic
credentials and `scope=repository:NAME:ACTIONS` answers a JWT signed RS256
with the key whose certificate (in `x5c`) is the registry's rootcertbundle.

  token_server.py PORT KEY.pem CERT.pem ISSUER SERVICE USER:PASSWORD:ACTIONS...

Each user is granted at most ACTIONS (comma-separated) on any repository;
wrong credentials get 401. Tokens last $TOKEN_LIFETIME seconds (300). Only
the standard library and python3-cryptography.
"""
import base64
import http.server
import json
import os
import sys
import time
import urllib.parse
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

PORT, KEY, CERT, ISSUER, SERVICE = sys.argv[1:6]
LIFETIME = int(os.environ.get("TOKEN_LIFETIME", "300"))
USERS = {}
for spec in sys.argv[6:]:
    user, password, actions = spec.split(":", 2)
    USERS[user] = (password, set(actions.split(",")))

key = serialization.load_pem_private_key(open(KEY, "rb").read(), password=None)
cert = x509.load_pem_x509_certificate(open(CERT, "rb").read())
X5C = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token(subject, access):
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [X5C]}
    claims = {"iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + LIFETIME,
              "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(sig)}"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        user, granted = None, set()
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            if name in USERS and USERS[name][0] == password:
                user, granted = name, USERS[name][1]
        if url.path != "/token" or user is None or query.get("service") != [SERVICE]:
            body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())
            return
        access = []
        for scope in query.get("scope", []):
            for one in scope.split(" "):
                kind, _, rest = one.partition(":")
                name, _, actions = rest.rpartition(":")
                allowed = [a for a in actions.split(",") if a in granted]
                access.append({"type": kind, "name": name, "actions": allowed})
        t = token(user, access)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"token": t, "access_token": t, "expires_in": LIFETIME}).encode())

    def log_message(self, fmt, *args):
        sys.stderr.write("token server: " + (fmt % args) + "\n")


http.server.ThreadingHTTPServer(("127.0.0.1", int(PORT)), Handler).serve_forever()
