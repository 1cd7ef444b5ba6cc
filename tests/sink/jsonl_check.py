#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Independent reader of a JSON lines file for tests/sink/test_jsonl.c: strict UTF-8 + strict JSON (no NaN/Infinity).
"""Usage: jsonl_check.py FILE flat|seq

Every line must be one strictly valid JSON object (UTF-8, no NaN/Infinity, no
raw control characters, nothing after the object); the file must end with a
newline. Exit status 1 with a message on the first violation.

flat: one "LINE.path<TAB>value" per leaf, where a string is s:<hex of its UTF-8>,
      a number n:<repr>, null null, a bool b:true/b:false; objects also print
      "LINE.path{}<TAB>key1,key2,..." (in order) and lists "LINE.path#<TAB>n:length";
      a capture_time string adds "LINE.capture_us<TAB>microseconds since the epoch"
      as computed by Python's datetime.
seq:  "camera<TAB>seq<TAB>number of detections" per line.
Both end with "lines<TAB>N".
"""
import datetime
import json
import sys


def reject_constant(name):
    raise ValueError("non-finite number %s" % name)


def flat(prefix, v, out):
    if isinstance(v, dict):
        out.append("%s{}\t%s" % (prefix, ",".join(v.keys())))
        for k, x in v.items():
            flat(prefix + "." + k, x, out)
    elif isinstance(v, list):
        out.append("%s#\tn:%d" % (prefix, len(v)))
        for i, x in enumerate(v):
            flat("%s[%d]" % (prefix, i), x, out)
    elif isinstance(v, str):
        out.append("%s\ts:%s" % (prefix, v.encode("utf-8").hex()))
    elif isinstance(v, bool):
        out.append("%s\tb:%s" % (prefix, "true" if v else "false"))
    elif v is None:
        out.append("%s\tnull" % prefix)
    else:
        out.append("%s\tn:%r" % (prefix, v))


def main():
    path, mode = sys.argv[1], sys.argv[2]
    data = open(path, "rb").read()
    if data and not data.endswith(b"\n"):
        sys.exit("%s: the last line has no newline" % path)
    lines = data.split(b"\n")[:-1] if data else []
    out = []
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    for i, raw in enumerate(lines):
        try:
            text = raw.decode("utf-8", errors="strict")
            obj = json.loads(text, parse_constant=reject_constant, strict=True)
        except (UnicodeDecodeError, ValueError) as e:
            sys.exit("%s line %d: invalid: %s: %r" % (path, i + 1, e, raw[:200]))
        if not isinstance(obj, dict):
            sys.exit("%s line %d: not an object" % (path, i + 1))
        if mode == "flat":
            flat(str(i), obj, out)
            ct = obj.get("capture_time")
            if isinstance(ct, str):
                dt = datetime.datetime.fromisoformat(ct.replace("Z", "+00:00"))
                out.append("%d.capture_us\t%d" % (i, (dt - epoch) // datetime.timedelta(microseconds=1)))
        else:
            out.append("%s\t%d\t%d" % (obj["camera"], obj["seq"], len(obj["detections"])))
    out.append("lines\t%d" % len(lines))
    sys.stdout.write("\n".join(out) + "\n")


main()
