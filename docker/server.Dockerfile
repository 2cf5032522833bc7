# sqsocket's Python peers (echo servers and friends) in a container.
#
# Context: the repository root (compose.yaml does that), or the harness's
# context with the same layout (pyproject.toml, README.md, sqsocket/).
# Default command: an echo server on /sockets/echo.sock, mode 666 so that a
# client container running as another uid may connect.
#
# No registry is reachable on sqsocket's machines: pass a locally made base,
#   sqsocket docker base   # debootstrap -> sqsocket/base:bookworm
ARG BASE=debian:bookworm-slim
FROM ${BASE}

# Build-time only (an ARG, not an ENV): no debconf prompts during apt-get.
ARG DEBIAN_FRONTEND=noninteractive

ARG PYTHON_VERSION=3.11.2-1+b1
# Dependencies come from Debian, not PyPI: a build may reach Debian's mirror but not
# PyPI (behind a TLS-intercepting proxy, for one). python3-construct and python3-rich
# are sqsocket's runtime dependencies (pyproject.toml's list); setuptools builds it
# without an isolated (PyPI-fed) build env.
# python3-setuptools is not pinned: it takes bookworm security updates, and a pin
# would fail the build at the next one.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        "python3=${PYTHON_VERSION}" "python3-venv=${PYTHON_VERSION}" \
        python3-construct=2.10.68+dfsg1-2 python3-rich=13.3.1-1 python3-wheel=0.38.4-2 \
        python3-setuptools \
    && rm -rf /var/lib/apt/lists/*

# A virtual environment (Debian's python3 refuses system-wide pip installs, PEP 668)
# that sees the Debian packages above.
ENV VIRTUAL_ENV=/opt/sqsocket/venv
ENV PATH=${VIRTUAL_ENV}/bin:${PATH}
WORKDIR /opt/sqsocket/src
COPY pyproject.toml README.md ./
COPY sqsocket/ ./sqsocket/
# bookworm's setuptools (66) predates the SPDX license string and license-files
# (PEP 639, setuptools 77): give it the older table form; the grep fails the build
# when pyproject.toml's line is no longer the one rewritten here.
RUN sed -i -e 's/^license = "MIT"$/license = { text = "MIT" }/' -e '/^license-files = /d' \
        pyproject.toml \
    && grep -qx 'license = { text = "MIT" }' pyproject.toml \
    && python3 -m venv --system-site-packages "${VIRTUAL_ENV}" \
    && pip install --no-cache-dir --disable-pip-version-check --no-index \
        --no-build-isolation --no-deps . \
    && pip check \
    && sqsocket --version

ARG UID=10001
RUN groupadd --gid "${UID}" sqsocket \
    && useradd --uid "${UID}" --gid "${UID}" --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin sqsocket \
    && install -d -o "${UID}" -g "${UID}" -m 0755 /sockets

LABEL org.opencontainers.image.title="sqsocket-server" \
      org.opencontainers.image.description="sqsocket's Python echo servers on Unix sockets in /sockets"

USER ${UID}:${UID}
WORKDIR /sockets
# No HEALTHCHECK here: compose.yaml declares one (test -S on the socket file).
ENTRYPOINT ["sqsocket"]
CMD ["serve", "echo", "--unix", "/sockets/echo.sock", "--mode", "666"]
