# Pharo 13, headless, with sqsocket's Unix-domain socket support loaded.
#
# NOT BUILDABLE ON SQSOCKET'S MACHINES: it downloads Pharo from get.pharo.org,
# which only a machine with internet access reaches. It is written the way the
# Pharo ecosystem builds images and is checked statically here (hadolint, and
# Pharo's grammar over images/pharo/: python -m sqsocket.pharo images/pharo/*.st);
# it has not been run.
#
# Context: the harness's (`sqsocket docker build --pharo`), or the repository root:
#   docker build --network host -f docker/pharo.Dockerfile -t sqsocket/pharo:13 .
#
# How Pharo is fetched: Pharo's zeroconf script, `curl https://get.pharo.org/64/130+vm | bash`,
# which leaves ./pharo (headless launcher), ./pharo-ui, Pharo.image, Pharo.changes,
# the .sources file and pharo-vm/ in the working directory. The alternative is
# pharo-launcher's command line (pharo-launcher image create ... --templateName
# 'Pharo 13.0 - 64bit (stable)'), which needs the launcher itself installed first:
# zeroconf is the one-line way, and what Pharo's own CI images use.
ARG BASE=debian:bookworm-slim
FROM ${BASE}

# Build-time only (an ARG, not an ENV): no debconf prompts during apt-get.
ARG DEBIAN_FRONTEND=noninteractive

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# curl and unzip for zeroconf; ca-certificates for https; libcurl3-gnutls for the
# VM's network plugins. Not pinned: curl and ca-certificates move with
# bookworm-security, and a pin would break the build at the next update.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl unzip libcurl3-gnutls \
    && rm -rf /var/lib/apt/lists/*

ARG UID=10001
RUN groupadd --gid "${UID}" pharo \
    && useradd --uid "${UID}" --gid "${UID}" --no-create-home --home-dir /opt/pharo \
        --shell /usr/sbin/nologin pharo \
    && install -d -o "${UID}" -g "${UID}" -m 0755 /opt/pharo \
    && install -d -o "${UID}" -g "${UID}" -m 0700 /sockets

USER ${UID}:${UID}
WORKDIR /opt/pharo

ARG PHARO_ZEROCONF=https://get.pharo.org/64/130+vm
RUN curl --fail --silent --show-error --location --retry 3 "${PHARO_ZEROCONF}" | bash \
    && test -f Pharo.image && test -x pharo

COPY --chown=${UID}:${UID} images/pharo/ /opt/sqsocket/pharo/
ENV SQSOCKET_PHARO_SRC=/opt/sqsocket/pharo
# File the sources in and save the image: the Pharo convention `st --save --quit`.
RUN ./pharo --headless Pharo.image st --save --quit /opt/sqsocket/pharo/load.st

COPY docker/pharo-entrypoint.sh /usr/local/bin/sqsocket-pharo

LABEL org.opencontainers.image.title="sqsocket-pharo" \
      org.opencontainers.image.description="Pharo 13 headless with Unix-domain sockets (Socket newIPC) against /sockets"

WORKDIR /sockets
ENTRYPOINT ["/usr/local/bin/sqsocket-pharo"]
# workspace [PATH] | server [PATH] [CONNECTIONS] | test
CMD ["workspace", "/sockets/echo.sock"]
