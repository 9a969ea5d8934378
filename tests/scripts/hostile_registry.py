#!/usr/bin/env python3
"""A hostile OCI registry on loopback, for the hostile-input tests.

    hostile_registry.py PORT MODE [ARG]

Serves one repository, `x`, whose tag `v1.0.0` points at an image index.
MODE says how it attacks whoever reads it:

- digest-path ARG: the index's attestation names an envelope layer whose
  digest is `sha256:` + ARG (an absolute path, the canary); the blob
  endpoint answers anything with `evil`.
- endless: the tag's manifest never ends (JSON whitespace, as fast as the
  reader takes it).
- slow: the tag's manifest comes one byte a second.
- many-tags: the tag list is endless, page after page (`Link: next`).
- liar: a blob answers more bytes than its descriptor says.

Every request is logged on stderr. Standard library only.
"""
import hashlib
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def doc(v):
    return json.dumps(v, separators=(",", ":")).encode()


PORT, MODE = int(sys.argv[1]), sys.argv[2]
ARG = sys.argv[3] if len(sys.argv) > 3 else ""

LAYER = b"layer bytes"
CONFIG = doc({"architecture": "amd64", "os": "linux"})
IMAGE = doc({
    "schemaVersion": 2, "mediaType": MANIFEST,
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(CONFIG), "size": len(CONFIG)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(LAYER), "size": len(LAYER)}],
})
INDEX_DOC = doc({
    "schemaVersion": 2, "mediaType": INDEX,
    "manifests": [{"mediaType": MANIFEST, "digest": digest(IMAGE), "size": len(IMAGE),
                   "platform": {"architecture": "amd64", "os": "linux"}}],
})
ATTESTATION = doc({
    "schemaVersion": 2, "mediaType": MANIFEST, "artifactType": DSSE,
    "config": {"mediaType": EMPTY, "digest": digest(b"{}"), "size": 2},
    "layers": [{"mediaType": DSSE, "digest": "sha256:" + ARG, "size": 4}],
    "subject": {"mediaType": INDEX, "digest": digest(INDEX_DOC), "size": len(INDEX_DOC)},
})
REFERRERS = doc({
    "schemaVersion": 2, "mediaType": INDEX,
    "manifests": [{"mediaType": MANIFEST, "digest": digest(ATTESTATION), "size": len(ATTESTATION),
                   "artifactType": DSSE}],
})
DOCS = {digest(d): d for d in [IMAGE, INDEX_DOC, ATTESTATION, REFERRERS]}
DOCS["v1.0.0"] = INDEX_DOC
DOCS["sha256-" + hashlib.sha256(INDEX_DOC).hexdigest()] = REFERRERS
BLOBS = {digest(LAYER): LAYER, digest(CONFIG): CONFIG}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (MODE, fmt % args))

    def send(self, status, body=b"", ctype="application/json", length=True):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/v2/":
            return self.send(200, b"{}")
        if path == "/v2/x/tags/list":
            if MODE == "many-tags":
                page = int(self.path.split("page=")[1]) if "page=" in self.path else 0
                body = doc({"name": "x", "tags": ["t%d-%d" % (page, i) for i in range(1000)]})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Link", '</v2/x/tags/list?n=1000&page=%d>; rel="next"' % (page + 1))
                self.end_headers()
                return self.wfile.write(body)
            return self.send(200, doc({"name": "x", "tags": ["v1.0.0"]}))
        if path.startswith("/v2/x/manifests/"):
            ref = path[len("/v2/x/manifests/"):]
            if ref == "v1.0.0" and MODE == "endless":
                self.send_response(200)
                self.send_header("Content-Type", INDEX)
                self.end_headers()
                chunk = b" " * 65536
                try:
                    while True:
                        self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return
            if ref == "v1.0.0" and MODE == "slow":
                self.send_response(200)
                self.send_header("Content-Type", INDEX)
                self.send_header("Content-Length", str(len(INDEX_DOC)))
                self.end_headers()
                try:
                    for b in INDEX_DOC:
                        self.wfile.write(bytes([b]))
                        self.wfile.flush()
                        time.sleep(1)
                except (BrokenPipeError, ConnectionResetError):
                    return
            if ref in DOCS:
                body = DOCS[ref]
                return self.send(200, body, json.loads(body).get("mediaType", INDEX))
            return self.send(404, doc({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "no"}]}))
        if path.startswith("/v2/x/referrers/"):
            return self.send(404, doc({"errors": [{"code": "NAME_UNKNOWN", "message": "no"}]}))
        if path.startswith("/v2/x/blobs/"):
            ref = path[len("/v2/x/blobs/"):]
            if MODE == "liar":
                return self.send(200, b"x" * 1000000, "application/octet-stream")
            if ref in BLOBS:
                return self.send(200, BLOBS[ref], "application/octet-stream")
            return self.send(200, b"evil", "application/octet-stream")
        return self.send(404, b"{}")


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
