"""docs/multi-tenancy.md's table of what the namespace policy checks, from the same walk of
botocore's model the policy makes (policy/locations.py): every CreateTrainingJob member that
names an AWS resource or costs money, the rule field that checks it, and what is left to
IAM. A test compares that page with a fresh rendering; ``python -m
sagemaker_lab.codegen.policy_table`` prints it.
"""

from __future__ import annotations

from sagemaker_operator.policy.locations import Kind, every_location

WHAT = {
    Kind.ROLE: "the job's IAM role",
    Kind.S3: "S3 URIs (data, output, checkpoints, rules, TensorBoard)",
    Kind.ARN: "other ARNs (KMS keys, algorithms, training plans, hub content, MLflow, …)",
    Kind.FILE_SYSTEM: "EFS and FSx file systems",
    Kind.FILE_SYSTEM_PATH: "the directory mounted from a file system",
    Kind.SUBNET: "subnets",
    Kind.SECURITY_GROUP: "security groups",
    Kind.IMAGE: "container images (training, rule evaluators)",
    Kind.EXPERIMENT: "experiments and trials (account-wide names)",
    Kind.INSTANCE_TYPE: "instance types (cost)",
    Kind.INSTANCE_COUNT: "instance counts (cost; a job's own counts add up)",
    Kind.VOLUME_SIZE: "volume sizes (cost)",
    Kind.MAX_RUNTIME: "the longest run (cost; a day when left out)",
    Kind.KEEP_ALIVE: "a warm pool's keep-alive (cost)",
    Kind.SPOT: "managed spot (cost)",
    Kind.REMOTE_DEBUG: "remote debugging (a shell in the container)",
    Kind.SESSION_TAG_CHAINING: "session tag chaining (the role's session tags)",
}
CHECK = {
    Kind.ROLE: "ARN pattern, segment by segment",
    Kind.S3: "prefix, at `/` boundaries",
    Kind.ARN: "ARN pattern; a bare name or key id by a non-ARN pattern only",
    Kind.FILE_SYSTEM_PATH: "prefix, at `/` boundaries; `..` and `.` refused",
    Kind.IMAGE: "`registry/repository` pattern, segment by segment (tag, digest aside)",
    Kind.INSTANCE_COUNT: "at most",
    Kind.VOLUME_SIZE: "at most",
    Kind.MAX_RUNTIME: "at most",
    Kind.KEEP_ALIVE: "at most",
    Kind.SPOT: "`spotOnly: true` requires it",
    Kind.REMOTE_DEBUG: "`true` allows it",
    Kind.SESSION_TAG_CHAINING: "`true` allows it",
}
LEFT_TO_IAM = {
    Kind.ROLE: "the operator's `iam:PassRole`: keep it to the roles the policy allows",
    Kind.S3: "the job role's S3 permissions: the policy reads the URI's text only",
    Kind.ARN: "the job role's (and the key policy's) permissions on each",
    Kind.FILE_SYSTEM: "the file system's own access (security groups, EFS access points)",
    Kind.FILE_SYSTEM_PATH: "POSIX permissions on the file system",
    Kind.SUBNET: "the network's routes and NACLs",
    Kind.SECURITY_GROUP: "the groups' rules",
    Kind.IMAGE: "the job role's `ecr:BatchGetImage` (and the repository policy)",
    Kind.EXPERIMENT: "the job role's `sagemaker:*Experiment*` permissions",
}
# Members no shape tells the policy anything about, said so.
NOT_CHECKED = (
    ("`spec.hyperParameters`, `spec.environment`, `spec.algorithmSpecification."
     "containerArguments`, `…containerEntrypoint`",
     "free-form strings: an S3 URI, a host or a secret inside them is not told apart from any "
     "other value", "everything: what the job role may reach is what the job can reach"),
    ("`spec.stoppingCondition.maxWaitTimeInSeconds`, `…maxPendingTimeInSeconds`",
     "spot waits and pending time cost no instance time", "—"),
    ("`spec.tags`", "the operator's own prefix only (`sagemaker-operator.dev/`): the CRD "
     "refuses it", "tag-based IAM conditions of the job role"),
)  # fmt: skip


def markdown() -> str:
    """The table, one row per kind, its members listed."""
    members: dict[Kind, list[str]] = {}
    for path, kind in every_location():
        members.setdefault(kind, []).append(f"`{path}`")
    rows = ["| what | members | rule field, and how it matches | left to IAM |",
            "|---|---|---|---|"]  # fmt: skip
    for kind in Kind:
        if kind not in members:
            continue
        check = CHECK.get(kind, "glob")
        rows.append(f"| {WHAT[kind]} | {', '.join(members[kind])} | `{kind.value}`: {check} | "
                    f"{LEFT_TO_IAM.get(kind, '—')} |")  # fmt: skip
    rows += [f"| not checked | {members_} | {why} | {iam} |"
             for members_, why, iam in NOT_CHECKED]  # fmt: skip
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
