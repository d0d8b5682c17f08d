#!/bin/sh
# Records when it starts and ends (as lines in the file given), sleeping in between.
echo "start $$" >> "$1"
sleep 0.3
echo "end $$" >> "$1"
