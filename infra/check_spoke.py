"""Checks on the spoke template (infra/spoke.yaml) that cfn-lint and check_iam.py cannot make.

  1. no Transform anywhere (service-managed StackSets reject them);
  2. every Allow to an AWS principal of another account (a role's trust, the key policy, the vault
     access policy) carries aws:PrincipalOrgID, on every side of its Fn::If; key use also kms:ViaService;
  3. the executor role allows exactly the actions the README's "Deploying the hub" lists;
  4. dynamodb:DeleteTable only on table/relay-drill-*; iam:PassRole only of the copy role, to Backup;
  5. the vault access policy denies deleting recovery points, changing their lifecycle and changing
     the policy to every principal but the break-glass role, and allows copies in from the organisation;
  6. the rule forwards aws.backup's job and recovery point events to HubEventBusArn, with a role that
     may put events on that bus only;
  7. the executor role lets `relay doctor --live` make each of its reads, on the resources it reads
     (an Allow without a Condition whose Resource covers them; "*" for the actions IAM scopes to no
     resource), and denies none of them.
Then each check is shown to bite: a template broken in its way must fail it.

Usage: python check_spoke.py [TEMPLATE]   (default: spoke.yaml next to this file)
"""

import copy
import fnmatch
import json
import os
import sys

from cfnlint.decode.cfn_yaml import loads as load_yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_iam import as_list, branches, condition_keys, each, text_of  # noqa: E402

EXECUTOR_ACTIONS = {
    # copy router, reconciler, retention guard
    "backup:StartCopyJob", "backup:DescribeRecoveryPoint", "backup:ListRecoveryPointsByBackupVault",
    "backup:DescribeBackupVault", "backup:UpdateRecoveryPointLifecycle", "backup:DescribeCopyJob",
    "backup:ListCopyJobs", "dynamodb:ListTagsOfResource",
    # compliance report
    "dynamodb:ListTables", "dynamodb:ListBackups", "dynamodb:DescribeContinuousBackups",
    "backup:ListBackupVaults", "backup:GetBackupVaultAccessPolicy", "backup:ListBackupPlans",
    "backup:GetBackupPlan", "backup:ListBackupSelections", "backup:GetBackupSelection",
    "backup:DescribeRegionSettings",
    # restores and drills
    "backup:StartRestoreJob", "backup:DescribeRestoreJob", "iam:PassRole", "dynamodb:DescribeTable",
    "dynamodb:DeleteTable",
    # relay doctor --live
    "iam:GetRole", "kms:DescribeKey", "kms:GetKeyPolicy", "organizations:DescribeOrganization",
    "events:ListRules", "events:ListTargetsByRule",
}
# What `relay doctor --live` reads through the executor role (cli/src/doctor/live.rs), and on what:
# the copy role, the policy's vaults, a vault's key, the default bus's rules. The actions without
# resource-level permissions need "*". (sts:GetCallerIdentity needs no permission.)
VAULTS = "arn:${AWS::Partition}:backup:*:${AWS::AccountId}:backup-vault:*"
KEYS = "arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*"
DOCTOR_READS = {
    "iam:GetRole": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${CopyRoleName}",
    "backup:DescribeBackupVault": VAULTS,
    "backup:GetBackupVaultAccessPolicy": VAULTS,
    "kms:DescribeKey": KEYS,
    "kms:GetKeyPolicy": KEYS,
    "backup:DescribeRegionSettings": "*",
    "organizations:DescribeOrganization": "*",
    "events:ListRules": "*",
    "events:ListTargetsByRule": "arn:${AWS::Partition}:events:*:${AWS::AccountId}:rule/*",
}
DENIED_IN_VAULT = {"backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle",
                   "backup:PutBackupVaultAccessPolicy"}
FORWARDED = {"Backup Job State Change", "Copy Job State Change", "Restore Job State Change",
             "Recovery Point State Change"}
HUB_BUS = {"Ref": "HubEventBusArn"}


def keys_anywhere(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from keys_anywhere(v)
    elif isinstance(node, list):
        for v in node:
            yield from keys_anywhere(v)


def statements(doc):
    """(statement, condition) for every Fn::If side of each statement and of its condition."""
    for st in each((doc or {}).get("Statement") or []):
        if isinstance(st, dict):
            for cond in branches(st.get("Condition"), no_value=[None]):
                yield st, cond


def actions(st):
    return {a for a in as_list(st.get("Action") or []) if isinstance(a, str)}


def aws_principals(st):
    principal = st.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, dict):
        return [text_of(p) or "" for p in as_list(principal.get("AWS") or [])]
    return []


def of_this_account(principal):
    return principal.endswith(":${AWS::AccountId}:root")


def policy_docs(props):
    return [p.get("PolicyDocument") for p in each(props.get("Policies") or []) if isinstance(p, dict)]


def check_org_conditions(name, doc, out, via_service=False):
    for st, cond in statements(doc):
        others = [p for p in aws_principals(st) if not of_this_account(p)]
        if st.get("Effect") != "Allow" or not others:
            continue
        keys = condition_keys(cond)
        if "aws:principalorgid" not in keys:
            out.append(f"{name} {st.get('Sid', '')}: allows {others} without aws:PrincipalOrgID")
        if via_service and "kms:viaservice" not in keys:
            out.append(f"{name} {st.get('Sid', '')}: key use without kms:ViaService")


def check_grants(name, props, out):
    for doc in policy_docs(props):
        for st, cond in statements(doc):
            if st.get("Effect") != "Allow":
                continue
            acts = actions(st)
            resources = [text_of(r) or "" for r in as_list(st.get("Resource") or [])]
            if acts & {"dynamodb:DeleteTable", "dynamodb:*", "*"} and not all(
                    r.endswith(":table/relay-drill-*") for r in resources):
                out.append(f"{name} {st.get('Sid', '')}: dynamodb:DeleteTable beyond table/relay-drill-*")
            if acts & {"iam:PassRole", "iam:*", "*"}:
                passed = (cond or {}).get("StringEquals", {}).get("iam:PassedToService")
                if passed != "backup.amazonaws.com" or not all(r.endswith("role/${CopyRoleName}") for r in resources):
                    out.append(f"{name} {st.get('Sid', '')}: iam:PassRole beyond the copy role to Backup")


def check_vault(name, props, out):
    denied, copy_in = set(), False
    for st, cond in statements(props.get("AccessPolicy")):
        if st.get("Effect") == "Deny" and aws_principals(st) == ["*"]:
            exempt_only_break_glass = cond is None or (
                list(cond) == ["ArnNotEquals"] and list(cond["ArnNotEquals"]) == ["aws:PrincipalArn"])
            if exempt_only_break_glass:
                denied |= actions(st)
        if st.get("Effect") == "Allow" and "backup:CopyIntoBackupVault" in actions(st):
            copy_in = copy_in or "aws:principalorgid" in condition_keys(cond)
    if DENIED_IN_VAULT - denied:
        out.append(f"{name}: access policy does not deny {sorted(DENIED_IN_VAULT - denied)} to all but break-glass")
    if not copy_in:
        out.append(f"{name}: access policy does not allow backup:CopyIntoBackupVault from the organisation")
    check_org_conditions(name, props.get("AccessPolicy"), out)


def check_rule(name, props, resources, out):
    pattern = props.get("EventPattern") or {}
    if pattern.get("source") != ["aws.backup"] or set(pattern.get("detail-type") or []) != FORWARDED:
        out.append(f"{name}: does not forward exactly aws.backup {sorted(FORWARDED)}")
    for target in props.get("Targets") or []:
        if target.get("Arn") != HUB_BUS:
            out.append(f"{name}: target is not HubEventBusArn")
        role = (target.get("RoleArn") or {}).get("Fn::GetAtt", [None])[0]
        role_props = (resources.get(role) or {}).get("Properties") or {}
        grants = [(actions(st), st.get("Resource")) for doc in policy_docs(role_props) for st, _ in statements(doc)]
        if not grants or any(a != {"events:PutEvents"} or r != HUB_BUS for a, r in grants):
            out.append(f"{name}: its role may do more than events:PutEvents on HubEventBusArn")


def covers(granted, needed):
    """Does a granted Resource (wildcards and all) cover every resource the pattern `needed` names?"""
    return granted == "*" or fnmatch.fnmatchcase(needed, granted.replace("[", "[[]"))


def check_doctor_reads(executor, out):
    allowed, denied = {}, set()
    for doc in policy_docs(executor):
        for st, cond in statements(doc):
            resources = [text_of(r) for r in as_list(st.get("Resource") or [])]
            for action in actions(st):
                if st.get("Effect") == "Deny":
                    denied.add(action)
                elif st.get("Effect") == "Allow" and cond is None:
                    allowed.setdefault(action, []).extend(r for r in resources if r)
    for action, needed in DOCTOR_READS.items():
        if action in denied:
            out.append(f"executor role: denies {action}, which relay doctor --live reads with")
        elif not any(covers(r, needed) for r in allowed.get(action, [])):
            out.append(f"executor role: relay doctor --live cannot {action} on {needed} "
                       f"(granted without a condition on {allowed.get(action, [])})")


def problems(template):
    out = []
    transforms = [k for k in keys_anywhere(template) if k in ("Transform", "Fn::Transform")]
    if transforms:
        out.append(f"template uses {sorted(set(transforms))} (service-managed StackSets reject it)")
    resources = template.get("Resources") or {}
    executor = None
    for name, res in resources.items():
        kind, props = res.get("Type"), res.get("Properties") or {}
        if kind == "AWS::IAM::Role":
            check_org_conditions(name, props.get("AssumeRolePolicyDocument"), out)
            check_grants(name, props, out)
            if props.get("RoleName") == {"Ref": "ExecutorRoleName"}:
                executor = props
        elif kind == "AWS::KMS::Key":
            check_org_conditions(name, props.get("KeyPolicy"), out, via_service=True)
        elif kind == "AWS::Backup::BackupVault":
            check_vault(name, props, out)
        elif kind == "AWS::Events::Rule":
            check_rule(name, props, resources, out)
    if executor is None:
        out.append("no executor role (RoleName !Ref ExecutorRoleName)")
    else:
        granted = {a for doc in policy_docs(executor) for st, _ in statements(doc)
                   if st.get("Effect") == "Allow" for a in actions(st)}
        if granted != EXECUTOR_ACTIONS:
            out.append(f"executor role: extra {sorted(granted - EXECUTOR_ACTIONS)}, "
                       f"missing {sorted(EXECUTOR_ACTIONS - granted)}")
        check_doctor_reads(executor, out)
    return out


def find_statement(doc, sid):
    return next(st for st in each(doc["Statement"]) if isinstance(st, dict) and st.get("Sid") == sid)


def breakages(t):
    """(what, broken template): each must fail the checks."""
    r = t["Resources"]
    executor = r["ExecutorRole"]["Properties"]
    executor_doc = executor["Policies"][0]["PolicyDocument"]
    vault_policy = r["Vault"]["Properties"]["AccessPolicy"]

    def broken(change):
        b = copy.deepcopy(t)
        change(b["Resources"], b)
        return b

    def no_org(res, _):
        del find_statement(res["ExecutorRole"]["Properties"]["AssumeRolePolicyDocument"], "HubFunctions")[
            "Condition"]["StringEquals"]

    def keep_deletes(res, _):
        find_statement(res["Vault"]["Properties"]["AccessPolicy"], "OnlyBreakGlassDeletes")[
            "Action"].remove("backup:DeleteRecoveryPoint")

    def wide_delete(res, _):
        find_statement(res["ExecutorRole"]["Properties"]["Policies"][0]["PolicyDocument"],
                       "DeleteOnlyDrillTables")["Resource"] = {
            "Fn::Sub": "arn:${AWS::Partition}:dynamodb:*:${AWS::AccountId}:table/*"}

    def extra_action(res, _):
        find_statement(res["ExecutorRole"]["Properties"]["Policies"][0]["PolicyDocument"],
                       "ReadVaults")["Action"].append("backup:DeleteBackupVault")

    def key_without_backup(res, _):
        st = find_statement(res["VaultKey"]["Properties"]["KeyPolicy"], "OrganizationUsesThroughBackup")
        del st["Condition"]["StringEquals"]["kms:ViaService"]

    def doctor_statement(res, sid):
        return find_statement(res["ExecutorRole"]["Properties"]["Policies"][0]["PolicyDocument"], sid)

    def copy_role_unreadable(res, _):
        doctor_statement(res, "DoctorReadsCopyRole")["Resource"] = {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ExecutorRoleName}"}

    def keys_by_alias(res, _):
        doctor_statement(res, "DoctorReadsVaultKeys")["Resource"] = {
            "Fn::Sub": "arn:${AWS::Partition}:kms:*:${AWS::AccountId}:alias/backup-relay/*"}

    def list_rules_on_rules(res, _):
        listings = doctor_statement(res, "DoctorListings")
        listings["Action"].remove("events:ListRules")
        doctor_statement(res, "DoctorReadsRuleTargets")["Action"] = [
            "events:ListTargetsByRule", "events:ListRules"]

    def rule_targets_of_one_bus(res, _):
        doctor_statement(res, "DoctorReadsRuleTargets")["Resource"] = {
            "Fn::Sub": "arn:${AWS::Partition}:events:*:${AWS::AccountId}:rule/backup-relay/*"}

    def vault_reads_conditioned(res, _):
        doctor_statement(res, "ReadVaults")["Condition"] = {
            "StringEquals": {"aws:ResourceTag/backup-relay": "true"}}

    def organization_denied(res, _):
        doc = res["ExecutorRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        doc["Statement"].append({"Effect": "Deny", "Action": "organizations:DescribeOrganization",
                                 "Resource": "*"})

    assert executor_doc and vault_policy  # the pieces the breakages edit exist
    return [
        ("a Transform", broken(lambda _, b: b.__setitem__("Transform", "AWS::Serverless-2016-10-31"))),
        ("executor trust without aws:PrincipalOrgID", broken(no_org)),
        ("vault policy allowing DeleteRecoveryPoint", broken(keep_deletes)),
        ("DeleteTable on every table", broken(wide_delete)),
        ("an executor action the README does not list", broken(extra_action)),
        ("key use not through Backup", broken(key_without_backup)),
        ("doctor: GetRole on another role than the copy role", broken(copy_role_unreadable)),
        ("doctor: kms reads on alias ARNs (the doctor names the key)", broken(keys_by_alias)),
        ("doctor: events:ListRules on rule ARNs (it takes only *)", broken(list_rules_on_rules)),
        ("doctor: ListTargetsByRule only on a custom bus's rules", broken(rule_targets_of_one_bus)),
        ("doctor: vault reads only under a condition", broken(vault_reads_conditioned)),
        ("doctor: DescribeOrganization denied", broken(organization_denied)),
    ]


def main(argv):
    path = argv[0] if argv else os.path.join(os.path.dirname(os.path.abspath(__file__)), "spoke.yaml")
    with open(path, encoding="utf-8") as f:
        template = json.loads(json.dumps(load_yaml(f.read())))  # plain dicts and lists
    found = problems(template)
    for p in found:
        print(f"{path}: {p}")
    if found:
        print(f"{path}: {len(found)} spoke finding(s)")
        return 1
    missed = [what for what, bad in breakages(template) if not problems(bad)]
    if missed:
        print(f"check_spoke FAILED to notice: {missed}")
        return 1
    print(f"{path}: spoke checks pass (and each catches its breakage)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
