"""Backup Relay's own IAM checks on a CloudFormation/SAM template.

Rules (exit 1 on any finding, naming the resource and statement):
  1. no Action "*" or "service:*";
  2. no mutating action on Resource "*" (read-only Describe/List/Get are allowed there);
  3. a Principal "*" only with an aws:PrincipalOrgID or aws:SourceAccount condition;
  4. sts:AssumeRole only on a named role, never role/*.

Usage: python check_iam.py TEMPLATE...   |   python check_iam.py --self-test
"""

import sys

from cfnlint.decode.cfn_yaml import loads as load_yaml

READ_ONLY_PREFIXES = ("Describe", "List", "Get", "BatchGet")
SCOPING_CONDITIONS = ("aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:SourceAccount", "aws:SourceArn")


def as_list(value):
    return value if isinstance(value, list) else [value]


def text_of(value):
    """A resource as text: Fn::Sub strings are checked as written."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return None  # Ref / GetAtt: a specific resource


def statements(template):
    for name, resource in (template.get("Resources") or {}).items():
        props = resource.get("Properties") or {}
        kind = resource.get("Type", "")
        docs = []
        if kind == "AWS::Serverless::Function":
            docs += [p for p in as_list(props.get("Policies") or []) if isinstance(p, dict)]
        if kind in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            docs += [p.get("PolicyDocument", {}) for p in as_list(props.get("Policies") or [])]
            docs.append(props.get("PolicyDocument") or {})
            docs.append(props.get("AssumeRolePolicyDocument") or {})
        if kind in ("AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy", "AWS::Backup::BackupVault"):
            docs.append(props.get("PolicyDocument") or props.get("AccessPolicy") or {})
        if kind == "AWS::Events::EventBusPolicy" and "Statement" in props:
            docs.append({"Statement": props["Statement"]})
        for doc in docs:
            for i, st in enumerate(as_list(doc.get("Statement") or [])):
                yield f"{name} statement {st.get('Sid', i + 1)}", st


def findings(template):
    out = []
    for where, st in statements(template):
        if st.get("Effect") != "Allow":
            continue
        actions = [a for a in as_list(st.get("Action") or []) if isinstance(a, str)]
        resources = [text_of(r) for r in as_list(st.get("Resource") or [])]
        for action in actions:
            if action == "*" or action.endswith(":*"):
                out.append(f"{where}: wildcard action '{action}'")
            verb = action.split(":", 1)[-1]
            if "*" in resources and not verb.startswith(READ_ONLY_PREFIXES):
                out.append(f"{where}: mutating action '{action}' on Resource '*'")
            if action == "sts:AssumeRole" and any(r and r.endswith("role/*") for r in resources):
                out.append(f"{where}: sts:AssumeRole on any role (name the executor role)")
        principal = st.get("Principal")
        if principal == "*" or (isinstance(principal, dict) and "*" in as_list(principal.get("AWS", []))):
            keys = [k for cond in (st.get("Condition") or {}).values() for k in cond]
            if not any(k in SCOPING_CONDITIONS for k in keys):
                out.append(f"{where}: Principal '*' without an organisation or account condition")
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
  Bus:
    Type: AWS::Events::EventBusPolicy
    Properties:
      Statement: {Effect: Allow, Principal: "*", Action: events:PutEvents, Resource: x}
"""


def self_test():
    found = findings(load_yaml(BAD))
    expected = ["wildcard action '*'", "mutating action '*' on Resource", "mutating action 'backup:StartCopyJob'",
                "sts:AssumeRole on any role", "Principal '*' without"]
    missing = [e for e in expected if not any(e in f for f in found)]
    if missing or any("ListBackupVaults" in f for f in found):
        print("check_iam self-test FAILED: missing", missing, "found", found)
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
