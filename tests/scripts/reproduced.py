#!/usr/bin/python3
"""An independent reader of the reproducibility statement cargo release-dist
publishes beside a release: DSSE's PAE and Ed25519 (python3-cryptography),
sha256 of the files (hashlib). None of the tool's code.

  reproduced.py RELEASE_DIR FILE PUBKEY   prints "verified <n> subjects, <m> outputs"

RELEASE_DIR is the release's directory (df-dist-v1/<name>/<tag>), FILE the
statement's name in it, PUBKEY a Nix `name:base64` public key file.
"""
import base64
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PREDICATE = "https://release-dist.dev/reproduced/v1"


def pae(payload_type, body):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def main(release_dir, file, pubkey_file):
    raw = base64.b64decode(open(pubkey_file).read().strip().split(":", 1)[1])
    public = Ed25519PublicKey.from_public_bytes(raw)
    with open(os.path.join(release_dir, file), "rb") as f:
        envelope = json.loads(f.readline())
    assert envelope["payloadType"] == "application/vnd.in-toto+json", envelope["payloadType"]
    body = base64.b64decode(envelope["payload"])
    sig = envelope["signatures"][0]
    assert sig["keyid"] == hashlib.sha256(raw).hexdigest(), f"keyid {sig['keyid']}"
    public.verify(base64.b64decode(sig["sig"]), pae(envelope["payloadType"], body))
    statement = json.loads(body)
    assert statement["_type"] == "https://in-toto.io/Statement/v1", statement["_type"]
    assert statement["predicateType"] == PREDICATE, statement["predicateType"]
    subjects = statement["subject"]
    assert subjects, "no subject"
    for s in subjects:
        path = os.path.realpath(os.path.join(release_dir, s["name"]))
        assert path.startswith(os.path.realpath(release_dir) + os.sep), s["name"]
        with open(path, "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
        assert got == s["digest"]["sha256"], f"{s['name']}: {got} != {s['digest']['sha256']}"
    outputs = statement["predicate"]["outputs"]
    for o in outputs:
        assert o["narHash"] == o["rebuiltNarHash"], f"{o['name']} differs"
    who = statement["predicate"]["rebuilder"]["id"]
    where = statement["predicate"]["builder"]["store"]
    print(f"verified {len(subjects)} subjects, {len(outputs)} outputs, rebuilt by {who} on {where}")


if __name__ == "__main__":
    main(*sys.argv[1:])
