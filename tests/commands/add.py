"""Reads the args object as JSON on stdin and prints the sum of a and b as JSON."""

import json
import sys

args = json.load(sys.stdin)
print(json.dumps({"sum": args["a"] + args["b"]}))
