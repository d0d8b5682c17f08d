#!/bin/sh
# The task's variables, one a line, and the folder it runs in.
printf '%s\n' "$DOSHIT_TASK_ID" "$DOSHIT_FUNCTION" "$DOSHIT_QUEUE" "$DOSHIT_ATTEMPT" "$GREETING" "$(pwd)"
