"""wordcount: reads {"text": ...} as JSON on stdin, prints the counts as JSON."""

import json
import sys

args = json.load(sys.stdin)
text = args["text"]
print(json.dumps({"lines": len(text.splitlines()), "words": len(text.split())}))
