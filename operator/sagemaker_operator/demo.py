"""``sagemaker-operator demo``: the local platform end to end, in about ten seconds.

Starts a real control plane and the SageMaker emulator, then shows each working: a
namespace created through kubectl, a training job created through boto3 and followed
to completion. (Once the controller exists, the demo will apply a TrainingJob instead.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from sagemaker_operator.testing.controlplane import LocalControlPlane
from sagemaker_operator.testing.emulator import Emulator

Say = Callable[[str], None]


def run_demo(say: Say, keep_running: bool = False) -> None:
    started = time.monotonic()
    say("starting a local control plane (etcd + kube-apiserver on loopback)...")
    with LocalControlPlane() as control_plane, Emulator(profile="fast") as emulator:
        cluster = control_plane.cluster
        version = json.loads(cluster.kubectl("version", "-o", "json").stdout)
        say(
            f"  kube-apiserver {version['serverVersion']['gitVersion']} at "
            f"{control_plane.server} (ready in {time.monotonic() - started:.1f} s)"
        )
        cluster.kubectl("create", "namespace", "demo")
        namespaces = cluster.kubectl("get", "namespaces", "-o", "name").stdout.split()
        say(f"  kubectl create namespace demo -> {', '.join(namespaces)}")

        say(f"SageMaker emulator at {emulator.endpoint_url} (fast profile)")
        sts = emulator.sts_client()
        say(f"  sts get-caller-identity -> {sts.get_caller_identity()['Arn']}")
        sagemaker = emulator.sagemaker_client()
        arn = sagemaker.create_training_job(
            TrainingJobName="demo-xgboost",
            RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
            AlgorithmSpecification={
                "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgboost:1.7-1",
                "TrainingInputMode": "File",
            },
            OutputDataConfig={"S3OutputPath": "s3://my-bucket/output"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
        )["TrainingJobArn"]
        say(f"  create-training-job -> {arn}")
        last = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            described = sagemaker.describe_training_job(TrainingJobName="demo-xgboost")
            status = f"{described['TrainingJobStatus']} / {described['SecondaryStatus']}"
            if status != last:
                say(f"  describe-training-job -> {status}")
                last = status
            if described["TrainingJobStatus"] == "Completed":
                say(f"  model: {described['ModelArtifacts']['S3ModelArtifacts']}")
                break
            time.sleep(0.25)
        else:
            raise RuntimeError(f"the demo job did not complete in 30 s (last: {last})")

        if keep_running:
            say(
                "\nboth keep running; in another shell:\n"
                f"  export KUBECONFIG={cluster.kubeconfig}\n"
                f"  aws sagemaker list-training-jobs --endpoint-url {emulator.endpoint_url}\n"
                "press Ctrl-C to stop"
            )
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    say(f"demo finished in {time.monotonic() - started:.1f} s; everything stopped")
