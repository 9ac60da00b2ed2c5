"""The validating admission webhook: refuse at `kubectl apply` what the schema cannot.

Behind a Service in a cluster, the certificate comes from a folder (cert-manager's or the
chart's secret, mounted) and the chart registers the webhook. Run locally (no folder), the
operator makes a self-signed certificate for 127.0.0.1 and kopf registers the webhook
itself, pointing the apiserver at this process.
"""

from __future__ import annotations

import datetime
import ipaddress
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kopf

from sagemaker_operator.controller.checks import RefusedError, plan_job
from sagemaker_operator.controller.requests import Owner
from sagemaker_operator.controller.runtime import Runtime
from sagemaker_operator.kube import KubeApiError
from sagemaker_operator.settings import OperatorSettings

# A resource being admitted has no UID yet; the tags are checked with one of UID length.
ADMISSION_UID = "00000000-0000-0000-0000-000000000000"
LOCAL_CONFIGURATION = "sagemaker-operator.dev"


async def check(runtime: Runtime, namespace: str, name: str, spec: Mapping[str, Any]) -> None:
    """Raise kopf.AdmissionError with the message the operator would put in status."""
    try:
        labels = await runtime.namespace_labels(namespace)
    except KubeApiError as error:
        raise kopf.AdmissionError(f"cannot read namespace {namespace}'s labels for the policy: "
                                  f"{error}", code=503) from error  # fmt: skip
    try:
        plan_job(spec, Owner(ADMISSION_UID, namespace, name, runtime.cluster_id), runtime.policy,
                 runtime.default_region, labels)  # fmt: skip
    except RefusedError as refused:
        raise kopf.AdmissionError(str(refused), code=422) from refused


def server(settings: OperatorSettings) -> tuple[kopf.WebhookServer, str | None]:
    """The webhook server, and the name under which kopf registers it (None: the chart does)."""
    port = settings.webhook_port or None  # 0: any free port
    if settings.webhook_cert_dir is not None:
        folder = settings.webhook_cert_dir
        served = kopf.WebhookServer(
            addr="0.0.0.0",  # noqa: S104 - in a pod, behind its Service
            port=port,
            certfile=folder / "tls.crt",
            pkeyfile=folder / "tls.key",
        )
        return served, None
    certificate, key = self_signed("127.0.0.1")
    folder = Path(tempfile.mkdtemp(prefix="sagemaker-operator-webhook-"))
    (folder / "tls.crt").write_bytes(certificate)
    (folder / "tls.key").write_bytes(key)
    (folder / "tls.key").chmod(0o600)
    served = kopf.WebhookServer(addr="127.0.0.1", host="127.0.0.1", port=port,
                                certfile=folder / "tls.crt", pkeyfile=folder / "tls.key",
                                cadata=certificate)  # fmt: skip
    return served, LOCAL_CONFIGURATION


def self_signed(address: str, days: int = 365) -> tuple[bytes, bytes]:
    """A self-signed serving certificate (its own CA) for an IP address: PEM cert and key."""
    # Imported here: an operator without the webhook (or with the chart's certificate)
    # does not carry cryptography's 7 MB.
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sagemaker-operator-webhook")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address(address))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()),
    )  # fmt: skip
