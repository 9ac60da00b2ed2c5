# The operator's image: `docker build -t sagemaker-operator:dev .`
#
# Two stages: the first builds the project's wheel and installs it, with its
# dependencies, into a virtual environment; the second is the same slim Python base with
# only that environment copied in, so no build tool or compiler reaches the final image.
# Every dependency ships manylinux wheels; nothing is compiled.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY operator/ operator/
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install --no-cache-dir /wheels/sagemaker_operator-*.whl

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="sagemaker-operator" \
      org.opencontainers.image.description="Runs Amazon SageMaker training jobs from Kubernetes TrainingJob resources" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# A numeric non-root user, so Kubernetes' runAsNonRoot can verify it; no home, no shell.
USER 65532:65532
ENTRYPOINT ["sagemaker-operator", "run"]
