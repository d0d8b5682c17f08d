#!/bin/sh
# Starts a sleeping process of its own, writes "its pid and this script's pid" to the file given,
# and waits for it.
sleep 300 &
echo "$! $$" > "$1.tmp"
mv "$1.tmp" "$1"
wait
