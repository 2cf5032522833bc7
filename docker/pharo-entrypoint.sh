#!/bin/sh
# Run sqsocket's Pharo code in the image built by pharo.Dockerfile:
#   sqsocket-pharo workspace [PATH]            the workspace example against PATH
#   sqsocket-pharo server [PATH] [CONNECTIONS] a Unix-domain echo server on PATH
#   sqsocket-pharo test                        the SUnit tests (SQSOCKET_PATH, SQSOCKET_DIR)
#   sqsocket-pharo conformance SCRIPT          a conformance script (sqsocket conformance
#                                              --docker --pharo mounts it and talks on stdin)
#
# The image is copied to a private temporary directory first, so any uid may run
# it: Pharo writes its .changes file, and the installed copy is read-only to others.
set -eu

home=/opt/pharo
src=/opt/sqsocket/pharo
command=${1:-workspace}
[ "$#" -gt 0 ] && shift

work=$(mktemp -d "${TMPDIR:-/tmp}/pharo.XXXXXX")
cp "$home"/Pharo.image "$home"/Pharo.changes "$work"/
for sources in "$home"/*.sources; do
    [ -f "$sources" ] && cp "$sources" "$work"/
done
image=$work/Pharo.image

case "$command" in
    workspace)
        SQSOCKET_PATH=${1:-${SQSOCKET_PATH:-/sockets/echo.sock}}
        export SQSOCKET_PATH
        exec "$home"/pharo --headless "$image" st --quit "$src"/workspace.st
        ;;
    server)
        SQSOCKET_PATH=${1:-${SQSOCKET_PATH:-/sockets/pharo.sock}}
        SQSOCKET_CONNECTIONS=${2:-${SQSOCKET_CONNECTIONS:-1}}
        export SQSOCKET_PATH SQSOCKET_CONNECTIONS
        exec "$home"/pharo --headless "$image" st --quit "$src"/uds_server.st
        ;;
    test)
        SQSOCKET_DIR=${SQSOCKET_DIR:-/sockets}
        export SQSOCKET_DIR
        cd "$work"
        exec "$home"/pharo --headless "$image" test --junit-xml-output --fail-on-failure \
            'SQSocket-Pharo-Tests'
        ;;
    conformance)
        [ "$#" -eq 1 ] || { echo "usage: sqsocket-pharo conformance SCRIPT" >&2; exit 64; }
        exec "$home"/pharo --headless "$image" st --quit "$1"
        ;;
    *)
        echo "usage: sqsocket-pharo workspace [PATH] | server [PATH] [N] | test | conformance SCRIPT" >&2
        exit 64
        ;;
esac
