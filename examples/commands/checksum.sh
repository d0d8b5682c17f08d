#!/bin/sh
# checksum PATH ALGORITHM: the file's checksum, as text.
set -eu
case "$2" in
    sha256 | sha1 | md5) ;;
    *) echo "unknown algorithm: $2 (sha256, sha1 or md5)" >&2; exit 2 ;;
esac
"${2}sum" -- "$1" | cut -d ' ' -f 1
