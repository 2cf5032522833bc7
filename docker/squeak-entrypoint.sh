#!/bin/sh
# Run one Smalltalk script with the headless Squeak VM:
#   sqsocket-squeak SCRIPT [ARGS...]
# SCRIPT is a file name in /opt/sqsocket/scripts or an absolute path.
#
# The image is copied to a private temporary directory first: the VM opens the
# image's .changes file for writing, and the installed copy belongs to root and
# is read-only for whatever uid the container runs as (the harness may pick the
# host user's uid).
set -eu

if [ "$#" -lt 1 ]; then
    echo "usage: sqsocket-squeak SCRIPT [ARGS...]" >&2
    exit 64
fi
script=$1
shift
case "$script" in
    /*) ;;
    *) script=/opt/sqsocket/scripts/$script ;;
esac
if [ ! -r "$script" ]; then
    echo "sqsocket-squeak: no script $script" >&2
    exit 66
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/squeak.XXXXXX")
cp /opt/sqsocket/image/* "$work/"
image=
for candidate in "$work"/*.image; do
    image=$candidate
    break
done
if [ -z "$image" ] || [ ! -f "$image" ]; then
    echo "sqsocket-squeak: no .image in /opt/sqsocket/image" >&2
    exit 66
fi

exec "$SQUEAKVM" -vm-display-null -vm-sound-null "$image" "$script" "$@"
