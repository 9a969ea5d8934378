#!/usr/bin/python3
"""An independent reader of the attestation cargo release-dist attaches to an
image: plain registry HTTP requests (urllib), the OCI referrers tag schema,
DSSE's PAE and Ed25519 (python3-cryptography). None of the tool's code.

  attestation.py check   BASE REPO TAG PUBKEY   prints "verified <n> subjects"
  attestation.py replace BASE REPO TAG          swaps in a forged attestation

BASE is http://HOST:PORT; PUBKEY a Nix `name:base64` public key file.
"""
import base64
import hashlib
import json
import sys
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"


def get(url, accept=None):
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req) as r:
        return r.read()


def send(method, url, body, ctype):
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": ctype})
    with urllib.request.urlopen(req) as r:
        return r.headers.get("Location")


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def pae(payload_type, body):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def find(base, repo, tag):
    """The index bytes, and the attestation descriptors the fallback tag lists."""
    index = get(f"{base}/v2/{repo}/manifests/{tag}", INDEX)
    fallback = digest(index).replace(":", "-")
    referrers = json.loads(get(f"{base}/v2/{repo}/manifests/{fallback}", INDEX))
    found = [d for d in referrers["manifests"] if d.get("artifactType") == DSSE]
    return index, fallback, found


def check(base, repo, tag, pubkey_file):
    index, _, found = find(base, repo, tag)
    assert found, "no DSSE attestation in the referrers tag"
    raw = base64.b64decode(open(pubkey_file).read().strip().split(":", 1)[1])
    public = Ed25519PublicKey.from_public_bytes(raw)
    for d in found:
        manifest = get(f"{base}/v2/{repo}/manifests/{d['digest']}", MANIFEST)
        assert digest(manifest) == d["digest"], "manifest digest"
        m = json.loads(manifest)
        assert m["subject"]["digest"] == digest(index), "subject is not the index"
        layer = m["layers"][0]
        envelope = get(f"{base}/v2/{repo}/blobs/{layer['digest']}")
        assert digest(envelope) == layer["digest"], "envelope digest"
        env = json.loads(envelope)
        body = base64.b64decode(env["payload"])
        sig = env["signatures"][0]
        assert sig["keyid"] == hashlib.sha256(raw).hexdigest(), f"keyid {sig['keyid']}"
        public.verify(base64.b64decode(sig["sig"]), pae(env["payloadType"], body))
        subjects = {s["digest"]["sha256"] for s in json.loads(body)["subject"]}
        wanted = [digest(index)] + [e["digest"] for e in json.loads(index)["manifests"]]
        for w in wanted:
            assert w.split(":")[1] in subjects, f"{w} is not a subject"
        print(f"verified {len(wanted)} subjects")


def replace(base, repo, tag):
    """Points the fallback tag at a forged attestation: the same signature
    over a statement whose first subject digest is changed."""
    index, fallback, found = find(base, repo, tag)
    manifest = json.loads(get(f"{base}/v2/{repo}/manifests/{found[0]['digest']}", MANIFEST))
    env = json.loads(get(f"{base}/v2/{repo}/blobs/{manifest['layers'][0]['digest']}"))
    statement = json.loads(base64.b64decode(env["payload"]))
    statement["subject"][0]["digest"]["sha256"] = "0" * 64
    env["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    forged = json.dumps(env).encode()
    location = send("POST", f"{base}/v2/{repo}/blobs/uploads/", b"", "application/octet-stream")
    if location.startswith("/"):
        location = base + location
    sep = "&" if "?" in location else "?"
    send("PUT", f"{location}{sep}digest={digest(forged)}", forged, "application/octet-stream")
    manifest["layers"][0]["digest"] = digest(forged)
    manifest["layers"][0]["size"] = len(forged)
    body = json.dumps(manifest).encode()
    send("PUT", f"{base}/v2/{repo}/manifests/{digest(body)}", body, MANIFEST)
    listing = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [
        {"mediaType": MANIFEST, "digest": digest(body), "size": len(body), "artifactType": DSSE}]}
    send("PUT", f"{base}/v2/{repo}/manifests/{fallback}", json.dumps(listing).encode(), INDEX)
    print(digest(body))


if __name__ == "__main__":
    if sys.argv[1] == "check":
        check(*sys.argv[2:6])
    else:
        replace(*sys.argv[2:5])
