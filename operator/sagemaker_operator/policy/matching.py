"""How a policy's patterns match values, by kind: directories at ``/`` boundaries, S3
URIs under prefixes, ARNs and images segment by segment (``*`` within one, ``**`` across
any number)."""

from __future__ import annotations

import fnmatch

from sagemaker_operator.policy.locations import Kind

ANY = "*"


def allows(kind: Kind, pattern: str, value: str) -> bool:
    """Whether ``pattern`` (a policy's entry for a field of ``kind``) allows ``value``."""
    if kind is Kind.FILE_SYSTEM_PATH:
        return path_within(value, pattern)
    if pattern == ANY:
        return True
    if kind is Kind.S3:
        return s3_within(value, pattern)
    if kind in (Kind.ROLE, Kind.ARN):
        return arn_matches(pattern, value)
    if kind is Kind.IMAGE:
        return image_matches(pattern, value)
    return fnmatch.fnmatchcase(value, pattern)


def path_within(path: str, prefix: str) -> bool:
    """Whether a file system's directory ``path`` lies under ``prefix``, at a ``/``
    boundary (``*`` alone: any path). A path with a ``..`` or ``.`` segment is never
    allowed: what it reaches depends on the file system, not on its text."""
    segments = path.split("/")
    if any(segment in {"..", "."} for segment in segments):
        return False
    if prefix == ANY:
        return True
    normal = "/".join(segment for segment in segments if segment)
    base = "/".join(segment for segment in prefix.split("/") if segment)
    return not base or normal == base or normal.startswith(base + "/")


def image_matches(pattern: str, image: str) -> bool:
    """Whether a container image (``registry/repository[:tag][@digest]``) is one the pattern
    allows: its registry and repository (tag and digest set aside) matched segment by
    segment at ``/``, ``*`` within a segment, ``**`` any number of them, as for ARNs
    (``111122223333.dkr.ecr.*.amazonaws.com/team-a/**``)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: len(name) - len(last[-1]) + last[-1].index(":")]
    return _segments(pattern.split("/"), name.split("/"))


def s3_within(uri: str, prefix: str) -> bool:
    """Whether ``uri`` lies under ``prefix``, at a ``/`` boundary."""
    if prefix.endswith("/"):
        return uri.startswith(prefix)
    return uri == prefix or uri.startswith(prefix + "/")


def arn_matches(pattern: str, arn: str) -> bool:
    """Segment-wise: ``*`` stays within a ``:`` field or ``/`` segment; ``**`` spans segments."""
    if not arn.startswith("arn:"):  # a name in the operator's account: non-ARN patterns only
        return not pattern.startswith("arn:") and fnmatch.fnmatchcase(arn, pattern)
    if not pattern.startswith("arn:"):
        return False
    pattern_fields, arn_fields = pattern.split(":", 5), arn.split(":", 5)
    if len(pattern_fields) != 6 or len(arn_fields) != 6:
        return False
    head = all(fnmatch.fnmatchcase(value, glob)
               for value, glob in zip(arn_fields[:5], pattern_fields[:5], strict=True))  # fmt: skip
    return head and _segments(pattern_fields[5].split("/"), arn_fields[5].split("/"))


def _segments(patterns: list[str], values: list[str]) -> bool:
    if not patterns:
        return not values
    first, rest = patterns[0], patterns[1:]
    if first == "**":
        return any(_segments(rest, values[index:]) for index in range(len(values) + 1))
    return bool(values) and _glob(values[0], first) and _segments(rest, values[1:])


def _glob(value: str, pattern: str) -> bool:
    # Within a segment, ':' is a character like any other (a KMS alias, a lambda version).
    return fnmatch.fnmatchcase(value, pattern)
