"""Which regions a job may name: those botocore knows SageMaker in, in the operator's partition.

Each region gets clients of its own (about 0.9 MB each, never freed), so a region name
is never taken on trust: a tenant naming hundreds of made-up regions would otherwise
grow the operator past its memory limit. botocore's endpoint data
(``Session.get_available_regions``) lists the regions of each partition; a region AWS
opens later is known once botocore is upgraded.
"""

from __future__ import annotations

import functools

import boto3
from botocore.exceptions import UnknownRegionError

from sagemaker_operator.aws import servicemodel


class UnknownRegionForPartitionError(ValueError):
    """A region botocore does not know for SageMaker in the operator's partition."""


@functools.cache
def _session() -> boto3.session.Session:
    # The clients' loader: botocore's endpoint data (6.6 MB once parsed) is read once.
    return boto3.session.Session(botocore_session=servicemodel.session())


@functools.cache
def regions(partition: str) -> frozenset[str]:
    return frozenset(_session().get_available_regions("sagemaker", partition_name=partition))


@functools.cache
def partition_of(region: str) -> str:
    """The partition of a region botocore knows (``aws`` when it does not know it)."""
    try:
        return _session().get_partition_for_region(region)
    except UnknownRegionError:
        return "aws"


def check(region: str, home: str) -> None:
    """Raise UnknownRegionForPartitionError unless ``region`` is one of SageMaker's regions
    in the partition of ``home`` (the operator's default region)."""
    partition = partition_of(home)
    if region not in regions(partition):
        raise UnknownRegionForPartitionError(
            f"spec.region {region!r} is not a SageMaker region of the {partition} partition "
            f"(botocore knows: {', '.join(sorted(regions(partition)))})"
        )
