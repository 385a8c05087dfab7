"""Backup Relay's own IAM checks on a CloudFormation/SAM template.

Rules (exit 1 on any finding, naming the resource and statement):
  1. no Action "*" or "service:*";
  2. no mutating action on Resource "*" (read-only Describe/List/Get are allowed there);
  3. a Principal "*" only with an aws:PrincipalOrgID or aws:SourceAccount condition;
  4. sts:AssumeRole only on a named role, never role/*;
  5. sts:AssumeRole into any account (iam::*:) only with an aws:ResourceOrgID (or aws:PrincipalOrgID)
     condition, so the functions reach only the organisation's roles;
  6. no read of data (ssm:GetParameter*, s3:GetObject*, secretsmanager:GetSecretValue, kms:Decrypt)
     on Resource "*": the policy is read from exactly its parameter or object;
  7. a service principal (cloudwatch.amazonaws.com, events.amazonaws.com, backup.amazonaws.com, ...)
     allowed by a resource policy (a key, topic, queue, bucket or bus policy) or a role's trust only
     with an aws:SourceAccount or aws:SourceArn condition (the confused deputy); CloudWatch Logs in a
     key policy by its documented kms:EncryptionContext:aws:logs:arn (the log groups it acts for);
  8. an S3 read (s3:GetObject*, s3:ListBucket*) only with an s3:ResourceAccount (or
     aws:ResourceAccount) condition: a bucket deleted and re-created by another account under the same
     name must not feed the reader its objects;
  9. no parameter naming roles (*RoleName, *RoleNames) accepts "*" (its AllowedPattern must refuse
     it): a wildcard in a trust admits whoever can create a role of a matching name.
In a key policy Resource "*" is the key itself, so rules 1, 2 and 6 do not apply there. Roles SAM
generates for functions are not in the template and not checked by rule 7.
Both sides of an Fn::If (statements, policies, conditions) are checked: the template may take either.

Usage: python check_iam.py TEMPLATE...   |   python check_iam.py --self-test
"""

import re
import sys

from cfnlint.decode.cfn_yaml import loads as load_yaml

READ_ONLY_PREFIXES = ("Describe", "List", "Get", "BatchGet")
SCOPING_CONDITIONS = ("aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:SourceAccount", "aws:SourceArn")
ORG_CONDITIONS = ("aws:ResourceOrgID", "aws:ResourceOrgPaths", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths")
SOURCE_CONDITIONS = ("aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID")
# CloudWatch Logs names the log group it encrypts for in the encryption context (its key-policy guide).
LOGS_CONTEXT = "kms:EncryptionContext:aws:logs:arn"
S3_READS = ("s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:ListBucketVersions")
RESOURCE_ACCOUNT = ("s3:ResourceAccount", "aws:ResourceAccount")
# Values a role-name parameter must refuse: a bare wildcard and names made of one.
WILDCARD_NAMES = ("*", "backup-relay-*", "a*b")
DATA_READS = ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "s3:GetObject",
              "s3:GetObjectVersion", "secretsmanager:GetSecretValue", "kms:Decrypt")
NO_VALUE = {"Ref": "AWS::NoValue"}


def as_list(value):
    return value if isinstance(value, list) else [value]


def branches(value, no_value=()):
    """Every value an Fn::If may take; AWS::NoValue becomes `no_value` (a list: dropped by default)."""
    if isinstance(value, dict) and "Fn::If" in value and len(value["Fn::If"]) == 3:
        _, yes, no = value["Fn::If"]
        return branches(yes, no_value) + branches(no, no_value)
    if value == NO_VALUE:
        return list(no_value)
    return [value]


def each(value):
    """A list (or one item), each item's Fn::If branches flattened."""
    return [b for item in as_list(value) for b in branches(item)]


def condition_keys(condition):
    """Condition keys (lower case: IAM compares them case-insensitively) of one condition block."""
    if not isinstance(condition, dict):
        return set()
    return {k.lower() for block in condition.values() if isinstance(block, dict) for k in block}


def text_of(value):
    """A resource as text: Fn::Sub strings are checked as written."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return None  # Ref / GetAtt: a specific resource


def statements(template):
    """(where, statement, kind): kind is "identity", "trust", "resource" or "key" (a key policy)."""
    for name, resource in (template.get("Resources") or {}).items():
        props = resource.get("Properties") or {}
        kind = resource.get("Type", "")
        docs = []
        if kind == "AWS::Serverless::Function":
            docs += [(p, "identity") for p in each(props.get("Policies") or []) if isinstance(p, dict)]
        if kind in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            docs += [(p.get("PolicyDocument", {}), "identity")
                     for p in each(props.get("Policies") or []) if isinstance(p, dict)]
            docs.append((props.get("PolicyDocument") or {}, "identity"))
            docs.append((props.get("AssumeRolePolicyDocument") or {}, "trust"))
        if kind in ("AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy", "AWS::S3::BucketPolicy",
                    "AWS::Backup::BackupVault"):
            docs.append((props.get("PolicyDocument") or props.get("AccessPolicy") or {}, "resource"))
        if kind == "AWS::KMS::Key":
            docs.append((props.get("KeyPolicy") or {}, "key"))
        if kind == "AWS::Events::EventBusPolicy" and "Statement" in props:
            docs.append(({"Statement": props["Statement"]}, "resource"))
        for doc, doc_kind in docs:
            if not isinstance(doc, dict):
                continue
            for i, st in enumerate(each(doc.get("Statement") or [])):
                if not isinstance(st, dict):
                    continue
                # One statement per branch of an Fn::If condition (NoValue: no condition at all).
                for condition in branches(st.get("Condition"), no_value=[None]):
                    yield f"{name} statement {st.get('Sid', i + 1)}", {**st, "Condition": condition}, doc_kind


def findings(template):
    out = []
    for where, st, doc_kind in statements(template):
        if st.get("Effect") != "Allow":
            continue
        actions = [a for a in as_list(st.get("Action") or []) if isinstance(a, str)]
        resources = [text_of(r) for r in as_list(st.get("Resource") or [])]
        on_everything = "*" in resources and doc_kind != "key"
        for action in actions:
            if (action == "*" or action.endswith(":*")) and doc_kind != "key":
                out.append(f"{where}: wildcard action '{action}'")
            verb = action.split(":", 1)[-1]
            if on_everything and not verb.startswith(READ_ONLY_PREFIXES):
                out.append(f"{where}: mutating action '{action}' on Resource '*'")
            if on_everything and action.lower() in {a.lower() for a in DATA_READS}:
                out.append(f"{where}: data read '{action}' on Resource '*' (name the parameter or object)")
            if action == "sts:AssumeRole" and any(r and r.endswith("role/*") for r in resources):
                out.append(f"{where}: sts:AssumeRole on any role (name the executor role)")
            if (action == "sts:AssumeRole" and any(r and "iam::*:" in r for r in resources)
                    and not condition_keys(st.get("Condition")) & {k.lower() for k in ORG_CONDITIONS}):
                out.append(f"{where}: sts:AssumeRole into any account without an aws:ResourceOrgID condition")
        principal = st.get("Principal")
        if principal == "*" or (isinstance(principal, dict) and "*" in as_list(principal.get("AWS", []))):
            if not condition_keys(st.get("Condition")) & {k.lower() for k in SCOPING_CONDITIONS}:
                out.append(f"{where}: Principal '*' without an organisation or account condition")
        services = as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
        if services and doc_kind in ("resource", "key", "trust"):
            keys = condition_keys(st.get("Condition"))
            logs = doc_kind == "key" and all("logs." in (text_of(x) or "") for x in services) and \
                LOGS_CONTEXT.lower() in keys
            if not keys & {k.lower() for k in SOURCE_CONDITIONS} and not logs:
                out.append(f"{where}: service principal {services} without an aws:SourceAccount or "
                           "aws:SourceArn condition")
        reads = [a for a in actions if a.lower() in {r.lower() for r in S3_READS}]
        if reads and doc_kind == "identity" and \
                not condition_keys(st.get("Condition")) & {k.lower() for k in RESOURCE_ACCOUNT}:
            out.append(f"{where}: S3 read {reads} without an s3:ResourceAccount condition")
    out += parameter_findings(template)
    return out


def parameter_findings(template):
    out = []
    for name, spec in (template.get("Parameters") or {}).items():
        if not re.search(r"RoleNames?$", name) or not isinstance(spec, dict):
            continue
        pattern = spec.get("AllowedPattern")
        accepted = [v for v in WILDCARD_NAMES if pattern is None or re.fullmatch(pattern, v)]
        if accepted:
            out.append(f"parameter {name}: AllowedPattern {pattern!r} accepts {accepted} (a wildcard role name)")
    return out


BAD = """
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - {Effect: Allow, Action: "*", Resource: "*"}
            - {Effect: Allow, Action: "backup:StartCopyJob", Resource: "*"}
            - {Effect: Allow, Action: "backup:ListBackupVaults", Resource: "*"}
            - {Effect: Allow, Action: "sts:AssumeRole", Resource: !Sub "arn:${AWS::Partition}:iam::*:role/*"}
            - !If
              - HasOrg
              - {Effect: Allow, Action: "sts:AssumeRole", Resource: !Sub "arn:${AWS::Partition}:iam::*:role/x"}
              - !Ref AWS::NoValue
            - {Effect: Allow, Action: "ssm:GetParameter", Resource: "*"}
            - {Effect: Allow, Action: ["s3:GetObject"], Resource: "*"}
            - {Sid: PolicyObject, Effect: Allow, Action: s3:GetObjectVersion, Resource: "arn:aws:s3:::b/policy.yaml"}
  CopyRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - {Effect: Allow, Principal: {Service: backup.amazonaws.com}, Action: sts:AssumeRole}
  LogsKey:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Statement:
          - {Sid: Logs, Effect: Allow, Principal: {Service: logs.us-east-1.amazonaws.com}, Action: "kms:Encrypt*", Resource: "*"}
  Bus:
    Type: AWS::Events::EventBusPolicy
    Properties:
      Statement: {Effect: Allow, Principal: "*", Action: events:PutEvents, Resource: x}
  TopicPolicy:
    Type: AWS::SNS::TopicPolicy
    Properties:
      PolicyDocument:
        Statement:
          - {Effect: Allow, Principal: {Service: cloudwatch.amazonaws.com}, Action: sns:Publish, Resource: t}
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Statement:
          - Effect: Allow
            Principal: {Service: cloudwatch.amazonaws.com}
            Action: ["kms:Decrypt", "kms:GenerateDataKey*"]
            Resource: "*"
            Condition: !If [HasX, {StringEquals: {aws:SourceAccount: "1"}}, !Ref AWS::NoValue]
Parameters:
  OperatorRoleNames: {Type: CommaDelimitedList, AllowedPattern: '^[\\w+=.@/*-]*$'}
  ReaderRoleName: {Type: String}
"""

# Each statement is fine on both sides of its Fn::If; nothing may be found.
GOOD = """
Parameters:
  OperatorRoleNames: {Type: CommaDelimitedList, AllowedPattern: '^[\\w+=.@/-]*$'}
  StackSetExecutionRoleName: {Type: String, AllowedPattern: '^(stacksets-exec-\\*|[\\w+=,.@/-]{1,128})$'}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - !If
              - HasOrg
              - Effect: Allow
                Action: sts:AssumeRole
                Resource: !Sub "arn:${AWS::Partition}:iam::*:role/x"
                Condition: {StringEquals: {aws:ResourceOrgID: !Ref OrganizationId}}
              - !Ref AWS::NoValue
            - {Effect: Allow, Action: "sts:AssumeRole", Resource: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/x"}
            - Effect: Allow
              Action: [s3:GetObject, s3:GetObjectVersion]
              Resource: !Sub "arn:${AWS::Partition}:s3:::b/policy.yaml"
              Condition: {StringEquals: {s3:ResourceAccount: !Ref AWS::AccountId}}
  Vault:
    Type: AWS::Backup::BackupVault
    Properties:
      AccessPolicy:
        Statement:
          - Effect: Allow
            Principal: {AWS: "*"}
            Action: backup:CopyIntoBackupVault
            Resource: !Sub "arn:${AWS::Partition}:backup:${AWS::Region}:${AWS::AccountId}:backup-vault:v"
            Condition: !If [HasOrg, {StringEquals: {aws:PrincipalOrgID: o-x}}, {StringEquals: {aws:SourceAccount: "1"}}]
          - {Effect: Deny, Principal: {AWS: "*"}, Action: backup:DeleteRecoveryPoint, Resource: "*"}
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Statement:
          - {Effect: Allow, Principal: {AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"},
             Action: "kms:*", Resource: "*"}
          - Effect: Allow
            Principal: {Service: cloudwatch.amazonaws.com}
            Action: ["kms:Decrypt", "kms:GenerateDataKey*"]
            Resource: "*"
            Condition: {ArnLike: {aws:SourceArn: !Sub "arn:${AWS::Partition}:cloudwatch:*:${AWS::AccountId}:alarm:*"}}
          - Effect: Allow
            Principal: {Service: !Sub "logs.${AWS::Region}.amazonaws.com"}
            Action: ["kms:Encrypt*", "kms:Decrypt*"]
            Resource: "*"
            Condition: {ArnLike: {"kms:EncryptionContext:aws:logs:arn": !Sub "arn:${AWS::Partition}:logs:*:${AWS::AccountId}:log-group:/x/*"}}
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: backup.amazonaws.com}
            Action: sts:AssumeRole
            Condition: {StringEqualsIfExists: {aws:SourceAccount: !Ref AWS::AccountId}}
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - {Effect: Allow, Action: ssm:GetParameter, Resource: !Sub "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/p"}
"""


def self_test():
    found = findings(load_yaml(BAD))
    expected = ["wildcard action '*'", "mutating action '*' on Resource", "mutating action 'backup:StartCopyJob'",
                "sts:AssumeRole on any role", "Principal '*' without", "statement 5: sts:AssumeRole into any account",
                "data read 'ssm:GetParameter'", "data read 's3:GetObject'",
                "TopicPolicy statement 1: service principal", "Key statement 1: service principal",
                "CopyRole statement 1: service principal", "LogsKey statement Logs: service principal",
                "statement PolicyObject: S3 read ['s3:GetObjectVersion'] without an s3:ResourceAccount",
                "parameter OperatorRoleNames", "parameter ReaderRoleName"]
    missing = [e for e in expected if not any(e in f for f in found)]
    if missing or any("ListBackupVaults" in f for f in found):
        print("check_iam self-test FAILED: missing", missing, "found", found)
        return 1
    clean = findings(load_yaml(GOOD))
    if clean:
        print("check_iam self-test FAILED: findings on the good template", clean)
        return 1
    print(f"check_iam self-test: {len(found)} findings on the bad template, as expected")
    return 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    status = 0
    for path in argv:
        with open(path, encoding="utf-8") as f:
            problems = findings(load_yaml(f.read()))
        for p in problems:
            print(f"{path}: {p}")
        print(f"{path}: {len(problems)} IAM finding(s)")
        status |= 1 if problems else 0
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
