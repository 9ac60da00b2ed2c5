"""The operator's own Kubernetes API calls: one asyncio HTTP client (kube/client.py)."""

from sagemaker_operator.kube.client import KubeApiError, KubeClient, connection_info

__all__ = ["KubeApiError", "KubeClient", "connection_info"]
