#!/bin/sh
# Container entrypoint: make DATA_DIR belong to PUID:PGID, then run the command as that user.
#
# NAS users expect linuxserver.io behaviour: files the container writes into a bind mount belong
# to their own account (`id -u` / `id -g` on the NAS), not to root or to an unknown uid. So the
# container starts as root only long enough to fix ownership, then `setpriv` (util-linux, already
# in Debian slim) replaces this shell with the command under PUID:PGID. `exec` keeps the app as
# PID 1, so `docker stop`'s SIGTERM reaches uvicorn, which finishes in-flight requests.
set -eu

say() { echo "entrypoint: $*" >&2; }
fail() {
    say "$*"
    exit 2 # what `python -m app` answers for a configuration error, too
}

# A plain decimal id: no sign, no leading zero (sh arithmetic would read 0100 as octal), and no
# larger than the kernel's largest valid id.
is_id() {
    case $1 in '' | *[!0-9]* | 0?*) return 1 ;; esac
    [ ${#1} -le 10 ] && [ "$1" -le 4294967294 ]
}

PUID=${PUID:-1000}
PGID=${PGID:-1000}
DATA_DIR=${DATA_DIR:-/data}

check_id() { # NAME VALUE
    is_id "$2" || fail "$1 must be a number such as 1000 (run 'id -u' and 'id -g' on the NAS as the user who should own the data); got '$2'"
    [ "$2" != 0 ] || fail "$1=0 would run the inbox as root; use the NAS user's own ids ('id -u', 'id -g')"
}
check_id PUID "$PUID"
check_id PGID "$PGID"

if [ -n "${UMASK:-}" ]; then
    case $UMASK in
        [0-7][0-7][0-7] | [0-7][0-7][0-7][0-7]) umask "$UMASK" ;;
        *) fail "UMASK must be 3 or 4 octal digits such as 022 or 002; got '$UMASK'" ;;
    esac
fi

if [ "$(id -u)" != 0 ]; then
    # Started with `user:` / `--user` (or rootless): the runtime already chose the account and
    # we could neither chown nor switch, so PUID/PGID do not apply.
    [ -w "$DATA_DIR" ] || fail "$DATA_DIR is not writable by uid $(id -u); fix the folder's owner or drop 'user:' and use PUID/PGID"
    exec "$@"
fi

mkdir -p "$DATA_DIR"
# Only entries that differ are touched, so a large folder costs one walk, not a rewrite; -xdev
# keeps away from anything else mounted below. Some NAS shares (NFS root_squash, SMB) refuse
# chown: that is worth a warning, and the write test below decides whether we can go on.
if ! find "$DATA_DIR" -xdev \( ! -user "$PUID" -o ! -group "$PGID" \) \
    -exec chown -h "$PUID:$PGID" {} + 2>/dev/null; then
    say "warning: could not change every file in $DATA_DIR to $PUID:$PGID (a network share?)"
fi

drop() {
    setpriv --reuid="$PUID" --regid="$PGID" --clear-groups --no-new-privs "$@"
}
drop test -w "$DATA_DIR" ||
    fail "$DATA_DIR is not writable by $PUID:$PGID; set PUID/PGID to the owner of the data folder on the NAS"
if [ -e "$DATA_DIR/inbox.db" ]; then
    drop test -w "$DATA_DIR/inbox.db" ||
        fail "$DATA_DIR/inbox.db is not writable by $PUID:$PGID; set PUID/PGID to its owner"
fi

# root's HOME is unreadable after the switch; nothing should depend on one, /tmp is harmless.
export HOME=/tmp
say "running as $PUID:$PGID, umask $(umask), data in $DATA_DIR"
exec setpriv --reuid="$PUID" --regid="$PGID" --clear-groups --no-new-privs "$@"
