"""A failure command: appends what it got (DOSHIT_* variables and the event on stdin) as one JSON
line to $OBSERVED_DIR/<file named by its argument>."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

event = json.loads(sys.stdin.read())
env = {name: value for name, value in os.environ.items() if name.startswith("DOSHIT_")}
path = Path(os.environ["OBSERVED_DIR"]) / sys.argv[1]
with path.open("a") as out:
    out.write(json.dumps({"env": env, "event": event, "argv": sys.argv[1:]}) + "\n")
if os.environ.get("DOSHIT_FUNCTION") == "fail" and len(sys.argv) > 2:
    sys.exit(int(sys.argv[2]))
