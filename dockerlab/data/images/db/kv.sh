#!/bin/sh
# One client connection (nc -e gives us its socket as stdin/stdout). A line protocol:
#   PING | SET key value... | GET key | DEL key | KEYS | INFO | QUIT
# Each key is a file under $DB_DATA.
set -f
data=${DB_DATA:-/var/lib/kv}
mkdir -p "$data"
valid() {
  case "$1" in
    '' | . | .. | *[!A-Za-z0-9_.-]*) echo "ERR invalid key '$1'"; return 1 ;;
  esac
}
while IFS= read -r line; do
  line=$(printf '%s' "$line" | tr -d '\r')
  # shellcheck disable=SC2086
  set -- $line
  [ $# -eq 0 ] && continue
  cmd=$(printf '%s' "$1" | tr a-z A-Z)
  case "$cmd" in
    PING) echo PONG ;;
    SET)
      [ $# -ge 3 ] || { echo "ERR usage: SET key value"; continue; }
      key=$2; shift 2
      valid "$key" && printf '%s\n' "$*" > "$data/$key" && echo OK ;;
    GET)
      valid "$2" || continue
      if [ -f "$data/$2" ]; then cat "$data/$2"; else echo "(nil)"; fi ;;
    DEL) valid "$2" && rm -f "$data/$2" && echo OK ;;
    KEYS) ls "$data" ;;
    INFO) echo "db $DB_NAME user $DB_USER on $(hostname)" ;;
    QUIT) echo BYE; exit 0 ;;
    *) echo "ERR unknown command '$1'" ;;
  esac
done
