# The reentry operator image: `reentry run` as a non-root user on a read-only root filesystem.
# The Helm chart (charts/reentry) runs it as user 10001 with readOnlyRootFilesystem and a /tmp
# emptyDir; tests/unit/test_chart.py keeps the chart's default image and this file in step.
#
#   docker build -t ghcr.io/reentry-dev/reentry:0.1.0 .     (with a Docker engine)
#   make image                                             (without one: buildah, see docs/install.md)

# BASE: any Debian bookworm image with Python 3.11 and venv. `make image` builds one locally from a
# pinned recipe (image/base.conf) and passes it here, because no registry is reachable where it runs.
ARG BASE=python:3.11-slim-bookworm

# ---- builder: a virtualenv with reentry and its dependencies, built from the source tree --------
FROM ${BASE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/reentry
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
COPY crds ./crds
RUN /opt/reentry/bin/pip install . \
 && /opt/reentry/bin/python -m compileall -q /opt/reentry/lib

# ---- runtime: the virtualenv only; no compiler, no pip cache, no source tree --------------------
FROM ${BASE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="reentry" \
      org.opencontainers.image.description="Staged re-entry of a restored system after an outage" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 reentry \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin reentry
COPY --from=builder /opt/reentry /opt/reentry
# Bytecode is compiled at build time, so nothing needs to be written under a read-only root.
ENV PATH=/opt/reentry/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
# 8080: kopf's liveness endpoint (/healthz); 8383: Prometheus metrics.
EXPOSE 8080 8383
ENTRYPOINT ["reentry"]
CMD ["run", "--liveness=http://0.0.0.0:8080/healthz"]
