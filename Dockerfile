# The operator's image: `docker build -t sagemaker-operator:dev .` (or `make image`, which
# builds it with podman on a base image made from Debian packages when no registry can be
# reached: PYTHON_IMAGE is the one switch).
#
# Two stages: the first installs the operator's wheel (the package holds only what runs in
# production: the emulator and the lab are packages of their own) and its controller's
# dependencies into a virtual environment; the second is the same Python base with only
# that environment copied in, so no build tool, compiler, pip or test code reaches the
# final image, and nothing has to be deleted on the way. Every dependency ships manylinux
# wheels; nothing is compiled.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
# pip lives in a tools environment; the operator's environment never has pip or
# setuptools (pip --python installs into it from outside).
RUN python -m venv /opt/tools && python -m venv --without-pip /opt/venv
COPY pyproject.toml README.md constraints.txt ./
COPY operator/ operator/
# --no-compile: bytecode only for what production imports (the last step below).
# constraints.txt pins every dependency (`make lock`): the botocore the models were
# generated from, and the same kopf, aiohttp and pydantic in every build. The [controller]
# extra is the controller's; the kubectl plugin's `kubernetes` ([kubectl]) stays out.
RUN /opt/tools/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && /opt/tools/bin/pip --python /opt/venv/bin/python install --no-cache-dir --no-compile \
         -c constraints.txt "$(echo /wheels/sagemaker_operator-*.whl)[controller]"
# One import of what `sagemaker-operator run` loads writes the bytecode of exactly those
# modules (this stage does not set PYTHONDONTWRITEBYTECODE): the root filesystem is
# read-only at run time, so none is written there.
RUN /opt/venv/bin/python -c 'import sagemaker_operator.cli, sagemaker_operator.controller.operator' \
    && /opt/venv/bin/sagemaker-operator run --help >/dev/null \
    && cp /etc/passwd /etc/group /src/ \
    && echo 'nonroot:x:65532:65532:sagemaker-operator:/nonexistent:/usr/sbin/nologin' >> /src/passwd \
    && echo 'nonroot:x:65532:' >> /src/group

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="sagemaker-operator" \
      org.opencontainers.image.description="Runs Amazon SageMaker training jobs from Kubernetes TrainingJob resources" \
      org.opencontainers.image.licenses="Apache-2.0"
# A numeric non-root user with a passwd and group entry (made in the build stage from the
# same base's files): kopf names its peer identity with getpass.getuser(), which raises
# KeyError for a UID that /etc/passwd lacks. containerd and Docker add no entry (podman
# does, which hid the crash). No home, no shell.
COPY --from=build /src/passwd /src/group /etc/
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
ENTRYPOINT ["sagemaker-operator", "run"]
