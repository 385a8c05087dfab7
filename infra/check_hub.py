"""Checks on the hub template (infra/template.yaml) that cfn-lint and check_iam.py cannot make.

  1. every SQS queue (on-failure destinations, the dead-letter queue) has an alarm on
     ApproximateNumberOfMessagesVisible >= 1 (Maximum, 300 s, 1 period, missing data not breaching)
     into the alert topic, and the topic can take it: not under the AWS managed alias/aws/sns key (its
     policy cannot let CloudWatch in); a customer managed key and any topic policy let
     cloudwatch.amazonaws.com in;
  2. the copy router's rules match exactly Backup Job COMPLETED and Copy Job COMPLETED, FAILED and
     PARTIAL; the retention guard's exactly Copy Job COMPLETED and Recovery Point COMPLETED and AVAILABLE;
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
     environment stays) and no role, tracing or layers (the stack's stay).
Then each check is shown to bite: a template broken in its way must fail it.

Usage: python check_hub.py [TEMPLATE [SPOKE]]   (default: template.yaml and spoke.yaml next to this file;
the function crates are read from ../functions/CRATE/Cargo.toml beside the template)
"""

import copy
import itertools
import json
import os
import sys
import tomllib

from cfnlint.decode.cfn_yaml import loads as load_yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_iam import as_list  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NO_VALUE = object()
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
          "AWS::StackName": "hub"}
ROUTER = {("Backup Job State Change", "state", frozenset({"COMPLETED"})),
          ("Copy Job State Change", "state", frozenset({"COMPLETED", "FAILED", "PARTIAL"}))}
GUARD = {("Copy Job State Change", "state", frozenset({"COMPLETED"})),
         ("Recovery Point State Change", "status", frozenset({"COMPLETED", "AVAILABLE"}))}
ALARM = {"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible", "Statistic": "Maximum",
         "Period": 300, "EvaluationPeriods": 1, "Threshold": 1,
         "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching"}
SOURCES = {"PolicyParameterName": ("RELAY_POLICY_PARAMETER", "/backup-relay/policy"),
           "PolicyS3Uri": ("RELAY_POLICY_S3", "s3://relay-policies/hub/policy.yaml"),
           "PolicyDocument": ("RELAY_POLICY", "version: 1")}
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
        if len(node) != 1:
            return {k: v for k, v in ((k, self.value(n)) for k, n in node.items()) if v is not NO_VALUE}
        (fn, arg), = node.items()
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
        ev = Evaluator(template, values)
        if ev.rules_pass() != (sum(chosen) == 1):
            out.append(f"Rules: {'accept' if ev.rules_pass() else 'refuse'} {sorted(k for k, v in values.items() if v)}")
            continue
        if sum(chosen) != 1:
            continue
        set_vars = {k for k, v in ev.value(env).items() if k.startswith("RELAY_POLICY")}
        wanted = {SOURCES[p][0] for p, v in values.items() if v}
        if set_vars != wanted:
            out.append(f"Globals: with {sorted(wanted)} the functions get {sorted(set_vars)}")
    # What each function may read besides its other grants (the report bucket's reports/*, say).
    obj = "arn:aws:s3:::relay-policies/hub/policy.yaml"
    cases = [({"PolicyParameterName": "/backup-relay/policy"}, "ssm:GetParameter", [SSM_ARN + "backup-relay/policy"]),
             ({"PolicyParameterName": "relay-policy"}, "ssm:GetParameter", [SSM_ARN + "relay-policy"]),
             ({"PolicyS3Uri": "s3://relay-policies/hub/policy.yaml"}, "s3:GetObject", [obj]),
             ({"PolicyS3Uri": "s3://relay-policies/hub/policy.yaml"}, "s3:GetObjectVersion", [obj]),
             # Going back to the last valid version lists the bucket's object versions.
             ({"PolicyS3Uri": "s3://relay-policies/hub/policy.yaml"}, "s3:ListBucketVersions", ["arn:aws:s3:::relay-policies"])]
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
    roles = sorted(f"{n}Role" for n, _, _ in functions(template))
    given = (passed.get("HubFunctionRoleNames") or {}).get("Fn::Join", [None, []])[1]
    if sorted(r.get("Ref", "") for r in given if isinstance(r, dict)) != roles:
        out.append(f"{name}: HubFunctionRoleNames is not the roles {roles}")
    if passed.get("GlobalResourcesRegion") != {"Fn::Select": [0, {"Ref": "SpokeRegions"}]}:
        out.append(f"{name}: GlobalResourcesRegion is not the first of SpokeRegions")
    for key, value in {"OrganizationId": {"Ref": "OrganizationId"}, "HubAccountId": {"Ref": "AWS::AccountId"},
                       "ExecutorRoleName": {"Ref": "ExecutorRoleName"}, "CopyRoleName": {"Ref": "CopyRoleName"},
                       "HubEventBusArn": {"Fn::GetAtt": ["RelayBus", "Arn"]}}.items():
        if passed.get(key) != value:
            out.append(f"{name}: {key} is {passed.get(key)}, not {value}")


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
        expected = {"memory": props.get("MemorySize", defaults.get("MemorySize", 128)),
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
    return out


def statement(template, function, sid):
    for st in template["Resources"][function]["Properties"]["Policies"][0]["Statement"]:
        body = st["Fn::If"][1] if isinstance(st, dict) and "Fn::If" in st else st
        if isinstance(body, dict) and body.get("Sid") == sid:
            return st, body
    raise KeyError(sid)


def breakages(t):
    """(what, broken template): each must fail the checks."""

    def broken(change):
        b = copy.deepcopy(t)
        change(b["Resources"], b)
        return b

    def copy_router(res):
        return next(r for r in res.values() if (r.get("Metadata") or {}).get("BuildProperties", {}).get("Binary") == "copy-router")

    def failed_backups_in(res, _):
        rule = next(iter(copy_router(res)["Properties"]["Events"].values()))
        rule["Properties"]["Pattern"] = {"source": ["aws.backup"],
                                         "detail-type": ["Backup Job State Change", "Copy Job State Change"],
                                         "detail": {"state": ["COMPLETED", "FAILED"]}}

    def unalarmed_queue(res, _):
        res["ExtraFailedEvents"] = {"Type": "AWS::SQS::Queue", "Properties": {}}

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

    return [
        ("the router's rule letting failed backups in and partial copies out", broken(failed_backups_in)),
        ("a queue without an alarm", broken(unalarmed_queue)),
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
