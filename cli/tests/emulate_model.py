"""Every answer of `relay emulate` held to botocore's service model of AWS Backup.

Run by cli/tests/emulate.rs (`every_answer_matches_botocores_model`) with the emulator's URL:

  python cli/tests/emulate_model.py http://127.0.0.1:PORT

Calls every operation the emulator serves through boto3, with botocore's parameter validation
on, and the error cases through a client without it (values botocore would not send). Each raw
answer is walked against the operation's output shape: every member must be in the shape, of
its type (strings, enums, patterns, numbers and their ranges, booleans, epoch timestamps,
lists, maps, structures). Each error answer must carry x-amzn-ErrorType, a JSON body of the
error shape's members with a Message, and the status the model implies (400, 500 for faults).
Answers that no operation makes (a wrong method, a body or URI too long) are sent raw and must
parse, with botocore's REST-JSON parser, to a code and a message. Prints "ok" or the problems.
"""
import json
import re
import sys
import time
import urllib.error
import urllib.request

import boto3
import botocore.parsers
from botocore.config import Config

ENDPOINT = sys.argv[1]
HOME, CENTRAL = "111111111111", "222222222222"
CENTRAL_VAULT = "arn:aws:backup:us-east-1:%s:backup-vault:central" % CENTRAL
ROLE = "arn:aws:iam::%s:role/backup-relay-copy" % HOME
# Errors every AWS operation may answer besides its modelled ones (AWS's common errors).
COMMON = {"AccessDeniedException": 403, "ThrottlingException": 400,
          "InvalidSignatureException": 403, "MissingAuthenticationTokenException": 403,
          "IncompleteSignatureException": 403, "SerializationException": 400}

problems = []
answered = {}  # operation -> set of "ok" / error codes seen


def problem(text):
    problems.append(text)


def check(shape, value, path):
    """`value` (raw JSON) fits `shape` (a botocore shape)."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return problem("%s: %r is not an object (%s)" % (path, value, shape.name))
        names = {m.serialization.get("name", n): m for n, m in shape.members.items()}
        for key, v in value.items():
            if key not in names:
                problem("%s.%s is not a member of %s" % (path, key, shape.name))
            elif v is None:
                problem("%s.%s is null: leave it out" % (path, key))
            else:
                check(names[key], v, "%s.%s" % (path, key))
    elif kind == "list":
        if not isinstance(value, list):
            return problem("%s: %r is not a list" % (path, value))
        for i, item in enumerate(value):
            check(shape.member, item, "%s[%d]" % (path, i))
    elif kind == "map":
        if not isinstance(value, dict):
            return problem("%s: %r is not a map" % (path, value))
        for k, v in value.items():
            check(shape.key, k, "%s{key}" % path)
            check(shape.value, v, "%s{%s}" % (path, k))
    elif kind == "string":
        check_string(shape, value, path)
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return problem("%s: %r is not a whole number" % (path, value))
        check_range(shape, value, path)
    elif kind in ("double", "float"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problem("%s: %r is not a number" % (path, value))
    elif kind == "boolean":
        if not isinstance(value, bool):
            problem("%s: %r is not a boolean" % (path, value))
    elif kind == "timestamp":
        # REST-JSON's default timestamp format: epoch seconds.
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problem("%s: %r is not epoch seconds" % (path, value))
    else:
        problem("%s: no check for shapes of type %s" % (path, kind))


def check_string(shape, value, path):
    if not isinstance(value, str):
        return problem("%s: %r is not a string" % (path, value))
    if shape.enum and value not in shape.enum:
        problem("%s: %r is not one of %s" % (path, value, shape.enum))
    pattern = shape.metadata.get("pattern")
    if pattern and not re.search(pattern, value):
        problem("%s: %r does not match %s" % (path, value, pattern))
    check_range(shape, len(value), path)


def check_range(shape, n, path):
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is not None and n < low) or (high is not None and n > high):
        problem("%s: %r is outside %s..%s" % (path, n, low, high))


def after_call(http_response, parsed, model, **_):
    """Every answer, success or error, against the model (botocore's after-call event)."""
    status, name = http_response.status_code, model.name
    body = json.loads(http_response.content or b"{}")
    if status < 300:
        answered.setdefault(name, set()).add("ok")
        if model.output_shape is not None:
            check(model.output_shape, body, name)
        return
    code = http_response.headers.get("x-amzn-ErrorType")
    answered.setdefault(name, set()).add(code)
    errors = {e.name: e for e in model.error_shapes}
    if code in errors:
        want = 500 if errors[code].metadata.get("fault") else 400
        check(errors[code], body, "%s %s" % (name, code))
    elif code in COMMON:
        want = COMMON[code]
    else:
        return problem("%s answered %s, an error it does not model" % (name, code))
    if status != want:
        problem("%s %s: status %d, the model says %d" % (name, code, status, want))
    if not body.get("Message"):
        problem("%s %s: no Message" % (name, code))


def client(account=HOME, region="us-east-1", validate=True, **creds):
    c = boto3.client("backup", endpoint_url=ENDPOINT, region_name=region,
                     aws_access_key_id=account, aws_secret_access_key="x",
                     config=Config(parameter_validation=validate, retries={"max_attempts": 1}),
                     **creds)
    c.meta.events.register("after-call.backup", after_call)
    return c


def refused(code, call, **kwargs):
    """`call(**kwargs)` is refused with `code`."""
    try:
        call(**kwargs)
    except Exception as e:  # botocore's ClientError and its modelled subclasses
        got = getattr(e, "response", {}).get("Error", {}).get("Code")
        if got != code:
            problem("%s(%s): %s, not %s" % (call.__name__, kwargs, got or e, code))
        return
    problem("%s(%s) was not refused (%s expected)" % (call.__name__, kwargs, code))


def pages(call, key, **kwargs):
    """Every item of a listing, a page of one item at a time."""
    items, token = [], None
    while True:
        page = call(MaxResults=1, **kwargs, **({"NextToken": token} if token else {}))
        items += page[key]
        token = page.get("NextToken")
        if not token:
            return items


def vaults_and_points(b):
    vaults = pages(b.list_backup_vaults, "BackupVaultList")
    if [v["BackupVaultName"] for v in vaults] != ["primary"]:
        problem("ListBackupVaults: %s" % vaults)
    vault = b.describe_backup_vault(BackupVaultName="primary")
    points = pages(b.list_recovery_points_by_backup_vault, "RecoveryPoints",
                   BackupVaultName="primary")
    if vault.get("NumberOfRecoveryPoints") != len(points) or not points:
        problem("NumberOfRecoveryPoints %s, %d listed" % (vault.get("NumberOfRecoveryPoints"), len(points)))
    for member in ("CreationDate", "EncryptionKeyArn", "Locked", "VaultType", "VaultState"):
        if member not in vault:
            problem("DescribeBackupVault has no %s" % member)
    b.describe_recovery_point(BackupVaultName="primary", RecoveryPointArn=points[0]["RecoveryPointArn"])
    b.describe_region_settings()
    return points[0]


def copy(b, point):
    job = b.start_copy_job(RecoveryPointArn=point["RecoveryPointArn"], SourceBackupVaultName="primary",
                           DestinationBackupVaultArn=CENTRAL_VAULT, IamRoleArn=ROLE,
                           IdempotencyToken="model-1", Lifecycle={"DeleteAfterDays": 35})["CopyJobId"]
    # At once: the emulator's AWS remembers a token for two simulated hours.
    refused("InvalidRequestException", b.start_copy_job,
            RecoveryPointArn=point["RecoveryPointArn"], SourceBackupVaultName="primary",
            DestinationBackupVaultArn="arn:aws:backup:us-west-2:%s:backup-vault:dr" % CENTRAL,
            IamRoleArn=ROLE, IdempotencyToken="model-1", Lifecycle={"DeleteAfterDays": 35})
    for _ in range(60):
        described = b.describe_copy_job(CopyJobId=job)["CopyJob"]
        if described["State"] == "COMPLETED":
            break
        time.sleep(0.25)
    missing = {"AccountId", "CopyJobId", "SourceBackupVaultArn", "SourceRecoveryPointArn",
               "DestinationBackupVaultArn", "DestinationRecoveryPointArn", "ResourceArn",
               "ResourceType", "CreationDate", "CompletionDate", "State", "BackupSizeInBytes",
               "IamRoleArn"} - set(described)
    if missing or described["State"] != "COMPLETED":
        problem("DescribeCopyJob: %s missing, state %s" % (sorted(missing), described["State"]))
    pages(b.list_copy_jobs, "CopyJobs")
    b.list_copy_jobs(ByResourceArn=point["ResourceArn"], ByDestinationVaultArn=CENTRAL_VAULT,
                     ByState="COMPLETED")
    return described["DestinationRecoveryPointArn"]


def lengthen_in_member(landed):
    sts = boto3.client("sts", endpoint_url=ENDPOINT, region_name="us-east-1",
                       aws_access_key_id=HOME, aws_secret_access_key="x")
    creds = sts.assume_role(RoleArn="arn:aws:iam::%s:role/backup-relay-executor" % CENTRAL,
                            RoleSessionName="model")["Credentials"]
    member = client(account=creds["AccessKeyId"], aws_session_token=creds["SessionToken"])
    for days in (36500, -1):
        out = member.update_recovery_point_lifecycle(
            BackupVaultName="central", RecoveryPointArn=landed, Lifecycle={"DeleteAfterDays": days})
        if days == -1 and "DeleteAt" in out.get("CalculatedLifecycle", {}):
            problem("DeleteAfterDays -1 still expires: %s" % out)
    refused("InvalidParameterValueException", member.update_recovery_point_lifecycle,
            BackupVaultName="central", RecoveryPointArn=landed, Lifecycle={"DeleteAfterDays": 36501})


def tags(b, point):
    arn = point["RecoveryPointArn"]
    b.tag_resource(ResourceArn=arn, Tags={"team": "payments", "cost-center": "cc-1"})
    got = b.list_tags(ResourceArn=arn)["Tags"]
    if got.get("team") != "payments":
        problem("ListTags after TagResource: %s" % got)
    b.untag_resource(ResourceArn=arn, TagKeyList=["team", "never-there"])
    if "team" in b.list_tags(ResourceArn=arn)["Tags"]:
        problem("UntagResource left the tag")
    refused("InvalidParameterValueException", b.tag_resource, ResourceArn=arn, Tags={"aws:x": "y"})
    refused("LimitExceededException", b.tag_resource, ResourceArn=arn,
            Tags={"k%02d" % i: "v" for i in range(51)})
    refused("ResourceNotFoundException", b.list_tags,
            ResourceArn="arn:aws:backup:us-east-1:%s:recovery-point:none" % HOME)


def restore(b, point):
    job = b.start_restore_job(RecoveryPointArn=point["RecoveryPointArn"], IamRoleArn=ROLE,
                              Metadata={"targetTableName": "model-restore"})["RestoreJobId"]
    b.describe_restore_job(RestoreJobId=job)
    refused("InvalidParameterValueException", b.start_restore_job,
            RecoveryPointArn=point["RecoveryPointArn"], Metadata={"targetTableName": "a b"})


def errors(b, point):
    raw = client(validate=False)
    none = "arn:aws:backup:us-east-1:%s:recovery-point:none" % HOME
    refused("ResourceNotFoundException", b.describe_recovery_point, BackupVaultName="primary", RecoveryPointArn=none)
    refused("ResourceNotFoundException", b.describe_backup_vault, BackupVaultName="nowhere")
    refused("ResourceNotFoundException", b.describe_copy_job, CopyJobId="none")
    refused("ResourceNotFoundException", b.describe_restore_job, RestoreJobId="none")
    refused("ResourceNotFoundException", b.list_recovery_points_by_backup_vault, BackupVaultName="nowhere")
    for n in (0, 1001):
        refused("InvalidParameterValueException", raw.list_copy_jobs, MaxResults=n)
        refused("InvalidParameterValueException", raw.list_backup_vaults, MaxResults=n)
        refused("InvalidParameterValueException", raw.list_recovery_points_by_backup_vault,
                BackupVaultName="primary", MaxResults=n)
    refused("InvalidParameterValueException", b.list_recovery_points_by_backup_vault,
            BackupVaultName="primary", NextToken="made-up")
    start = dict(RecoveryPointArn=point["RecoveryPointArn"], SourceBackupVaultName="primary",
                 DestinationBackupVaultArn=CENTRAL_VAULT, IamRoleArn=ROLE)
    refused("InvalidParameterValueException", b.start_copy_job,
            **dict(start, IamRoleArn="arn:aws:iam::%s:role/backup-relay-copy" % CENTRAL))
    refused("InvalidParameterValueException", b.start_copy_job,
            **dict(start, DestinationBackupVaultArn="arn:aws:backup:us-east-1:%s:backup-vault:primary" % HOME))
    refused("MissingParameterValueException", raw.start_restore_job, RecoveryPointArn=none)
    refused("InvalidSignatureException", client(region="xx-fake-1").list_backup_vaults)


def raw_answers():
    """Answers made before any operation: each parses to a code and a message."""
    auth = {"Authorization": "AWS4-HMAC-SHA256 Credential=%s/20250101/us-east-1/backup/aws4_request, "
                             "SignedHeaders=host, Signature=0" % HOME}
    for method, path, body in [("DELETE", "/copy-jobs", None), ("GET", "/no-such-path", None),
                               ("PUT", "/copy-jobs", b"{" + b" " * (3 << 20) + b"}"),
                               ("GET", "/backup-vaults/" + "a" * 9000, None),
                               ("PUT", "/copy-jobs", b"not json")]:
        request = urllib.request.Request(ENDPOINT + path, data=body, method=method, headers=auth)
        try:
            urllib.request.urlopen(request)
            problem("%s %s was answered 2xx" % (method, path[:40]))
            continue
        except urllib.error.HTTPError as e:
            answer = {"status_code": e.code, "headers": dict(e.headers), "body": e.read()}
        parsed = botocore.parsers.RestJSONParser().parse(answer, None)["Error"]
        if not parsed.get("Code") or parsed["Code"].isdigit() or not parsed.get("Message"):
            problem("%s %s (%d): botocore reads %s" % (method, path[:40], answer["status_code"], parsed))


def phase(run, *args):
    """One phase; an exception is a problem, and the phases after it still run where they can."""
    try:
        return run(*args)
    except Exception as e:
        problem("%s: %s: %s" % (run.__name__, type(e).__name__, e))
        return None


def main():
    b = client()
    point = phase(vaults_and_points, b)
    if point:
        landed = phase(copy, b, point)
        if landed:
            phase(lengthen_in_member, landed)
        phase(tags, b, point)
        phase(restore, b, point)
        phase(errors, b, point)
    phase(raw_answers)
    served = {"StartCopyJob", "DescribeCopyJob", "ListCopyJobs", "DescribeRecoveryPoint",
              "ListRecoveryPointsByBackupVault", "UpdateRecoveryPointLifecycle",
              "DescribeBackupVault", "ListBackupVaults", "DescribeRegionSettings",
              "StartRestoreJob", "DescribeRestoreJob", "TagResource", "UntagResource", "ListTags"}
    for name in sorted(served):
        if "ok" not in answered.get(name, ()):
            problem("%s never answered successfully" % name)
    print("\n".join(problems) if problems else "ok")


main()
