# The operator's image: `docker build -t sagemaker-operator:dev .` (or `make image`, which
# builds it with podman on a base image made from Debian packages when no registry can be
# reached: PYTHON_IMAGE is the one switch).
#
# Two stages: the first installs the project's wheel and its dependencies into a virtual
# environment and strips from it what the operator never imports; the second is the same
# Python base with only that environment copied in, so no build tool, compiler, pip or test
# code reaches the final image. Every dependency ships manylinux wheels; nothing is compiled.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md constraints.txt ./
COPY operator/ operator/
# --no-compile: bytecode only for what production imports (the last step below).
# constraints.txt pins every dependency (`make lock`): the botocore the models were
# generated from, and the same kopf, kubernetes and pydantic in every build.
RUN /opt/venv/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install --no-cache-dir --no-compile -c constraints.txt \
         "$(echo /wheels/sagemaker_operator-*.whl)[controller]"
# What the operator never runs, removed (sizes measured with kubernetes 37, botocore 1.44):
# - the `kubernetes` package and what only it needs (about 75 MB): it is the kubectl
#   plugin's; the operator's Kubernetes calls go through its own aiohttp client, and kopf
#   logs in without it;
# - botocore's models of the ~400 services it never calls (27 MB): only SageMaker, STS
#   (the default policy's account) and CloudWatch Logs (the kubectl plugin) stay;
# - the project's test platform, generator and demo (the CLI imports them lazily), and
#   pip and setuptools themselves.
# Then one import of what `sagemaker-operator run` loads writes the bytecode of exactly
# those modules (this stage does not set PYTHONDONTWRITEBYTECODE): the root filesystem is
# read-only at run time, so none is written there.
RUN site=$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') \
    && /opt/venv/bin/python -m pip uninstall --yes --quiet kubernetes aiohttp-retry \
         charset-normalizer durationpy oauthlib requests requests-oauthlib websocket-client \
    && find "$site/botocore/data" -mindepth 1 -maxdepth 1 -type d \
         ! -name sagemaker ! -name sts ! -name logs -exec rm -rf {} + \
    && rm -rf "$site/sagemaker_operator/testing" "$site/sagemaker_operator/codegen" \
         "$site/sagemaker_operator/demo.py" \
    && /opt/venv/bin/python -m pip uninstall --yes --quiet pip setuptools \
    && /opt/venv/bin/python -c \
         'import sagemaker_operator.cli, sagemaker_operator.controller.operator' \
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
