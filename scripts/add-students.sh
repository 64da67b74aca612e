#!/usr/bin/env bash
# Make (or remove) student accounts for a dockerlab classroom (deploy/jupyterhub/).
#   add-students.sh [--group G] [--count N] [--passwords FILE] NAME...
#   add-students.sh --remove [--group G] NAME...
# Each student gets an account with a home (useradd -m), membership of the group the hub lets
# in (students; made when missing), and subordinate ID ranges of N ids (65536) in /etc/subuid
# and /etc/subgid, placed after every range already there so no two users overlap: rootless
# dockerlab maps them into the student's containers. Idempotent: an existing account keeps
# its home, password and ranges; only what it lacks is added. --passwords FILE (`-` for stdin)
# holds NAME:PASSWORD lines (chpasswd's format); its names are added too. Without a password
# an account cannot log in to the hub (PAM) until one is set (passwd NAME).
# --remove ends the student's processes (its containers' too: those in its ranges, by pid),
# removes its ranges, the account and its home.
set -euo pipefail
umask 022
prog=add-students
group=students
count=65536
passwords=
remove=0
names=()
die() { echo "$prog: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --group) group=${2:?}; shift 2 ;;
    --count) count=${2:?}; shift 2 ;;
    --passwords) passwords=${2:?}; shift 2 ;;
    --remove) remove=1; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; names+=("$@"); break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) names+=("$1"); shift ;;
  esac
done
[ "$(id -u)" = 0 ] || die "run as root (it makes accounts and edits /etc/subuid)"
[[ $count =~ ^[1-9][0-9]*$ ]] || die "--count must be a positive number, not '$count'"
pwlines=()
if [ -n "$passwords" ]; then
  [ "$remove" = 0 ] || die "--passwords cannot go with --remove"
  if [ "$passwords" = - ]; then mapfile -t pwlines; else mapfile -t pwlines < "$passwords"; fi
  for line in "${pwlines[@]}"; do
    [ -n "$line" ] || continue
    [[ $line == *:* ]] || die "--passwords: a line without NAME:PASSWORD"
    names+=("${line%%:*}")
  done
fi
[ ${#names[@]} -gt 0 ] || die "no student names given (see --help)"
# Debian's useradd accepts more, but a name a shell, a URL (/user/NAME/) and PAM all take
# unchanged is the safe set: lower-case letter first, then letters, digits, _ and -
valid='^[a-z][a-z0-9_-]{0,31}$'
for name in "${names[@]}" "$group"; do
  [[ $name =~ $valid ]] || die "invalid name '$name': use a lower-case letter, then up to 31" \
    "lower-case letters, digits, '_' or '-'"
done
for tool in useradd userdel usermod groupadd chpasswd; do
  command -v "$tool" >/dev/null || die "$tool is missing (Debian package passwd)"
done
command -v newuidmap >/dev/null || echo "$prog: warning: newuidmap is missing: install" \
  "Debian's uidmap, or rootless dockerlab cannot use the ranges" >&2

# one run at a time: two would pick the same free range
exec 9>/run/dockerlab-add-students.lock
flock 9
touch /etc/subuid /etc/subgid
chmod 644 /etc/subuid /etc/subgid

ranges_of() {  # FILE NAME: the user's "first-last" ranges
  awk -F: -v n="$2" '$1 == n && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ {print $2 "-" $2 + $3 - 1}' "$1"
}
free_start() {  # after every range of both files, from 100000, aligned to 65536
  awk -F: 'BEGIN {end = 100000} $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ && $2 + $3 > end \
    {end = $2 + $3} END {a = 65536; printf "%d\n", int((end + a - 1) / a) * a}' \
    /etc/subuid /etc/subgid
}
end_processes() {  # UID FIRST-LAST...: kill the user's processes and its containers', by pid
  local uid=$1; shift
  local i
  for i in 1 2 3 4 5; do
    pids=$(ps -e -o pid=,uid= | awk -v u="$uid" -v r="$*" '
      BEGIN {n = split(r, rs, " ")}
      {m = ($2 == u); for (i = 1; i <= n; i++) {split(rs[i], b, "-");
        if ($2 >= b[1] && $2 <= b[2]) m = 1}; if (m) print $1}')
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.2
  done
}

if [ "$remove" = 1 ]; then
  for name in "${names[@]}"; do
    if ! uid=$(id -u "$name" 2>/dev/null); then
      echo "$prog: no account $name (nothing to remove)"
      continue
    fi
    [ "$uid" -ge 1000 ] || die "$name (uid $uid) is a system account: not removing it"
    id -nG "$name" | tr ' ' '\n' | grep -qx "$group" \
      || die "$name is not in the group $group: not a student account, not removing it"
    subuids=$(ranges_of /etc/subuid "$name"); subgids=$(ranges_of /etc/subgid "$name")
    # shellcheck disable=SC2086
    end_processes "$uid" $subuids $subgids
    for r in $subuids; do usermod --del-subuids "$r" "$name"; done
    for r in $subgids; do usermod --del-subgids "$r" "$name"; done
    # userdel as root also removes files the student's containers left under the home
    userdel --remove "$name" 2>/dev/null || userdel --remove --force "$name"
    # rootless dockerlab's runtime folder when the student had no XDG_RUNTIME_DIR
    if [ -d "/tmp/dockerlab-$uid" ] && [ "$(stat -c %u "/tmp/dockerlab-$uid")" = "$uid" ]; then
      rm -rf --one-file-system "/tmp/dockerlab-$uid"
    fi
    echo "$prog: removed $name"
  done
  exit 0
fi

getent group "$group" >/dev/null || groupadd "$group"
for name in "${names[@]}"; do
  if id -u "$name" >/dev/null 2>&1; then
    usermod -a -G "$group" "$name"
    what="updated"
  else
    # no ranges from useradd: they are placed below, the same way for new and old accounts
    useradd --create-home --shell /bin/bash -G "$group" \
      -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$name"
    what="added"
  fi
  first=$(free_start)  # one start free in both files: the same numbers for uids and gids
  for kind in uid gid; do
    if [ -z "$(ranges_of "/etc/sub$kind" "$name")" ]; then
      usermod "--add-sub${kind}s" "$first-$((first + count - 1))" "$name"
    fi
  done
  echo "$prog: $what $name (subuids $(ranges_of /etc/subuid "$name" | paste -sd,)," \
    "subgids $(ranges_of /etc/subgid "$name" | paste -sd,))"
done
if [ ${#pwlines[@]} -gt 0 ]; then
  printf '%s\n' "${pwlines[@]}" | grep -v '^$' | chpasswd
fi
