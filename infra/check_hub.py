"""Checks on the hub template (infra/template.yaml) that cfn-lint and check_iam.py cannot make.

  1. every SQS queue (on-failure destinations, the dead-letter queue) has an alarm on
     ApproximateNumberOfMessagesVisible >= 1 (Maximum, 300 s, 1 period, missing data not breaching)
     into the alert topic, and the topic can take it: not under the AWS managed alias/aws/sns key (its
     policy cannot let CloudWatch in); a customer managed key and any topic policy let
     cloudwatch.amazonaws.com in;
  2. the copy router's rules match exactly Backup Job COMPLETED, FAILED, ABORTED and EXPIRED and
     Copy Job COMPLETED, FAILED and PARTIAL; the retention guard's exactly Copy Job COMPLETED and Recovery Point COMPLETED and AVAILABLE;
  3. the policy source: for every combination of PolicyParameterName, PolicyS3Uri and PolicyDocument
     the Rules accept exactly those with one set, and then exactly its variable is set
     (RELAY_POLICY_PARAMETER, RELAY_POLICY_S3, RELAY_POLICY); COPY_ROLE_NAME is the CopyRoleName;
  4. every function may read exactly that parameter or that object (its ARN computed here for a
     hierarchical and a plain parameter name and for an S3 URI) and nothing when it is unset;
  5. the spoke StackSet is service managed, auto-deploying (stacks removed with the account), managed
     execution, CallAs a parameter, only with an organisation, every parameter it passes exists in
     the spoke and every spoke parameter without a default is passed, the hub's five function roles
     are the trusted names, and the first of SpokeRegions creates the roles and is deployed first;
  6. `cargo lambda deploy` finds each function: named FunctionNamePrefix + its crate, and the crate's
     [package.metadata.lambda.deploy] has the template's memory and timeout, merge_env (the stack's
     environment stays) and no role, tracing or layers (the stack's stay);
  7. split roles: the compliance report's EXECUTOR_ROLE_NAME is ReaderRoleName, its FINDINGS_ROLE_NAME
     FindingsRoleName, and it may assume only those two roles in member accounts; every other function assumes only ExecutorRoleName; the StackSet
     trusts the writing functions' roles with the writer and the report's with the reader, and passes
     the reader's name, the break-glass principal, the route accounts and the locks (the bunker
     accounts' overridden in a group of their own, left out of the other); no retired
     SpokeBreakGlassRoleName reaches the spokes;
  8. the hub bus admits only the organisation's forwarding roles (backup-relay-forward-*) and only
     aws.backup events (events:source);
  9. TLS only on the alert topic, the report bucket and the policy bucket (a Deny on
     aws:SecureTransport false);
 10. the router and the guard have reserved concurrency from their parameters; every function logs
     to a log group of this stack with a retention and a KMS key (no implicit log group);
 11. the report bucket is under S3 Object Lock in compliance mode for ReportLockDays; the report
     function may not delete, hide or re-lock a report version (none of those granted, all denied
     to it by the bucket policy);
 12. CreatePolicyBucket makes a versioned bucket whose policy denies writing the policy or changing
     the bucket to all but PolicyWriterArn, and the functions read exactly its policy object;
 13. the report in pieces: the state machine runs start, the inventory map, the evaluation map and
     the merge in that order, each a call of the compliance-report function; both maps read the
     pieces from the work bucket, run InventoryConcurrency at once (the function's reserved
     concurrency too) and tolerate every failure (a failed piece is a gap, never a held run); the
     function's parts go to that work bucket, which is not the locked report bucket and expires
     runs/;
 14. the dashboard's body is JSON once substituted, and graphs compliance per control and per
     account, the chains, the alerts and every queue of the template.
Then each check is shown to bite: a template broken in its way must fail it.

Usage: python check_hub.py [TEMPLATE [SPOKE]]   (default: template.yaml and spoke.yaml next to this file;
the function crates are read from ../functions/CRATE/Cargo.toml beside the template)
"""

import copy
import itertools
import json
import os
import re
import sys
import tomllib

from cfnlint.decode.cfn_yaml import loads as load_yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_iam import as_list  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NO_VALUE = object()
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
          "AWS::StackName": "hub"}
ROUTER = {("Backup Job State Change", "state", frozenset({"COMPLETED", "FAILED", "ABORTED", "EXPIRED"})),
          ("Copy Job State Change", "state", frozenset({"COMPLETED", "FAILED", "PARTIAL"}))}
GUARD = {("Copy Job State Change", "state", frozenset({"COMPLETED"})),
         ("Recovery Point State Change", "status", frozenset({"COMPLETED", "AVAILABLE"}))}
ALARM = {"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible", "Statistic": "Maximum",
         "Period": 300, "EvaluationPeriods": 1, "Threshold": 1,
         "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching"}
SOURCES = {"PolicyParameterName": ("RELAY_POLICY_PARAMETER", "/backup-relay/policy"),
           "PolicyS3Uri": ("RELAY_POLICY_S3", "s3://relay-policies/hub/policy.yaml"),
           "PolicyDocument": ("RELAY_POLICY", "version: 1"),
           "CreatePolicyBucket": ("RELAY_POLICY_S3", "true")}
WRITER = "arn:aws:iam::123456789012:role/deploy-pipeline"
WRITING = ("copy-router", "retention-guard", "reconciler", "restore-drill")
REPORT_MAY_NOT = {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention", "s3:PutObjectLegalHold",
                  "s3:BypassGovernanceRetention", "s3:PutBucketPolicy", "s3:PutLifecycleConfiguration",
                  "s3:PutBucketObjectLockConfiguration", "s3:PutBucketVersioning"}
POLICY_WRITES = {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutBucketPolicy",
                 "s3:DeleteBucketPolicy", "s3:PutBucketVersioning", "s3:PutLifecycleConfiguration"}
LOCKS = ("LockMinRetentionDays", "LockMaxRetentionDays", "LockChangeableForDays")
SSM_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/"


class Evaluator:
    """CloudFormation's intrinsic and rule functions, over given parameter values."""

    def __init__(self, template, values):
        self.template = template
        self.params = {}
        for name, spec in (template.get("Parameters") or {}).items():
            value = values.get(name, spec.get("Default", ""))
            if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
                value = value.split(",")
            self.params[name] = value

    def condition(self, name):
        return self.value(self.template["Conditions"][name])

    def value(self, node):
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if not node:
            return node
        (fn, arg), *_ = node.items()
        if len(node) != 1 or not (fn in ("Ref", "Condition") or fn.startswith("Fn::")):
            # A map (a policy's Condition block, say), not a function: evaluate its values.
            return {k: v for k, v in ((k, self.value(n)) for k, n in node.items()) if v is not NO_VALUE}
        if fn == "Ref":
            if arg == "AWS::NoValue":
                return NO_VALUE
            if arg in PSEUDO:
                return PSEUDO[arg]
            return self.params.get(arg, f"<{arg}>")
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::If":
            return self.value(arg[1] if self.condition(arg[0]) else arg[2])
        if fn == "Fn::Equals":
            a, b = self.value(arg)
            return a == b
        if fn == "Fn::Not":
            return not self.value(arg[0])
        if fn == "Fn::And":
            return all(self.value(a) for a in arg)
        if fn == "Fn::Or":
            return any(self.value(a) for a in arg)
        if fn == "Fn::Contains":
            haystack, needle = self.value(arg)
            return needle in haystack
        if fn == "Fn::Join":
            return arg[0].join(str(v) for v in self.value(arg[1]))
        if fn == "Fn::Split":
            return self.value(arg[1]).split(arg[0])
        if fn == "Fn::Select":
            return self.value(arg[1])[int(arg[0])]
        if fn == "Fn::Sub":
            text, names = (arg, {}) if isinstance(arg, str) else (arg[0], {k: self.value(v) for k, v in arg[1].items()})
            for key in sorted(set(self.params) | set(PSEUDO) | set(names), key=len, reverse=True):
                value = names.get(key, PSEUDO.get(key, self.params.get(key)))
                text = text.replace("${" + key + "}", str(value))
            return text
        return node  # GetAtt and the like: a resource of this stack

    def rules_pass(self):
        for rule in (self.template.get("Rules") or {}).values():
            if "RuleCondition" in rule and not self.value(rule["RuleCondition"]):
                continue
            if not all(self.value(a["Assert"]) for a in rule["Assertions"]):
                return False
        return True


def functions(template):
    for name, res in (template.get("Resources") or {}).items():
        if res.get("Type") == "AWS::Serverless::Function":
            yield name, res, (res.get("Metadata") or {}).get("BuildProperties", {}).get("Binary")


def combos(pattern):
    """(detail-type, detail field, values) of an event pattern, through $or."""
    out = set()
    for branch in pattern.get("$or") or [pattern]:
        detail = branch.get("detail") or {}
        for dt in branch.get("detail-type") or [None]:
            for field, values in detail.items():
                out.add((dt, field, frozenset(values)))
            if not detail:
                out.add((dt, None, frozenset()))
    return out


def check_rules(template, out):
    for name, res, binary in functions(template):
        expected = {"copy-router": ROUTER, "retention-guard": GUARD}.get(binary)
        if expected is None:
            continue
        rules = [e for e in (res["Properties"].get("Events") or {}).values() if e.get("Type") == "EventBridgeRule"]
        if not rules:
            out.append(f"{name}: no EventBridge rule")
        for rule in rules:
            pattern = rule["Properties"]["Pattern"]
            if pattern.get("source") != ["aws.backup"] or combos(pattern) != expected:
                out.append(f"{name}: rule matches {sorted(map(str, combos(pattern)))}, not exactly what it acts on")


def check_alarms(template, out):
    resources = template["Resources"]
    alarms = {}
    for name, res in resources.items():
        if res.get("Type") == "AWS::CloudWatch::Alarm":
            props = res["Properties"]
            for dim in props.get("Dimensions") or []:
                if dim.get("Name") == "QueueName" and "Fn::GetAtt" in (dim.get("Value") or {}):
                    alarms.setdefault(dim["Value"]["Fn::GetAtt"][0], []).append((name, props))
    for queue, res in resources.items():
        if res.get("Type") != "AWS::SQS::Queue":
            continue
        redrive = (res.get("Properties") or {}).get("RedrivePolicy")
        if redrive:
            # A work queue (the reconciler's pieces): its failures land in its dead-letter queue,
            # which is alarmed like every failure queue; it is read with partial batch responses.
            target = (redrive.get("deadLetterTargetArn") or {}).get("Fn::GetAtt", [None])[0]
            if resources.get(target, {}).get("Type") != "AWS::SQS::Queue":
                out.append(f"{queue}: its RedrivePolicy names no queue of the template")
            if not int(redrive.get("maxReceiveCount") or 0) >= 1:
                out.append(f"{queue}: no maxReceiveCount")
            readers = [
                e["Properties"] for _, f, _ in functions(template)
                for e in (f["Properties"].get("Events") or {}).values()
                if e.get("Type") == "SQS" and e["Properties"].get("Queue") == {"Fn::GetAtt": [queue, "Arn"]}
            ]
            if not readers or any("ReportBatchItemFailures" not in (r.get("FunctionResponseTypes") or [])
                                  or "MaximumConcurrency" not in (r.get("ScalingConfig") or {}) for r in readers):
                out.append(f"{queue}: not read with partial batch responses and a MaximumConcurrency")
            continue
        found = alarms.get(queue, [])
        if len(found) != 1:
            out.append(f"{queue}: {len(found)} alarms on its messages, not 1")
        for name, props in found:
            wrong = {k: props.get(k) for k, v in ALARM.items() if props.get(k) != v}
            if wrong:
                out.append(f"{name}: {wrong}, not {ALARM}")
            if props.get("AlarmActions") != [{"Ref": "AlertTopic"}]:
                out.append(f"{name}: AlarmActions is not the alert topic")
    topic = resources["AlertTopic"]["Properties"]
    key = topic.get("KmsMasterKeyId")
    if isinstance(key, str):
        out.append(f"AlertTopic: under {key}, which CloudWatch alarms cannot publish through")
    elif isinstance(key, dict) and "Ref" in key:
        statements = resources[key["Ref"]]["Properties"]["KeyPolicy"]["Statement"]
        if not any(st.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} and st.get("Effect") == "Allow"
                   and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(as_list(st.get("Action")))
                   for st in statements):
            out.append(f"{key['Ref']}: CloudWatch may not use the alert topic's key")
    for name, res in resources.items():
        if res.get("Type") == "AWS::SNS::TopicPolicy" and {"Ref": "AlertTopic"} in res["Properties"]["Topics"]:
            if not any(st.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} and st.get("Effect") == "Allow"
                       and "sns:Publish" in as_list(st.get("Action"))
                       for st in res["Properties"]["PolicyDocument"]["Statement"]):
                out.append(f"{name}: CloudWatch may not publish to the alert topic")


def grants(evaluator, res, action):
    """The resources a function's policies grant `action` on, with these parameter values."""
    found = []
    for doc in evaluator.value(res["Properties"].get("Policies") or []):
        for st in as_list(doc.get("Statement") or []) if isinstance(doc, dict) else []:
            if st.get("Effect") == "Allow" and action in as_list(st.get("Action")):
                found += as_list(st.get("Resource"))
    return found


def check_policy_source(template, out):
    env = (((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables") or {}
    if env.get("COPY_ROLE_NAME") != {"Ref": "CopyRoleName"}:
        out.append("Globals: COPY_ROLE_NAME is not !Ref CopyRoleName")
    for chosen in itertools.product([False, True], repeat=len(SOURCES)):
        values = {p: (v if on else "") for (p, (_, v)), on in zip(SOURCES.items(), chosen)}
        ev = Evaluator(template, {**values, "PolicyWriterArn": WRITER})
        if ev.rules_pass() != (sum(chosen) == 1):
            out.append(f"Rules: {'accept' if ev.rules_pass() else 'refuse'} {sorted(k for k, v in values.items() if v)}")
            continue
        if sum(chosen) != 1:
            continue
        set_vars = {k for k, v in ev.value(env).items() if k.startswith("RELAY_POLICY")}
        wanted = {SOURCES[p][0] for p, v in values.items() if v}
        if set_vars != wanted:
            out.append(f"Globals: with {sorted(wanted)} the functions get {sorted(set_vars)}")
    if Evaluator(template, {"CreatePolicyBucket": "true"}).rules_pass():
        out.append("Rules: accept CreatePolicyBucket without PolicyWriterArn")
    # What each function may read besides its other grants (the report bucket's reports/*, say).
    obj = "arn:aws:s3:::relay-policies/hub/policy.yaml"
    cases = [({"PolicyParameterName": "/backup-relay/policy"}, "ssm:GetParameter", [SSM_ARN + "backup-relay/policy"]),
             ({"PolicyParameterName": "relay-policy"}, "ssm:GetParameter", [SSM_ARN + "relay-policy"]),
             ({"PolicyS3Uri": "s3://relay-policies/hub/policy.yaml"}, "s3:GetObject", [obj]),
             ({"PolicyS3Uri": "s3://relay-policies/hub/policy.yaml"}, "s3:GetObjectVersion", [obj]),
             # Going back to the last valid version lists the bucket's object versions.
             ({"PolicyS3Uri": "s3://relay-policies/hub/policy.yaml"}, "s3:ListBucketVersions", ["arn:aws:s3:::relay-policies"]),
             # The stack's own bucket: its policy object, and its versions.
             ({"CreatePolicyBucket": "true", "PolicyWriterArn": WRITER}, "s3:GetObject",
              ["${PolicyBucket.Arn}/backup-relay/policy.yaml"]),
             ({"CreatePolicyBucket": "true", "PolicyWriterArn": WRITER}, "s3:ListBucketVersions",
              [{"Fn::GetAtt": ["PolicyBucket", "Arn"]}])]
    inline = {"PolicyDocument": "version: 1"}
    for name, res, _ in functions(template):
        for values, action, expected in cases:
            baseline = grants(Evaluator(template, inline), res, action)
            got = grants(Evaluator(template, values), res, action)
            extra = [r for r in got if r not in baseline]
            if extra != expected:
                out.append(f"{name}: with {values} it may {action} on {extra}, not {expected}")
            policy_reads = [r for r in baseline if not (isinstance(r, str) and "${" in r)]
            if policy_reads:
                out.append(f"{name}: with the policy inline it may still {action} on {policy_reads}")


def check_stackset(template, spoke, out):
    stacksets = [(n, r) for n, r in template["Resources"].items() if r.get("Type") == "AWS::CloudFormation::StackSet"]
    if len(stacksets) != 1:
        out.append(f"{len(stacksets)} StackSets, not 1")
        return
    name, res = stacksets[0]
    props = res["Properties"]
    if "HasOrganization" not in json.dumps(template["Conditions"].get(res.get("Condition"), "")):
        out.append(f"{name}: not conditional on HasOrganization")
    expected = {"PermissionModel": "SERVICE_MANAGED", "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": False},
                "ManagedExecution": {"Active": True}, "CallAs": {"Ref": "SpokeCallAs"},
                "TemplateURL": {"Ref": "SpokeTemplateUrl"}, "Capabilities": ["CAPABILITY_NAMED_IAM"]}
    for key, value in expected.items():
        if props.get(key) != value:
            out.append(f"{name}: {key} is {props.get(key)}, not {value}")
    prefs = props.get("OperationPreferences") or {}
    if prefs.get("RegionOrder") != {"Ref": "SpokeRegions"} or prefs.get("RegionConcurrencyType") != "SEQUENTIAL":
        out.append(f"{name}: Regions not deployed one at a time in SpokeRegions' order")
    passed = {p["ParameterKey"]: p["ParameterValue"] for p in props.get("Parameters") or []}
    spoke_params = spoke.get("Parameters") or {}
    unknown = sorted(set(passed) - set(spoke_params))
    missing = sorted(k for k, v in spoke_params.items() if "Default" not in v and k not in passed)
    if unknown or missing:
        out.append(f"{name}: passes {unknown} the spoke does not have, misses {missing}")
    writers = sorted(f"{n}Role" for n, _, b in functions(template) if b in WRITING)
    readers = sorted(f"{n}Role" for n, _, b in functions(template) if b == "compliance-report")
    given = (passed.get("HubFunctionRoleNames") or {}).get("Fn::Join", [None, []])[1]
    if sorted(r.get("Ref", "") for r in given if isinstance(r, dict)) != writers:
        out.append(f"{name}: HubFunctionRoleNames (the writer's trust) is not the writing functions' roles {writers}")
    reader = passed.get("HubReaderFunctionRoleNames")
    if [reader.get("Ref") if isinstance(reader, dict) else reader] != readers:
        out.append(f"{name}: HubReaderFunctionRoleNames (the reader's trust) is {reader}, not {readers}")
    if passed.get("GlobalResourcesRegion") != {"Fn::Select": [0, {"Ref": "SpokeRegions"}]}:
        out.append(f"{name}: GlobalResourcesRegion is not the first of SpokeRegions")
    expected = {"OrganizationId": {"Ref": "OrganizationId"}, "HubAccountId": {"Ref": "AWS::AccountId"},
                "ExecutorRoleName": {"Ref": "ExecutorRoleName"}, "ReaderRoleName": {"Ref": "ReaderRoleName"},
                "FindingsRoleName": {"Ref": "FindingsRoleName"},
                "CopyRoleName": {"Ref": "CopyRoleName"}, "HubEventBusArn": {"Fn::GetAtt": ["RelayBus", "Arn"]},
                "BreakGlassPrincipalArn": {"Ref": "SpokeBreakGlassPrincipalArn"},
                "StackSetExecutionRoleName": {"Ref": "SpokeStackSetExecutionRoleName"},
                "RouteAccountIds": {"Fn::Join": [",", {"Ref": "SpokeRouteAccountIds"}]},
                **{p: {"Ref": f"Spoke{p}"} for p in LOCKS}}
    for key, value in expected.items():
        if passed.get(key) != value:
            out.append(f"{name}: {key} is {passed.get(key)}, not {value}")
    if "BreakGlassRoleName" in passed:
        out.append(f"{name}: passes the retired BreakGlassRoleName (a break-glass role inside each member account)")
    if Evaluator(template, {"SpokeBreakGlassRoleName": "break-glass"}).rules_pass():
        out.append("Rules: accept SpokeBreakGlassRoleName (retired)")
    check_bunker_groups(template, name, props, out)


def check_bunker_groups(template, name, props, out):
    """Every account gets one lock: the bunker accounts' in a group of their own, left out of the other."""
    bunker = ["222222222222"]
    plain = Evaluator(template, {}).value(props.get("StackInstancesGroup"))
    groups = Evaluator(template, {"SpokeBunkerAccountIds": ",".join(bunker)}).value(props.get("StackInstancesGroup"))
    if len(plain) != 1 or "ParameterOverrides" in plain[0]:
        out.append(f"{name}: without bunker accounts not one group of the StackSet's own parameters: {plain}")
    filters = sorted(((g["DeploymentTargets"].get("AccountFilterType") or "NONE"), g["DeploymentTargets"].get("Accounts"))
                     for g in groups)
    if filters != [("DIFFERENCE", bunker), ("INTERSECTION", bunker)]:
        out.append(f"{name}: the bunker accounts are not split off (DIFFERENCE and INTERSECTION): {filters}")
    for group in groups:
        overrides = {o["ParameterKey"]: o["ParameterValue"] for o in group.get("ParameterOverrides") or []}
        defaults = Evaluator(template, {}).params
        wanted = {p: defaults[f"SpokeBunker{p}"] for p in LOCKS} if \
            group["DeploymentTargets"].get("AccountFilterType") == "INTERSECTION" else {}
        if overrides != wanted:
            out.append(f"{name}: group {group['DeploymentTargets'].get('AccountFilterType')} overrides {overrides}")


def statements_of(doc):
    return [st for st in as_list((doc or {}).get("Statement") or []) if isinstance(st, dict)]


def function_statements(evaluator, res):
    return [st for doc in evaluator.value(res["Properties"].get("Policies") or []) if isinstance(doc, dict)
            for st in statements_of(doc)]


def check_split_roles(template, out):
    """The report reads member accounts through the reader; the others write through the writer."""
    ev = Evaluator(template, {"OrganizationId": "o-abcdefghij", "PolicyDocument": "version: 1"})
    env = ((template.get("Globals") or {}).get("Function") or {}).get("Environment", {}).get("Variables", {})
    for name, res, binary in functions(template):
        own = (res["Properties"].get("Environment") or {}).get("Variables") or {}
        role_name = own.get("EXECUTOR_ROLE_NAME", env.get("EXECUTOR_ROLE_NAME"))
        wanted = "ReaderRoleName" if binary == "compliance-report" else "ExecutorRoleName"
        if role_name != {"Ref": wanted}:
            out.append(f"{name}: EXECUTOR_ROLE_NAME is {role_name}, not !Ref {wanted}")
        assumed = [r for st in function_statements(ev, res) if st.get("Effect") == "Allow"
                   and "sts:AssumeRole" in as_list(st.get("Action")) for r in as_list(st.get("Resource"))]
        if binary == "compliance-report":
            allowed = [f"arn:aws:iam::*:role/{ev.params[p]}" for p in ("ReaderRoleName", "FindingsRoleName")]
            if own.get("FINDINGS_ROLE_NAME") != {"Ref": "FindingsRoleName"}:
                out.append(f"{name}: FINDINGS_ROLE_NAME is not !Ref FindingsRoleName")
        else:
            allowed = [f"arn:aws:iam::*:role/{ev.params['ExecutorRoleName']}"]
        if assumed != allowed:
            out.append(f"{name}: may assume {assumed}, not only {allowed}")


def check_bus(template, out):
    resources = template["Resources"]
    policies = [r["Properties"] for r in resources.values() if r.get("Type") == "AWS::Events::EventBusPolicy"]
    if len(policies) != 1:
        out.append(f"{len(policies)} event bus policies, not 1")
        return
    st = Evaluator(template, {"OrganizationId": "o-abcdefghij"}).value(policies[0].get("Statement"))
    cond = st.get("Condition") or {}
    equals, like = cond.get("StringEquals") or {}, cond.get("ArnLike") or {}
    if st.get("Effect") != "Allow" or as_list(st.get("Action")) != ["events:PutEvents"]:
        out.append(f"RelayBusPolicy: allows {st.get('Action')}, not only events:PutEvents")
    if equals.get("events:source") != "aws.backup":
        out.append("RelayBusPolicy: not limited to aws.backup events (events:source)")
    if equals.get("aws:PrincipalOrgID") != "o-abcdefghij":
        out.append("RelayBusPolicy: not limited to the organisation")
    if like.get("aws:PrincipalArn") != "arn:aws:iam::*:role/backup-relay-forward-*" or set(cond) - {"StringEquals", "ArnLike"}:
        out.append(f"RelayBusPolicy: not limited to the spokes' forwarding roles: {cond}")


def denies_insecure_transport(doc):
    return any(st.get("Effect") == "Deny" and st.get("Principal") in ("*", {"AWS": "*"})
               and (st.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport") == "false"
               for st in statements_of(doc))


def check_tls(template, out):
    resources = template["Resources"]
    for name, res in resources.items():
        props = res.get("Properties") or {}
        if res.get("Type") == "AWS::SNS::TopicPolicy" and not denies_insecure_transport(props.get("PolicyDocument")):
            out.append(f"{name}: no Deny of aws:SecureTransport false (TLS only)")
    for bucket in ("ReportBucket", "PolicyBucket"):
        policies = [r for r in resources.values() if r.get("Type") == "AWS::S3::BucketPolicy"
                    and r["Properties"].get("Bucket") == {"Ref": bucket}]
        if len(policies) != 1 or not denies_insecure_transport(policies[0]["Properties"].get("PolicyDocument")):
            out.append(f"{bucket}: no bucket policy denying aws:SecureTransport false (TLS only)")
    topics = {r["Properties"]["Topics"][0].get("Ref") for r in resources.values() if r.get("Type") == "AWS::SNS::TopicPolicy"}
    if "AlertTopic" not in topics:
        out.append("AlertTopic: no topic policy")


def check_concurrency_and_logs(template, out):
    resources = template["Resources"]
    for name, res, binary in functions(template):
        props = res["Properties"]
        wanted = {"copy-router": {"Ref": "RouterReservedConcurrency"},
                  "retention-guard": {"Ref": "GuardReservedConcurrency"}}.get(binary)
        if wanted and props.get("ReservedConcurrentExecutions") != wanted:
            out.append(f"{name}: ReservedConcurrentExecutions is {props.get('ReservedConcurrentExecutions')}, not {wanted}")
        group = ((props.get("LoggingConfig") or {}).get("LogGroup") or {}).get("Ref")
        logs = (resources.get(group) or {})
        if logs.get("Type") != "AWS::Logs::LogGroup":
            out.append(f"{name}: logs to no log group of this stack (Lambda would make one without retention)")
            continue
        lp = logs.get("Properties") or {}
        if lp.get("RetentionInDays") != {"Ref": "LogRetentionDays"} or not lp.get("KmsKeyId"):
            out.append(f"{group}: no RetentionInDays from LogRetentionDays or no KmsKeyId")


def check_report_bucket(template, out):
    resources = template["Resources"]
    props = resources["ReportBucket"]["Properties"]
    lock = props.get("ObjectLockConfiguration") or {}
    retention = (lock.get("Rule") or {}).get("DefaultRetention") or {}
    if props.get("ObjectLockEnabled") is not True or lock.get("ObjectLockEnabled") != "Enabled" or \
            retention != {"Mode": "COMPLIANCE", "Days": {"Ref": "ReportLockDays"}}:
        out.append(f"ReportBucket: not under Object Lock in COMPLIANCE mode for ReportLockDays: {lock}")
    report = next(res for _, res, b in functions(template) if b == "compliance-report")
    ev = Evaluator(template, {"PolicyDocument": "version: 1"})
    granted = {a for st in function_statements(ev, report) if st.get("Effect") == "Allow" for a in as_list(st.get("Action"))}
    wrong = sorted(a for a in granted if a in REPORT_MAY_NOT or a in ("s3:*", "*"))
    if wrong:
        out.append(f"ComplianceReportFunction: may {wrong} (report versions must stay)")
    policy = next((r["Properties"]["PolicyDocument"] for r in resources.values() if r.get("Type") == "AWS::S3::BucketPolicy"
                   and r["Properties"].get("Bucket") == {"Ref": "ReportBucket"}), {})
    denied = set()
    for st in statements_of(policy):
        if st.get("Effect") == "Deny" and (st.get("Condition") or {}).get("ArnEquals", {}).get("aws:PrincipalArn") == \
                {"Fn::GetAtt": ["ComplianceReportFunctionRole", "Arn"]}:
            denied |= set(as_list(st.get("Action")))
    if REPORT_MAY_NOT - denied:
        out.append(f"ReportBucketPolicy: does not deny the report function {sorted(REPORT_MAY_NOT - denied)}")


def check_policy_bucket(template, out):
    resources = template["Resources"]
    bucket = resources.get("PolicyBucket") or {}
    if bucket.get("Condition") != "CreatesPolicyBucket" or \
            (bucket.get("Properties") or {}).get("VersioningConfiguration") != {"Status": "Enabled"}:
        out.append("PolicyBucket: not a versioned bucket made under CreatePolicyBucket")
    policy = next((r["Properties"]["PolicyDocument"] for r in resources.values() if r.get("Type") == "AWS::S3::BucketPolicy"
                   and r["Properties"].get("Bucket") == {"Ref": "PolicyBucket"}), {})
    denied = set()
    for st in statements_of(policy):
        cond = st.get("Condition") or {}
        if st.get("Effect") == "Deny" and st.get("Principal") in ("*", {"AWS": "*"}) and \
                cond == {"ArnNotEquals": {"aws:PrincipalArn": {"Ref": "PolicyWriterArn"}}}:
            denied |= set(as_list(st.get("Action")))
    if POLICY_WRITES - denied:
        out.append(f"PolicyBucketPolicy: does not deny {sorted(POLICY_WRITES - denied)} to all but PolicyWriterArn")


def check_report_runs(template, out):
    resources = template["Resources"]
    report = next(res for _, res, b in functions(template) if b == "compliance-report")
    env = report["Properties"]["Environment"]["Variables"]
    if env.get("WORK_BUCKET") != {"Ref": "ReportWorkBucket"}:
        out.append(f"ComplianceReportFunction: WORK_BUCKET is {env.get('WORK_BUCKET')}, not the work bucket")
    if report["Properties"].get("ReservedConcurrentExecutions") != {"Ref": "InventoryConcurrency"}:
        out.append("ComplianceReportFunction: reserved concurrency is not InventoryConcurrency")
    work = resources.get("ReportWorkBucket", {}).get("Properties", {})
    rules = (work.get("LifecycleConfiguration") or {}).get("Rules") or []
    if "ObjectLockConfiguration" in work or not any(r.get("Prefix") == "runs/" and r.get("ExpirationInDays") for r in rules):
        out.append("ReportWorkBucket: locked, or runs/ never expires")
    machines = [r for r in resources.values() if r.get("Type") == "AWS::Serverless::StateMachine"]
    if len(machines) != 1:
        out.append(f"{len(machines)} state machines, not the report's one")
        return
    props = machines[0]["Properties"]
    subs = props.get("DefinitionSubstitutions") or {}
    if subs.get("ReportFunctionArn") != {"Fn::GetAtt": ["ComplianceReportFunction", "Arn"]} or \
            subs.get("WorkBucket") != {"Ref": "ReportWorkBucket"}:
        out.append(f"ComplianceReportRuns: substitutions {subs}")
    states, name, phases = props["Definition"]["States"], props["Definition"]["StartAt"], []
    while name:
        state = states[name]
        if state["Type"] == "Map":
            if state.get("ToleratedFailurePercentage") != 100 or state.get("MaxConcurrencyPath") != "$.concurrency" \
                    or state["ItemReader"]["Parameters"].get("Bucket") != "${WorkBucket}":
                out.append(f"ComplianceReportRuns: map {name} holds the run on a failure, or reads elsewhere")
            phases.append(state["ItemSelector"].get("phase"))
            inner = state["ItemProcessor"]["States"]
            tasks = list(inner.values())
        else:
            phases.append((state["Parameters"].get("Payload") or {}).get("phase"))
            tasks = [state]
        if any(t["Parameters"]["FunctionName"] != "${ReportFunctionArn}" for t in tasks):
            out.append(f"ComplianceReportRuns: {name} calls another function")
        name = state.get("Next")
    if phases != ["start", "inventory", "evaluate", "merge"]:
        out.append(f"ComplianceReportRuns: steps {phases}, not start, inventory, evaluate, merge")


def check_deploy_metadata(template, crates, out):
    defaults = (template.get("Globals") or {}).get("Function") or {}
    for name, res, binary in functions(template):
        props = res["Properties"]
        if props.get("FunctionName") != {"Fn::Sub": "${FunctionNamePrefix}" + str(binary)}:
            out.append(f"{name}: FunctionName is not FunctionNamePrefix + {binary}")
        deploy = (((crates.get(binary) or {}).get("package") or {}).get("metadata") or {}).get(
            "lambda", {}).get("deploy")
        if deploy is None:
            out.append(f"functions/{binary}/Cargo.toml: no [package.metadata.lambda.deploy]")
            continue
        memory = props.get("MemorySize", defaults.get("MemorySize", 128))
        if isinstance(memory, dict) and "Ref" in memory:
            # A parameter: the deploy metadata holds its default.
            memory = ((template.get("Parameters") or {}).get(memory["Ref"]) or {}).get("Default")
        expected = {"memory": memory,
                    "timeout": props.get("Timeout", defaults.get("Timeout", 3)), "merge_env": True}
        wrong = {k: deploy.get(k) for k, v in expected.items() if deploy.get(k) != v}
        if wrong:
            out.append(f"functions/{binary}/Cargo.toml: deploy metadata {wrong}, not {expected}")
        kept = sorted({"role", "iam_role", "tracing", "layer", "layers", "runtime"} & set(deploy))
        if kept:
            out.append(f"functions/{binary}/Cargo.toml: deploy metadata sets {kept}, which the stack owns")


def problems(template, spoke, crates):
    out = []
    check_deploy_metadata(template, crates, out)
    check_alarms(template, out)
    check_rules(template, out)
    check_policy_source(template, out)
    check_stackset(template, spoke, out)
    check_split_roles(template, out)
    check_bus(template, out)
    check_tls(template, out)
    check_concurrency_and_logs(template, out)
    check_report_bucket(template, out)
    check_policy_bucket(template, out)
    check_report_runs(template, out)
    check_dashboard(template, out)
    return out


def statement(template, function, sid):
    for st in template["Resources"][function]["Properties"]["Policies"][0]["Statement"]:
        body = st["Fn::If"][1] if isinstance(st, dict) and "Fn::If" in st else st
        if isinstance(body, dict) and body.get("Sid") == sid:
            return st, body
    raise KeyError(sid)


def check_dashboard(template, out):
    resources = template["Resources"]
    dashboards = [r for r in resources.values() if r.get("Type") == "AWS::CloudWatch::Dashboard"]
    if len(dashboards) != 1:
        out.append(f"{len(dashboards)} dashboards, not one")
        return
    body = (dashboards[0]["Properties"].get("DashboardBody") or {}).get("Fn::Sub")
    if not isinstance(body, str):
        out.append("the dashboard's body is not one Fn::Sub string")
        return
    try:
        json.loads(re.sub(r"\$\{[^}]+\}", "X", body))
    except ValueError as e:
        out.append(f"the dashboard's body is not JSON: {e}")
        return
    wanted = ["{BackupRelay/Compliance,Control}", "{BackupRelay/Compliance,Account}",
              '"RELAY_CHAIN_COMPLETE"', "${AlertTopic.TopicName}"]
    wanted += [f"${{{q}.QueueName}}" for q, r in resources.items() if r.get("Type") == "AWS::SQS::Queue"
               and not (r.get("Properties") or {}).get("RedrivePolicy")]
    for w in wanted:
        if w not in body:
            out.append(f"the dashboard does not graph {w}")


def breakages(t):
    """(what, broken template): each must fail the checks."""

    def broken(change):
        b = copy.deepcopy(t)
        change(b["Resources"], b)
        return b

    def copy_router(res):
        return next(r for r in res.values() if (r.get("Metadata") or {}).get("BuildProperties", {}).get("Binary") == "copy-router")

    def failed_backups_in(res, _):
        # Running backups are not what it acts on (and copy jobs lose PARTIAL).
        rule = next(iter(copy_router(res)["Properties"]["Events"].values()))
        rule["Properties"]["Pattern"] = {"source": ["aws.backup"],
                                         "detail-type": ["Backup Job State Change", "Copy Job State Change"],
                                         "detail": {"state": ["COMPLETED", "FAILED", "RUNNING"]}}

    def unalarmed_queue(res, _):
        res["ExtraFailedEvents"] = {"Type": "AWS::SQS::Queue", "Properties": {}}

    def pieces_without_partial_failures(res, _):
        fn = next(r for r in res.values() if (r.get("Metadata") or {}).get("BuildProperties", {}).get("Binary") == "reconciler")
        fn["Properties"]["Events"]["Pieces"]["Properties"]["FunctionResponseTypes"] = []

    def slow_alarm(res, _):
        alarm = next(r for r in res.values() if r.get("Type") == "AWS::CloudWatch::Alarm")
        alarm["Properties"]["EvaluationPeriods"] = 3

    def managed_key(res, _):
        res["AlertTopic"]["Properties"]["KmsMasterKeyId"] = "alias/aws/sns"

    def two_sources(_, b):
        b["Rules"] = {}

    def double_slash(res, b):
        fn = next(n for n, _, _ in functions(b))
        _, body = statement(b, fn, "ReadPolicyParameter")
        body["Resource"] = {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${PolicyParameterName}"}

    def unconditional_object(res, b):
        fn = next(n for n, _, _ in functions(b))
        st, body = statement(b, fn, "ReadPolicyObject")
        statements = res[fn]["Properties"]["Policies"][0]["Statement"]
        statements[statements.index(st)] = body

    def no_first_region(res, _):
        stackset = next(r for r in res.values() if r.get("Type") == "AWS::CloudFormation::StackSet")
        for p in stackset["Properties"]["Parameters"]:
            if p["ParameterKey"] == "GlobalResourcesRegion":
                p["ParameterValue"] = ""

    def bigger_router(res, _):
        copy_router(res)["Properties"]["MemorySize"] = 2048

    def retained_stacks(res, _):
        stackset = next(r for r in res.values() if r.get("Type") == "AWS::CloudFormation::StackSet")
        stackset["Properties"]["AutoDeployment"]["RetainStacksOnAccountRemoval"] = True

    def stackset_parameter(res, key):
        stackset = next(r for r in res.values() if r.get("Type") == "AWS::CloudFormation::StackSet")
        return next(p for p in stackset["Properties"]["Parameters"] if p["ParameterKey"] == key)

    def report_function(res):
        return next(r for r in res.values() if (r.get("Metadata") or {}).get("BuildProperties", {}).get("Binary") == "compliance-report")

    def report_as_writer(res, _):
        del report_function(res)["Properties"]["Environment"]["Variables"]["EXECUTOR_ROLE_NAME"]

    def report_assumes_writer(res, _):
        fn = next(n for n, r in res.items() if r is report_function(res))
        _, body = statement({"Resources": res}, fn, "ReachMemberAccountsReadOnly")
        body["Resource"] = {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${ExecutorRoleName}"}

    def report_trusted_by_writer(res, _):
        stackset_parameter(res, "HubFunctionRoleNames")["ParameterValue"]["Fn::Join"][1].append(
            {"Ref": "ComplianceReportFunctionRole"})

    def no_reader_name(res, _):
        stackset_parameter(res, "ReaderRoleName")["ParameterKey"] = "Unused"

    def old_break_glass(res, b):
        stackset_parameter(res, "BreakGlassPrincipalArn").update(
            {"ParameterKey": "BreakGlassRoleName", "ParameterValue": {"Ref": "SpokeBreakGlassRoleName"}})
        del b["Rules"]["SpokeBreakGlassRoleNameRetired"]

    def no_locks(res, _):
        stackset_parameter(res, "LockMinRetentionDays")["ParameterValue"] = "0"

    def bunker_not_split(res, _):
        stackset = next(r for r in res.values() if r.get("Type") == "AWS::CloudFormation::StackSet")
        groups = stackset["Properties"]["StackInstancesGroup"]["Fn::If"][1]
        del groups[0]["DeploymentTargets"]["AccountFilterType"]

    def bus_any_source(res, _):
        del res["RelayBusPolicy"]["Properties"]["Statement"]["Condition"]["StringEquals"]["events:source"]

    def bus_any_role(res, _):
        del res["RelayBusPolicy"]["Properties"]["Statement"]["Condition"]["ArnLike"]

    def topic_over_http(res, _):
        statements = res["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        statements[:] = [st for st in statements if st.get("Effect") != "Deny"]

    def router_unbounded(res, _):
        del copy_router(res)["Properties"]["ReservedConcurrentExecutions"]

    def implicit_logs(res, _):
        del copy_router(res)["Properties"]["LoggingConfig"]

    def logs_forever(res, _):
        del res["ReconcilerLogs"]["Properties"]["RetentionInDays"]

    def reports_rewritable(res, _):
        res["ReportBucket"]["Properties"]["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Mode"] = "GOVERNANCE"

    def report_deletes(res, _):
        fn = next(n for n, r in res.items() if r is report_function(res))
        _, body = statement({"Resources": res}, fn, "ReadAndWriteReports")
        body["Action"].append("s3:DeleteObjectVersion")

    def report_deny_dropped(res, _):
        statements = res["ReportBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        statements[:] = [st for st in statements if st.get("Sid") != "ReportFunctionOnlyAddsVersions"]

    def policy_writable(res, _):
        statements = res["PolicyBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        next(st for st in statements if st.get("Sid") == "OnlyTheWriterChangesThePolicy")["Action"].remove("s3:PutObject")

    def intolerant_map(res, _):
        del res["ComplianceReportRuns"]["Properties"]["Definition"]["States"]["Evaluate"]["ToleratedFailurePercentage"]

    def parts_under_lock(res, _):
        report_function(res)["Properties"]["Environment"]["Variables"]["WORK_BUCKET"] = {"Ref": "ReportBucket"}

    def merge_before_evaluate(res, _):
        states = res["ComplianceReportRuns"]["Properties"]["Definition"]["States"]
        states["Inventory"]["Next"] = "Merge"

    def bucket_without_writer(_, b):
        b["Rules"]["PolicyBucketIsTheOnlySource"]["Assertions"].pop()

    def dashboard_missing_a_queue(res, _):
        res["ExtraFailedRuns"] = {"Type": "AWS::SQS::Queue", "Properties": {}}

    def dashboard_not_json(res, _):
        dash = next(r for r in res.values() if r.get("Type") == "AWS::CloudWatch::Dashboard")
        dash["Properties"]["DashboardBody"]["Fn::Sub"] += "}"

    return [
        ("a dead-letter queue the dashboard does not graph", broken(dashboard_missing_a_queue)),
        ("a dashboard body that is not JSON", broken(dashboard_not_json)),
        ("the compliance report assuming the writer (EXECUTOR_ROLE_NAME)", broken(report_as_writer)),
        ("the compliance report allowed to assume the writer", broken(report_assumes_writer)),
        ("the writer trusting the compliance report's role", broken(report_trusted_by_writer)),
        ("the reader's name not passed to the spokes", broken(no_reader_name)),
        ("the retired member-account break-glass role passed to the spokes", broken(old_break_glass)),
        ("the spokes' lock not from SpokeLockMinRetentionDays", broken(no_locks)),
        ("the bunker accounts deployed twice (not left out of the first group)", broken(bunker_not_split)),
        ("the hub bus taking any source", broken(bus_any_source)),
        ("the hub bus taking any principal of the organisation", broken(bus_any_role)),
        ("the alert topic over plain HTTP", broken(topic_over_http)),
        ("the router without reserved concurrency", broken(router_unbounded)),
        ("the router logging to an implicit log group", broken(implicit_logs)),
        ("a log group kept forever", broken(logs_forever)),
        ("reports under a governance lock (rewritable by a privileged user)", broken(reports_rewritable)),
        ("the report function deleting report versions", broken(report_deletes)),
        ("the bucket policy no longer denying the report function", broken(report_deny_dropped)),
        ("the policy object writable by anyone of the account", broken(policy_writable)),
        ("a policy bucket without a writer", broken(bucket_without_writer)),
        ("a report run held by one failed piece", broken(intolerant_map)),
        ("a run's parts under the reports' lock", broken(parts_under_lock)),
        ("the merge before the evaluations", broken(merge_before_evaluate)),
        ("the router's rule letting failed backups in and partial copies out", broken(failed_backups_in)),
        ("a queue without an alarm", broken(unalarmed_queue)),
        ("pieces read without partial batch responses", broken(pieces_without_partial_failures)),
        ("an alarm over 3 periods", broken(slow_alarm)),
        ("the alert topic under alias/aws/sns", broken(managed_key)),
        ("no Rules on the policy source", broken(two_sources)),
        ("a hierarchical parameter name read as parameter//name", broken(double_slash)),
        ("the policy object readable without PolicyS3Uri", broken(unconditional_object)),
        ("no GlobalResourcesRegion for the spokes", broken(no_first_region)),
        ("spoke stacks retained when an account leaves", broken(retained_stacks)),
        ("the router's memory not what cargo lambda deploy sets", broken(bigger_router)),
    ]


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.loads(json.dumps(load_yaml(f.read())))  # plain dicts and lists, merge keys resolved


def main(argv):
    path = argv[0] if argv else os.path.join(HERE, "template.yaml")
    spoke_path = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(path)), "spoke.yaml")
    template, spoke = load(path), load(spoke_path)
    functions_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(path))), "functions")
    crates = {}
    for _, _, binary in functions(template):
        manifest = os.path.join(functions_dir, str(binary), "Cargo.toml")
        if os.path.isfile(manifest):
            with open(manifest, "rb") as f:
                crates[binary] = tomllib.load(f)
    found = problems(template, spoke, crates)
    for p in found:
        print(f"{path}: {p}")
    if found:
        print(f"{path}: {len(found)} hub finding(s)")
        return 1
    missed = [what for what, bad in breakages(template) if not problems(bad, spoke, crates)]
    if missed:
        print(f"check_hub FAILED to notice: {missed}")
        return 1
    print(f"{path}: hub checks pass (and each catches its breakage)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
