# The Hello Client inbox appliance.
#
#   docker compose up -d                      # build and run, see compose.yaml
#   docker build -t hello-client-inbox .      # just the image
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/hello-client-inbox:TAG --push .
#
# Every dependency is pure Python or has wheels for linux/amd64 and linux/arm64 (pip is told
# --only-binary, so a missing wheel fails the build instead of needing a compiler), so the
# arm64 half of a multi-platform build compiles nothing under QEMU. The file avoids BuildKit-only syntax
# (heredocs, RUN --mount, COPY --chmod) so the classic builder on older NAS Docker also builds it.

ARG PYTHON_IMAGE=python:3.12-slim

# ---- builder: a virtual environment with the dependencies and the app's metadata ----------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
# binutils for `strip` only: many wheels ship their extension modules with debug symbols
# (uvloop alone carries ~10 MB of them), which no NAS needs. It stays in this stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends binutils \
 && rm -rf /var/lib/apt/lists/* \
 && python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app

# Dependencies first, from pyproject.toml's [project.dependencies] only, so editing the app's
# code does not reinstall them (their layer stays cached). EXTRAS adds optional groups, e.g.
# `--build-arg EXTRAS=postgres` (compose: build.args) for a PostgreSQL DATABASE_URL.
ARG EXTRAS=
COPY pyproject.toml ./
RUN python -c "import os, tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; deps = p['dependencies'] + [d for e in os.environ['EXTRAS'].replace(',', ' ').split() for d in p['optional-dependencies'][e]]; open('/tmp/requirements.txt', 'w').write('\n'.join(deps) + '\n')" \
 && pip install --only-binary=:all: -r /tmp/requirements.txt \
 && find /opt/venv -name '*.so*' -type f -exec strip --strip-unneeded {} +

# The app runs from /app as a source tree (templates/ and static/ stay beside app/, as the
# code expects; .dockerignore decides what gets in); the editable install only records its
# version for importlib.metadata. pip and setuptools go afterwards: nothing installs at run time.
COPY . ./
RUN pip install --no-deps --editable . \
 && pip uninstall --yes pip setuptools \
 && rm -rf /app/*.egg-info /app/build /app/docker \
 && python -m compileall -q /app/app

# ---- runtime: the base image, the venv, the app; no compilers, no pip cache ----------------
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG SOURCE_URL=
LABEL org.opencontainers.image.title="Hello Client inbox" \
      org.opencontainers.image.description="Self-hosted receiver and inbox for Hello Client (NewOaks AI) webhooks" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="MIT"

# setpriv (util-linux) drops root after the entrypoint has fixed /data's owner. Debian slim
# images ship it; install it only if a future base does not.
RUN if ! command -v setpriv >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends util-linux \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && groupadd --gid 1000 inbox \
 && useradd --uid 1000 --gid 1000 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin inbox

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
COPY docker/entrypoint.sh /usr/local/bin/entrypoint.sh
# TZ must reach libc too (log timestamps); slim bases from Debian trixie on carry no
# /usr/share/zoneinfo, so point it at the zone files of the tzdata wheel we already ship.
RUN chmod 0755 /usr/local/bin/entrypoint.sh \
 && if [ ! -e /usr/share/zoneinfo/UTC ]; then \
      rm -rf /usr/share/zoneinfo \
      && ln -s "$(/opt/venv/bin/python -c 'import os, tzdata; print(os.path.dirname(tzdata.__file__))')/zoneinfo" /usr/share/zoneinfo; \
    fi

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8080 \
    PUID=1000 \
    PGID=1000
WORKDIR /app
VOLUME ["/data"]
EXPOSE 8080

# Standard library only (no curl in the image); a 503 from /healthz raises, so it fails too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=4)"

# uvicorn finishes in-flight requests on SIGTERM (up to 30 s; compose allows 40 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["python", "-m", "app"]
