#!/usr/bin/env python3
"""Checks a custody evidence package (docs/FORMAT.md §15) with Python 3's
standard library only: no custody, no third-party module.

    python3 verify.py [PACKAGE_DIR]

For each document of the package it checks, and prints one line per check:
  1. the document's bytes (if included) against the SHA-256 and size of the
     opening, and the opening against the content commitment (§5.1);
  2. the commitment is the one this archive's arrival record carries;
  3. every record of its custody (every outlet, every ancestor): the record
     is in its log (RFC 9162 inclusion proof against the checkpoint it comes
     with), the checkpoint is signed by that log's key (C2SP signed-note,
     Ed25519), the cosignatures by the package's witness keys verify, and the
     record's own signature is by the log key or by a key one of that log's
     actor records in the package added (§4.3, by the Ed25519 rule of §4.3);
  4. the log as it stood when the document arrived is a prefix of the log
     at export (RFC 9162 consistency proof between two signed checkpoints);
  5. the stored ciphertext is the file the arrival record names.
Exit status 0 when every check passes, 1 otherwise.

Not checked here (custody verify-bundle and trace do, FORMAT.md §10.4):
which role each signer held and whether it was revoked, and the links
between outlets (which share each receive names).
"""

import base64
import hashlib
import json
import os
import re
import sys

# --- Ed25519, by the rule of FORMAT.md §4.3 (RFC 8032 §5.1.7, strict
# decoding, small-order points refused, cofactored equation) ---

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
I = pow(2, (P - 1) // 4, P)


def _decode(b):
    if len(b) != 32:
        return None
    y = int.from_bytes(b, "little") & ((1 << 255) - 1)
    sign = b[31] >> 7
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * I % P
    if (x * x - x2) % P != 0:
        return None
    if x == 0 and sign == 1:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    e1 = (y1 - x1) * (y2 - x2) % P
    e2 = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = e2 - e1, d - c, d + c, e2 + e1
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, pt):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, pt)
        pt = _add(pt, pt)
        s >>= 1
    return q


def _neg(pt):
    x, y, z, t = pt
    return (-x % P, y, z, -t % P)


def _is_identity(pt):
    x, y, z, _ = pt
    return x % P == 0 and (y - z) % P == 0


_BASE = _decode((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))


def ed25519_verify(public, msg, sig):
    if len(sig) != 64:
        return False
    a, r = _decode(public), _decode(sig[:32])
    s = int.from_bytes(sig[32:], "little")
    if a is None or r is None or s >= L:
        return False
    if _is_identity(_mul(8, a)) or _is_identity(_mul(8, r)):
        return False
    k = int.from_bytes(hashlib.sha512(sig[:32] + public + msg).digest(), "little") % L
    q = _add(_mul(s, _BASE), _neg(_add(r, _mul(k, a))))
    return _is_identity(_mul(8, q))


# --- Strict decoding: one encoding per value, as custody reads them ---


def b64(text):
    """Strict base64 (FORMAT.md §3.1): padded, no unused bits set."""
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode() != text:
        raise ValueError("not canonical base64: %r" % text[:60])
    return raw


def decimal(text):
    """A canonical decimal u64: no sign, no leading zero."""
    if not re.fullmatch(r"0|[1-9][0-9]{0,19}", text) or int(text) >= 2**64:
        raise ValueError("not a canonical decimal number: %r" % text[:30])
    return int(text)


# --- Keys and signed notes (FORMAT.md §3.3, §3.4, §3.6, §3.8) ---


def key_id(name, alg, public):
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public).digest()[:4]


def parse_vkey(text):
    if not text.endswith("\n") or text.count("\n") != 1:
        raise ValueError("a key file holds one line")
    name, kid, key = text[:-1].split("+", 2)
    raw = b64(key)
    alg, public = raw[0], raw[1:]
    if len(public) != 32 or key_id(name, alg, public).hex() != kid:
        raise ValueError("verifier key %r does not match its key ID" % name)
    return {"name": name, "alg": alg, "public": public, "id": bytes.fromhex(kid)}


def open_note(note, log, witnesses):
    """(text, cosigners) if the log key signed the note, else raise."""
    cut = note.rindex("\n\n")
    text, lines = note[: cut + 1], note[cut + 2 :].splitlines()
    signed, cosigners = False, []
    for line in lines:
        if not line.startswith("\u2014 "):
            raise ValueError("malformed signature line")
        name, sig = line[2:].split(" ", 1)
        raw = b64(sig)
        if name == log["name"] and raw[:4] == log["id"]:
            signed = signed or ed25519_verify(log["public"], text.encode(), raw[4:])
        for w in witnesses:
            if name == w["name"] and raw[:4] == w["id"] and len(raw) == 76:
                t = int.from_bytes(raw[4:12], "big")
                msg = b"cosignature/v1\ntime %d\n" % t + text.encode()
                if t < 2**63 and ed25519_verify(w["public"], msg, raw[12:]):
                    cosigners.append(name)
    if not signed:
        raise ValueError("the checkpoint is not signed by %s" % log["name"])
    origin, size, root = text.split("\n")[:3]
    if origin != log["name"]:
        raise ValueError("the checkpoint's origin is not %s" % log["name"])
    root = b64(root)
    if len(root) != 32:
        raise ValueError("the checkpoint's root is not 32 bytes")
    return decimal(size), root, cosigners


# --- Merkle proofs (RFC 9162 §2.1.3.2, §2.1.4.2) ---


def node(a, b):
    return hashlib.sha256(b"\x01" + a + b).digest()


def verify_inclusion(index, size, leaf, proof, root):
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, proof):
    if first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if first & (first - 1) == 0:
        proof = [first_root] + proof
    if not proof:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


# --- tlog-proofs and records (FORMAT.md §3.9, §4.2, §4.3) ---


def parse_tlog_proof(text):
    head, note = text.split("\n\n", 1)
    lines = head.split("\n")
    if lines[0] != "c2sp.org/tlog-proof@v1" or not lines[1].startswith("extra "):
        raise ValueError("not a tlog-proof with a record")
    record = b64(lines[1][6:])
    if not lines[2].startswith("index "):
        raise ValueError("no index line")
    hashes = [b64(h) for h in lines[3:]]
    if len(hashes) > 64 or any(len(h) != 32 for h in hashes):
        raise ValueError("the proof's hashes are not 0 to 64 of 32 bytes")
    return record, decimal(lines[2][6:]), hashes, note


def parse_record(b):
    n = b[18]
    return {
        "version": b[0],
        "kind": b[1],
        "index": int.from_bytes(b[2:10], "big"),
        "origin": b[19 : 19 + n].decode(),
        "signer": b[19 + n : 23 + n],
        "payload": b[23 + n : -64],
        "body": b[:-64],
        "signature": b[-64:],
    }


KINDS = dict(enumerate(["?", "ingest", "share", "receive", "actor", "access", "derive", "annotate",
                         "approve", "grant", "audit", "config", "rekey", "compartment", "rewrap"]))


def actor_key(rec):
    """The Ed25519 key a version 2 actor add (0x01) or rotate (0x03) names."""
    if rec["kind"] == 4 and rec["version"] == 2 and rec["payload"][0] in (1, 3):
        return rec["payload"][10:42]
    return None


def rekey_of(rec):
    """(old, new) file addresses of a rekey (0x0c) or rewrap (0x0e) record."""
    at = {12: 0, 14: 40}.get(rec["kind"])
    if at is None:
        return None
    return rec["payload"][at : at + 32], rec["payload"][at + 32 : at + 64]


def evidence_entries(b):
    """Every entry of evidence (FORMAT.md §10.2, version 1 or 2), in the
    order of the package's proofs: hops, entries, then parents depth first."""
    out = []

    def chain(b):
        v2 = b.startswith(b"custody-evidence/v2\n")
        if not (v2 or b.startswith(b"custody-evidence/v1\n")):
            raise ValueError("not custody evidence")
        at, n = 21, b[20]
        for _ in range(n):
            vlen = int.from_bytes(b[at : at + 2], "big")
            at += 2 + vlen
            count = int.from_bytes(b[at : at + 2], "big")
            at += 2
            for _ in range(count):
                elen = int.from_bytes(b[at : at + 4], "big")
                out.append(b[at + 4 : at + 4 + elen])
                at += 4 + elen
        parents = []
        if v2:
            m = b[at]
            at += 1
            for _ in range(m):
                plen = int.from_bytes(b[at : at + 4], "big")
                parents.append(b[at + 4 : at + 4 + plen])
                at += 4 + plen
        if at != len(b):
            raise ValueError("evidence of another length than its framing")
        for p in parents:
            chain(p)

    chain(b)
    return out


def commitment_of(rec):
    if rec["kind"] in (1, 3, 6):
        return rec["payload"][40:72]
    if rec["kind"] == 2:
        return rec["payload"][8:40]
    return None


# --- The package ---


class Report:
    def __init__(self):
        self.failures = 0

    def check(self, ok, what):
        print(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            self.failures += 1


def read(base, rel, mode="r"):
    """A file of the package: a relative path that stays inside it."""
    root = os.path.realpath(base)
    path = os.path.realpath(os.path.join(root, rel))
    if os.path.isabs(rel) or not path.startswith(root + os.sep):
        raise ValueError("%r is not a file of the package" % rel)
    with open(path, mode) as f:
        return f.read()


def check_records(base, doc, logs, witnesses, out):
    signers = {}
    for name, log in logs.items():
        signers[name] = {log["id"]: log["public"]}
    proofs = []
    for p in doc["proofs"]:
        record, index, hashes, note = parse_tlog_proof(read(base, p["file"]))
        proofs.append((p["file"], parse_record(record), record, index, hashes, note))
    for _, rec, _, _, _, _ in proofs:
        key = actor_key(rec)
        if key is not None and rec["origin"] in signers:
            signers[rec["origin"]][key_id("custody-actor", 1, key)] = key
    for f, rec, raw, index, hashes, note in proofs:
        log = logs.get(rec["origin"])
        what = "%s record %d (%s)" % (rec["origin"], rec["index"], KINDS.get(rec["kind"], "kind %d" % rec["kind"]))
        if log is None:
            out.check(False, "%s: no key of its log in the package (%s)" % (what, f))
            continue
        try:
            size, root, cosigners = open_note(note, log, witnesses)
        except ValueError as e:
            out.check(False, "%s: %s" % (what, e))
            continue
        leaf = hashlib.sha256(b"\x00" + raw).digest()
        included = index == rec["index"] and verify_inclusion(index, size, leaf, hashes, root)
        public = signers[rec["origin"]].get(rec["signer"])
        msg = b"custody/v1/record-signature\n" + rec["body"]
        signed = public is not None and ed25519_verify(public, msg, rec["signature"])
        by = " cosigned by " + ", ".join(cosigners) if cosigners else ""
        out.check(included, "%s: included in the checkpoint at size %d, signed by the log%s" % (what, size, by))
        out.check(signed, "%s: its signature by key %s" % (what, rec["signer"].hex()))
    return proofs


def check_document(base, doc, logs, witnesses, out):
    print("document %s (record %d of %s)" % (doc["name"], doc["index"], doc["origin"]))
    opening = json.loads(read(base, doc["opening"]))
    sha, salt = bytes.fromhex(opening["sha256"]), bytes.fromhex(opening["salt"])
    commitment = hashlib.sha256(b"custody/v1/content-commitment\n" + salt + sha).digest()
    out.check(commitment.hex() == opening["commitment"], "the opening opens the commitment %s" % opening["commitment"])
    if doc.get("document"):
        data = read(base, doc["document"], "rb")
        out.check(hashlib.sha256(data).digest() == sha and len(data) == opening["size"],
                  "%s: SHA-256 %s, %d bytes, as the opening says" % (doc["document"], sha.hex(), len(data)))
    else:
        print("      (the package holds the document's digest only: sha256sum YOUR_COPY must print %s)" % sha.hex())
    proofs = check_records(base, doc, logs, witnesses, out)
    arrival = [p[1] for p in proofs if p[1]["origin"] == doc["origin"] and p[1]["index"] == doc["index"]]
    out.check(len(arrival) == 1 and commitment_of(arrival[0]) == commitment,
              "record %d of %s carries this commitment" % (doc["index"], doc["origin"]))
    if arrival:
        # The file the arrival record names, then each rekey or rewrap
        # record that replaced it (their proofs are checked above).
        current, moved = arrival[0]["payload"][:32], []
        for k in doc["ciphertext_chain"]:
            rec = proofs[k][1]
            old_new = rekey_of(rec)
            ok = old_new is not None and old_new[0] == current and rec["origin"] == doc["origin"]
            out.check(ok, "record %d of %s replaced the document's file" % (rec["index"], rec["origin"]))
            if ok:
                current = old_new[1]
                moved.append(str(rec["index"]))
        blob = hashlib.sha256(read(base, doc["ciphertext"], "rb")).digest()
        named = "record %d" % doc["index"] + ("" if not moved else ", then record " + ", ".join(moved))
        out.check(blob == current, "%s is the file %s names (sha256 %s)" % (doc["ciphertext"], named, blob.hex()))
    entries = evidence_entries(read(base, doc["evidence"], "rb"))
    files = [read(base, p["file"], "rb") for p in doc["proofs"]]
    chain = set(doc["ciphertext_chain"])
    custody = [f for k, f in enumerate(files) if k not in chain]
    out.check(entries == custody, "%s holds exactly the records of proofs/, in order" % doc["evidence"])
    c = doc.get("consistency")
    if c:
        log = logs[doc["origin"]]
        old_size, old_root, _ = open_note(read(base, c["old_checkpoint"]), log, witnesses)
        body = read(base, c["proof"])
        head, new_note = body.split("\n\n", 1)
        lines = head.split("\n")
        new_size, new_root, _ = open_note(new_note, log, witnesses)
        hashes = [base64.b64decode(h, validate=True) for h in lines[1:]]
        ok = lines[0] == "old %d" % old_size and verify_consistency(old_size, new_size, old_root, new_root, hashes)
        out.check(ok, "the log at size %d (after the document arrived) is a prefix of the log at size %d" % (old_size, new_size))


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    manifest = json.loads(read(base, "manifest.json"))
    if manifest.get("schema") != "custody-export/v1":
        print("not a custody-export/v1 package")
        return 2
    logs = {}
    for k in manifest["logs"]:
        v = parse_vkey(read(base, k["file"]))
        logs[v["name"]] = v
    witnesses = [parse_vkey(read(base, w["file"])) for w in manifest["witnesses"]]
    out = Report()
    for doc in manifest["documents"]:
        try:
            check_document(base, doc, logs, witnesses, out)
        except (ValueError, KeyError, IndexError, OSError, UnicodeDecodeError) as e:
            out.check(False, "document %s: %s" % (doc.get("name"), e))
    print("every check passed" if out.failures == 0 else "%d check(s) FAILED" % out.failures)
    return 0 if out.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
