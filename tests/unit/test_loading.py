"""What the running operator loads: SageMaker's model cut to the operations it calls.

The whole model is about 9 MB once parsed, and botocore parsed it twice (a session's
get_service_model and a client's creation cache it under different keys); the operator
loads the part its calls reach, once. `make bench` measures the memory this saves.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import botocore.loaders

from sagemaker_operator.aws import servicemodel


def run(code: str) -> str:
    """``code`` in a fresh interpreter (the model is loaded once per process)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, check=True, timeout=120)  # fmt: skip
    return done.stdout.strip()


def test_the_trimmed_model_holds_the_operators_operations_and_every_shape_they_reach() -> None:
    whole = botocore.loaders.create_loader().load_service_model("sagemaker", "service-2")
    cut = servicemodel.trimmed(whole, servicemodel.OPERATOR_OPERATIONS)
    assert set(cut["operations"]) == servicemodel.OPERATOR_OPERATIONS
    assert len(cut["shapes"]) < len(whole["shapes"]) / 5
    assert cut["metadata"] == whole["metadata"]
    for name, shape in cut["shapes"].items():
        assert "documentation" not in shape
        refs = [*shape.get("members", {}).values(),
                *(shape.get(part) for part in ("member", "key", "value"))]  # fmt: skip
        for ref in refs:
            if ref:
                assert ref["shape"] in cut["shapes"], f"{name} reaches {ref['shape']}"


def test_an_operator_process_loads_the_cut_model_once_and_its_clients_use_it() -> None:
    shown = run("""
        import botocore.loaders
        from sagemaker_operator.aws import servicemodel
        from sagemaker_operator.aws.gateway import SageMakerGateway
        from sagemaker_operator.aws.accounts import OWN

        loads = []
        original = botocore.loaders.JSONFileLoader.load_file
        def counted(self, path):
            loads.append(path)
            return original(self, path)
        botocore.loaders.JSONFileLoader.load_file = counted

        servicemodel.load_only()
        problems = servicemodel.validate_request("CreateTrainingJob", {"TrainingJobName": "x"})
        gateway = SageMakerGateway(endpoint_url="http://127.0.0.1:9", home_region="us-east-1")
        gateway.warm_up("us-east-1")
        client = gateway._client(OWN, "us-east-1", "act")
        print(sorted(client.meta.service_model.operation_names))
        print(sum(1 for path in loads if path.endswith("sagemaker/2017-07-24/service-2")))
        print(sum(1 for path in loads if path.endswith("/endpoints")))
        print(any("RoleArn" in problem for problem in problems))
    """).splitlines()
    assert shown[0] == str(sorted(servicemodel.OPERATOR_OPERATIONS))
    assert shown[1:] == ["1", "1", "True"]  # parsed once each; validation as before


def test_the_run_command_loads_neither_the_kubernetes_package_nor_its_threads() -> None:
    """Issue N: the operator's Kubernetes I/O is on one asyncio client (kube/); kopf, which
    logs in with the `kubernetes` package whenever it is importable, does not see it."""
    shown = run("""
        import sys
        from sagemaker_operator import cli
        cli.controller_modules()
        from sagemaker_operator.controller import handlers
        import kopf
        print(sys.modules.get("kubernetes") is not None)
        print(any(name.startswith("kubernetes.") for name in sys.modules))
        print(sorted(name for name in sys.modules if name.startswith("kopf"))[:1])
    """).splitlines()
    assert shown == ["False", "False", "['kopf']"]
