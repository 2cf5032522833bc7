# A headless Squeak VM (Debian's squeak-vm) with the image sqsocket builds.
#
# The build context is prepared by the harness (sqsocket.dockerharness.contexts):
#   image/            the project-built headless image (+ .changes/.sources if any)
#   images/squeak/    the Smalltalk scripts (workspace.st, uds_server.st, ...)
#   docker/squeak-entrypoint.sh
# so build it with `sqsocket docker build`, not from the repository root.
#
# No registry is reachable on sqsocket's machines: pass a locally made base,
#   sqsocket docker base   # debootstrap -> sqsocket/base:bookworm
#   docker build --network host --build-arg BASE=sqsocket/base:bookworm ...
ARG BASE=debian:bookworm-slim
FROM ${BASE}

# Build-time only (an ARG, not an ENV): no debconf prompts during apt-get.
ARG DEBIAN_FRONTEND=noninteractive

# The VM's version is fixed in bookworm; the entrypoint needs its exact path.
ARG SQUEAK_VM_VERSION=1:4.10.2.2614+20120917~dfsg-1+b1
ENV SQUEAKVM=/usr/lib/squeak/4.10.2.2614+20120917~dfsg/squeakvm

RUN apt-get update \
    && apt-get install -y --no-install-recommends "squeak-vm=${SQUEAK_VM_VERSION}" \
    && rm -rf /var/lib/apt/lists/* \
    && test -x "${SQUEAKVM}"

# A fixed numeric uid: the harness makes the bind-mounted socket directory this
# user's, and a socket file's owner and mode decide who may connect to it.
ARG UID=10001
RUN groupadd --gid "${UID}" squeak \
    && useradd --uid "${UID}" --gid "${UID}" --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin squeak \
    && install -d -o "${UID}" -g "${UID}" -m 0700 /sockets

COPY image/ /opt/sqsocket/image/
COPY images/squeak/ /opt/sqsocket/scripts/
COPY docker/squeak-entrypoint.sh /usr/local/bin/sqsocket-squeak

LABEL org.opencontainers.image.title="sqsocket-squeak" \
      org.opencontainers.image.description="Headless Squeak VM running sqsocket's Smalltalk scripts against Unix sockets in /sockets"

USER ${UID}:${UID}
WORKDIR /sockets
ENTRYPOINT ["/usr/local/bin/sqsocket-squeak"]
# The seed's workspace example against the echo server's socket in /sockets.
CMD ["workspace.st", "/sockets/echo.sock"]
