"""Checks on the spoke template (infra/spoke.yaml) that cfn-lint and check_iam.py cannot make.

  1. no Transform anywhere (service-managed StackSets reject them);
  2. every Allow to an AWS principal of another account (a role's trust, the key policy, the vault
     access policy) carries aws:PrincipalOrgID, on every side of its Fn::If; key use also kms:ViaService;
  3. split roles: the writer (ExecutorRoleName) allows exactly what the writing functions call
     (WRITER_ACTIONS) and is trusted by HubFunctionRoleNames only; the reader (ReaderRoleName) allows
     exactly READER_ACTIONS, every one a Describe, List or Get, and is trusted by
     HubReaderFunctionRoleNames and OperatorRoleNames only; no role-name parameter accepts "*";
  4. dynamodb:DeleteTable only on table/relay-drill-*; iam:PassRole only of the copy role, to Backup;
  5. the vault access policy, evaluated with parameters (a member account, and the hub's own): copies
     in only from the organisation and, when named, the route accounts; deleting points or the vault
     denied to all but the break-glass principal; the access policy and the lock to all but it and
     the role CloudFormation runs as; lifecycles to all but it and the writer (in the hub's account,
     the hub's writing functions too); the retired same-account BreakGlassRoleName refused;
  6. the vault key, evaluated likewise: ScheduleKeyDeletion, DisableKey and PutKeyPolicy denied to all
     but the break-glass principal and the deployer; use through AWS Backup in its Region only, by
     the organisation and, when named, the route accounts only;
  7. the vault is locked by default (LockMinRetentionDays), from the Lock* parameters;
  8. the copy role: trusted by AWS Backup for this account only (aws:SourceAccount), AWS's backup
     policy and DynamoDB restores only (no AWSBackupServiceRolePolicyForRestores, no EBS, RDS, EFS...);
  9. the rule forwards aws.backup's job and recovery point events to HubEventBusArn, with a role
     named backup-relay-forward-* (the hub bus admits those) that only its rule may use
     (aws:SourceArn) and that may put events on that bus only;
 10. the reader lets `relay doctor --live` make each of its reads, on the resources it reads
     (an Allow without a Condition whose Resource covers them; "*" for the actions IAM scopes to no
     resource), and denies none of them.
Then each check is shown to bite: a template broken in its way must fail it.

Usage: python check_spoke.py [TEMPLATE]   (default: spoke.yaml next to this file)
"""

import copy
import fnmatch
import json
import os
import re
import sys

from cfnlint.decode.cfn_yaml import loads as load_yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_iam import as_list, branches, condition_keys, each, text_of  # noqa: E402
from check_hub import Evaluator  # noqa: E402

# What the writing functions call in member accounts (shared/aws/src/{backup,restore,tables,tags}.rs):
# copy router, reconciler, retention guard, restore drill.
WRITER_ACTIONS = {
    "backup:StartCopyJob", "backup:DescribeRecoveryPoint", "backup:UpdateRecoveryPointLifecycle",
    "backup:StartRestoreJob", "backup:ListRecoveryPointsByBackupVault", "backup:DescribeBackupVault",
    "backup:DescribeCopyJob", "backup:ListCopyJobs", "backup:DescribeRestoreJob",
    "backup:ListTags", "backup:TagResource",
    "dynamodb:ListTagsOfResource", "dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTable",
    "dynamodb:ListTables", "dynamodb:ListBackups", "dynamodb:DeleteTable", "iam:PassRole",
}
# What the compliance report (shared/aws/src/backup_inventory.rs, tables.rs, tags.rs, backup.rs) and
# `relay doctor --live` (cli/src/doctor/live.rs) read, and the few reads operators look with.
READER_ACTIONS = {
    "backup:DescribeBackupVault", "backup:GetBackupVaultAccessPolicy", "backup:ListRecoveryPointsByBackupVault",
    "backup:DescribeRecoveryPoint", "backup:GetBackupPlan", "backup:ListBackupSelections",
    "backup:GetBackupSelection", "backup:ListBackupVaults", "backup:ListBackupPlans",
    "backup:DescribeRegionSettings", "backup:DescribeCopyJob", "backup:ListCopyJobs", "backup:DescribeRestoreJob",
    "backup:ListTags", "dynamodb:ListTagsOfResource", "dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTable",
    "dynamodb:DescribeTimeToLive", "dynamodb:ListTables", "dynamodb:ListBackups",
    "iam:GetRole", "kms:DescribeKey", "kms:GetKeyPolicy", "organizations:DescribeOrganization",
    "events:ListRules", "events:ListTargetsByRule",
}
READ_VERBS = ("Describe", "List", "Get")
# What `relay doctor --live` reads through the reader (cli/src/doctor/live.rs), and on what: the copy
# role, the policy's vaults, a vault's key, the default bus's rules. The actions without
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
FORWARDED = {"Backup Job State Change", "Copy Job State Change", "Restore Job State Change",
             "Recovery Point State Change"}
HUB_BUS = {"Ref": "HubEventBusArn"}
ROLE_NAME_PARAMETERS = ("ExecutorRoleName", "ReaderRoleName", "FindingsRoleName", "CopyRoleName",
                        "HubFunctionRoleNames", "HubReaderFunctionRoleNames", "OperatorRoleNames")

# The accounts of the evaluated scenarios (check_hub.PSEUDO makes this stack's account 123456789012).
HERE = "123456789012"
HUB = "111111111111"
BREAK_GLASS = "arn:aws:iam::999999999999:role/security-break-glass"
ROUTES = "123456789012,222222222222"
MEMBER = {"HubAccountId": HUB, "OrganizationId": "o-abcdefghij", "HubFunctionRoleNames": "hub-Router,hub-Guard",
          "HubReaderFunctionRoleNames": "hub-Report", "OperatorRoleNames": "Ops",
          "HubEventBusArn": f"arn:aws:events:us-east-1:{HUB}:event-bus/relay", "RouteAccountIds": ROUTES,
          "BreakGlassPrincipalArn": BREAK_GLASS}
DEPLOYER = f"arn:aws:iam::{HERE}:role/stacksets-exec-*"
WRITER = f"arn:aws:iam::{HERE}:role/backup-relay-executor"
DESTROY_KEY = {"kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"}
# Each Deny of the vault policy: the actions, and who alone stays allowed (aws:PrincipalArn).
VAULT_DENIALS = {
    "delete": ({"backup:DeleteRecoveryPoint", "backup:DeleteBackupVault"}, {BREAK_GLASS}),
    "policy and lock": ({"backup:PutBackupVaultAccessPolicy", "backup:DeleteBackupVaultAccessPolicy",
                         "backup:PutBackupVaultLockConfiguration", "backup:DeleteBackupVaultLockConfiguration"},
                        {BREAK_GLASS, DEPLOYER}),
    "lifecycle": ({"backup:UpdateRecoveryPointLifecycle"}, {BREAK_GLASS, WRITER}),
}
# Restores narrowed to DynamoDB: the copy role's own statements may name these services only.
COPY_ROLE_SERVICES = {"dynamodb", "kms"}
BACKUP_POLICY = "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"


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


def refs(node):
    """The parameters a value is built from (every Ref inside it)."""
    if isinstance(node, dict):
        return ({node["Ref"]} if "Ref" in node else set()).union(*(refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node))
    return set()


def trusted_names(props):
    """The parameters whose role names a role's trust admits (aws:PrincipalArn built from them)."""
    names = set()
    for st, cond in statements(props.get("AssumeRolePolicyDocument")):
        if st.get("Effect") == "Allow":
            names |= refs(((cond or {}).get("ArnLike") or {}).get("aws:PrincipalArn"))
    return names


def check_role(name, props, expected, trusted, out, read_only=False):
    granted = {a for doc in policy_docs(props) for st, _ in statements(doc)
               if st.get("Effect") == "Allow" for a in actions(st)}
    if granted != expected:
        out.append(f"{name}: extra {sorted(granted - expected)}, missing {sorted(expected - granted)}")
    if read_only:
        writes = sorted(a for a in granted if not a.split(":", 1)[-1].startswith(READ_VERBS))
        if writes:
            out.append(f"{name}: not read-only: {writes}")
    names = trusted_names(props)
    if names != trusted:
        out.append(f"{name}: trusted by the roles of {sorted(names)}, not {sorted(trusted)}")


def check_own_product(props, out):
    """The findings role imports into its own account's own product only."""
    own = "arn:${AWS::Partition}:securityhub:*:${AWS::AccountId}:product/${AWS::AccountId}/default"
    for doc in policy_docs(props):
        for st, _ in statements(doc):
            for resource in as_list(st.get("Resource")):
                if text_of(resource) != own:
                    out.append(f"findings role: Resource {text_of(resource)!r} is not this account's own product")


def check_role_name_patterns(template, out):
    params = template.get("Parameters") or {}
    for name in ROLE_NAME_PARAMETERS:
        pattern = (params.get(name) or {}).get("AllowedPattern")
        if pattern is None or any(re.fullmatch(pattern, v) for v in ("*", "backup-relay-*", "a*b")):
            out.append(f"parameter {name}: AllowedPattern {pattern!r} accepts '*'")


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
        role_name = text_of(role_props.get("RoleName")) or ""
        if not role_name.startswith("backup-relay-forward-"):
            out.append(f"{name}: its role is not named backup-relay-forward-* (the hub bus admits only those)")
        rule_arn = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/" + str(props.get("Name"))
        sources = [text_of((cond or {}).get("ArnEquals", {}).get("aws:SourceArn"))
                   for st, cond in statements(role_props.get("AssumeRolePolicyDocument"))]
        if not sources or any(s != rule_arn for s in sources):
            out.append(f"{name}: its role's trust is not limited to this rule (aws:SourceArn {sources}, not {rule_arn})")


def covers(granted, needed):
    """Does a granted Resource (wildcards and all) cover every resource the pattern `needed` names?"""
    return granted == "*" or fnmatch.fnmatchcase(needed, granted.replace("[", "[[]"))


def check_doctor_reads(role, out):
    allowed, denied = {}, set()
    for doc in policy_docs(role):
        for st, cond in statements(doc):
            resources = [text_of(r) for r in as_list(st.get("Resource") or [])]
            for action in actions(st):
                if st.get("Effect") == "Deny":
                    denied.add(action)
                elif st.get("Effect") == "Allow" and cond is None:
                    allowed.setdefault(action, []).extend(r for r in resources if r)
    for action, needed in DOCTOR_READS.items():
        if action in denied:
            out.append(f"reader role: denies {action}, which relay doctor --live reads with")
        elif not any(covers(r, needed) for r in allowed.get(action, [])):
            out.append(f"reader role: relay doctor --live cannot {action} on {needed} "
                       f"(granted without a condition on {allowed.get(action, [])})")


def evaluated(template, values):
    """The template's resources with these parameter values (None when its Rules refuse them)."""
    ev = Evaluator(template, values)
    if not ev.rules_pass():
        return None
    out = {}
    for name, res in (template.get("Resources") or {}).items():
        if "Condition" in res and not ev.condition(res["Condition"]):
            continue
        out[name] = ev.value(res.get("Properties") or {})
    return out


def exempted(cond):
    """Who a Deny's condition leaves out (ArnNotLike/ArnNotEquals aws:PrincipalArn), or None when the
    condition is anything else (a Deny that some other condition could switch off)."""
    if cond is None:
        return set()
    if len(cond) != 1 or list(cond)[0] not in ("ArnNotLike", "ArnNotEquals"):
        return None
    keys = list(cond.values())[0]
    if list(keys) != ["aws:PrincipalArn"]:
        return None
    return set(as_list(keys["aws:PrincipalArn"]))


def check_vault_policy(where, policy, extra_writers, out):
    allows = [st for st in as_list(policy.get("Statement")) if st.get("Effect") == "Allow"]
    for st in allows:
        cond = st.get("Condition") or {}
        equals = cond.get("StringEquals") or {}
        if set(as_list(st.get("Action"))) != {"backup:CopyIntoBackupVault"} or set(cond) != {"StringEquals"}:
            out.append(f"{where}: vault policy allows {st.get('Action')} under {cond}")
        elif equals.get("aws:PrincipalOrgID") != MEMBER["OrganizationId"] or \
                sorted(as_list(equals.get("aws:PrincipalAccount"))) != sorted(ROUTES.split(",")):
            out.append(f"{where}: copies in not limited to the organisation's route accounts: {cond}")
    denies = [st for st in as_list(policy.get("Statement")) if st.get("Effect") == "Deny"]
    for what, (acts, exempt) in VAULT_DENIALS.items():
        if what == "lifecycle":
            exempt = exempt | extra_writers
        found = [st for st in denies if acts <= set(as_list(st.get("Action")))]
        if not found:
            out.append(f"{where}: the vault policy does not deny {sorted(acts)}")
        for st in found:
            if st.get("Principal") not in ("*", {"AWS": "*"}) or exempted(st.get("Condition")) != exempt:
                out.append(f"{where}: {sorted(acts)} denied to all but {exempted(st.get('Condition'))}, "
                           f"not {sorted(exempt)}")


def check_key_policy(where, policy, out):
    statements_ = as_list(policy.get("Statement"))
    denies = [st for st in statements_ if st.get("Effect") == "Deny" and DESTROY_KEY <= set(as_list(st.get("Action")))]
    if not denies:
        out.append(f"{where}: the key policy does not deny {sorted(DESTROY_KEY)}")
    for st in denies:
        if st.get("Principal") not in ("*", {"AWS": "*"}) or exempted(st.get("Condition")) != {BREAK_GLASS, DEPLOYER}:
            out.append(f"{where}: key destruction denied to all but {exempted(st.get('Condition'))}, "
                       f"not the break-glass principal and the deployer")
    for st in statements_:
        if st.get("Effect") != "Allow" or st.get("Principal") == {"AWS": f"arn:aws:iam::{HERE}:root"}:
            continue
        equals = (st.get("Condition") or {}).get("StringEquals") or {}
        if equals.get("kms:ViaService") != "backup.us-east-1.amazonaws.com" or \
                equals.get("aws:PrincipalOrgID") != MEMBER["OrganizationId"] or \
                sorted(as_list(equals.get("aws:PrincipalAccount"))) != sorted(ROUTES.split(",")):
            out.append(f"{where}: {st.get('Sid')} lets other principals use the key beyond AWS Backup "
                       f"for the route accounts: {st.get('Condition')}")


def check_evaluated(template, out):
    member = evaluated(template, MEMBER)
    if member is None:
        out.append("the Rules refuse a member account's parameters")
        return
    if evaluated(template, {**MEMBER, "BreakGlassPrincipalArn": "", "BreakGlassRoleName": "break-glass"}) is not None:
        out.append("the Rules accept BreakGlassRoleName (a break-glass role of the member account itself)")
    vault, key = member.get("Vault"), member.get("VaultKey")
    if vault is None or key is None:
        out.append("no vault or key with CreateVault's default")
        return
    check_vault_policy("member account", vault.get("AccessPolicy") or {}, set(), out)
    check_key_policy("member account", key.get("KeyPolicy") or {}, out)
    lock = vault.get("LockConfiguration") or {}
    if not lock.get("MinRetentionDays"):
        out.append("the vault is not locked by default (LockMinRetentionDays)")
    hub = evaluated(template, {**MEMBER, "HubAccountId": HERE})
    hub_writers = {f"arn:*:iam::*:role/{n}" for n in MEMBER["HubFunctionRoleNames"].split(",")}
    check_vault_policy("hub account", (hub or {}).get("Vault", {}).get("AccessPolicy") or {}, hub_writers, out)
    props = (template.get("Resources") or {}).get("Vault", {}).get("Properties") or {}
    lock_refs = json.dumps(props.get("LockConfiguration"))
    if not all(p in lock_refs for p in ("LockMinRetentionDays", "LockMaxRetentionDays", "LockChangeableForDays")):
        out.append("Vault: LockConfiguration not from LockMinRetentionDays, LockMaxRetentionDays, LockChangeableForDays")


def check_copy_role(props, out):
    trusts = [(st, cond) for st, cond in statements(props.get("AssumeRolePolicyDocument"))]
    for st, cond in trusts:
        if st.get("Principal") != {"Service": "backup.amazonaws.com"} or "aws:sourceaccount" not in condition_keys(cond):
            out.append(f"CopyRole: trusted by {st.get('Principal')} without aws:SourceAccount")
    managed = [text_of(p) for p in as_list(props.get("ManagedPolicyArns") or [])]
    if managed != [BACKUP_POLICY]:
        out.append(f"CopyRole: managed policies {managed}, not only AWSBackupServiceRolePolicyForBackup")
    for doc in policy_docs(props):
        for st, _ in statements(doc):
            services = {a.split(":", 1)[0] for a in actions(st)}
            if st.get("Effect") == "Allow" and (services - COPY_ROLE_SERVICES or "dynamodb:DeleteTable" in actions(st)):
                out.append(f"CopyRole {st.get('Sid', '')}: restores beyond DynamoDB: {sorted(actions(st))}")


def problems(template):
    out = []
    transforms = [k for k in keys_anywhere(template) if k in ("Transform", "Fn::Transform")]
    if transforms:
        out.append(f"template uses {sorted(set(transforms))} (service-managed StackSets reject it)")
    resources = template.get("Resources") or {}
    roles = {}
    for name, res in resources.items():
        kind, props = res.get("Type"), res.get("Properties") or {}
        if kind == "AWS::IAM::Role":
            check_org_conditions(name, props.get("AssumeRolePolicyDocument"), out)
            check_grants(name, props, out)
            roles[json.dumps(props.get("RoleName"))] = props
        elif kind == "AWS::KMS::Key":
            check_org_conditions(name, props.get("KeyPolicy"), out, via_service=True)
        elif kind == "AWS::Backup::BackupVault":
            check_org_conditions(name, props.get("AccessPolicy"), out)
        elif kind == "AWS::Events::Rule":
            check_rule(name, props, resources, out)
    writer = roles.get(json.dumps({"Ref": "ExecutorRoleName"}))
    reader = roles.get(json.dumps({"Ref": "ReaderRoleName"}))
    findings_role = roles.get(json.dumps({"Ref": "FindingsRoleName"}))
    copy_role = roles.get(json.dumps({"Ref": "CopyRoleName"}))
    if writer is None or reader is None or copy_role is None or findings_role is None:
        out.append("no writer, reader, findings or copy role "
                   "(RoleName !Ref ExecutorRoleName, ReaderRoleName, FindingsRoleName, CopyRoleName)")
        return out
    check_role("writer role", writer, WRITER_ACTIONS, {"HubFunctionRoleNames"}, out)
    check_role("reader role", reader, READER_ACTIONS, {"HubReaderFunctionRoleNames", "OperatorRoleNames"}, out,
               read_only=True)
    check_doctor_reads(reader, out)
    check_role("findings role", findings_role, {"securityhub:BatchImportFindings"}, {"HubReaderFunctionRoleNames"}, out)
    check_own_product(findings_role, out)
    check_copy_role(copy_role, out)
    check_role_name_patterns(template, out)
    check_evaluated(template, out)
    return out


def find_statement(doc, sid):
    for st in each(doc["Statement"]):
        body = st["Fn::If"][1] if isinstance(st, dict) and "Fn::If" in st else st
        if isinstance(body, dict) and body.get("Sid") == sid:
            return body
    raise KeyError(sid)


def breakages(t):
    """(what, broken template): each must fail the checks."""
    def broken(change):
        b = copy.deepcopy(t)
        change(b["Resources"], b)
        return b

    def role_doc(res, role):
        return res[role]["Properties"]["Policies"][0]["PolicyDocument"]

    def vault_statement(res, sid):
        return find_statement(res["Vault"]["Properties"]["AccessPolicy"], sid)

    def key_statement(res, sid):
        return find_statement(res["VaultKey"]["Properties"]["KeyPolicy"], sid)

    def no_org(res, _):
        del find_statement(res["ExecutorRole"]["Properties"]["AssumeRolePolicyDocument"], "HubWritingFunctions")[
            "Condition"]["StringEquals"]

    def keep_deletes(res, _):
        vault_statement(res, "OnlyBreakGlassDeletes")["Action"].remove("backup:DeleteRecoveryPoint")

    def keep_vault_deletion(res, _):
        vault_statement(res, "OnlyBreakGlassDeletes")["Action"].remove("backup:DeleteBackupVault")

    def lock_changes_open(res, _):
        vault_statement(res, "OnlyBreakGlassAndDeployerChangePolicyAndLock")["Action"].remove(
            "backup:DeleteBackupVaultLockConfiguration")

    def member_break_glass(res, _):
        # The old way: a break-glass role found by name in the vault's own account.
        vault_statement(res, "OnlyBreakGlassDeletes")["Condition"]["Fn::If"][1]["ArnNotLike"]["aws:PrincipalArn"] = {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/break-glass"}

    def lifecycle_for_everyone_in_hub_names(res, _):
        # Hub function roles exempted in every account: a member admin could name a role so.
        st = vault_statement(res, "OnlyBreakGlassAndTheWriterChangeLifecycles")
        st["Condition"]["ArnNotLike"]["aws:PrincipalArn"]["Fn::Split"][1]["Fn::Join"][1][2]["Fn::If"][0] = "HasOrganization"

    def copy_in_whole_org(res, _):
        del vault_statement(res, "RouteAccountsCopyIn")["Condition"]["StringEquals"]["aws:PrincipalAccount"]

    def key_deletable(res, _):
        key_statement(res, "OnlyBreakGlassAndDeployerDestroy")["Action"].remove("kms:ScheduleKeyDeletion")

    def key_policy_by_anyone(res, _):
        key_statement(res, "OnlyBreakGlassAndDeployerDestroy")["Condition"]["ArnNotLike"]["aws:PrincipalArn"].append(
            {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"})

    def key_without_backup(res, _):
        del key_statement(res, "RouteAccountsUseThroughBackup")["Condition"]["StringEquals"]["kms:ViaService"]

    def key_whole_org(res, _):
        del key_statement(res, "RouteAccountsGrantThroughBackup")["Condition"]["StringEquals"]["aws:PrincipalAccount"]

    def break_glass_name_accepted(_, b):
        del b["Rules"]["BreakGlassRoleNameRetired"]

    def unlocked_by_default(_, b):
        b["Parameters"]["LockMinRetentionDays"]["Default"] = 0

    def wide_delete(res, _):
        find_statement(role_doc(res, "ExecutorRole"), "DeleteOnlyDrillTables")["Resource"] = {
            "Fn::Sub": "arn:${AWS::Partition}:dynamodb:*:${AWS::AccountId}:table/*"}

    def writer_extra_action(res, _):
        find_statement(role_doc(res, "ExecutorRole"), "ReadVaults")["Action"].append("backup:DeleteBackupVault")

    def writer_trusts_report(res, _):
        trust = res["ExecutorRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        reader_trust = res["ReaderRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
        trust.append(copy.deepcopy(reader_trust))

    def reader_writes(res, _):
        find_statement(role_doc(res, "ReaderRole"), "ReadRecoveryPoints")["Action"] = [
            "backup:DescribeRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"]

    def operators_on_writer(res, _):
        res["ExecutorRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"].append(
            copy.deepcopy(res["ReaderRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][1]))

    def operator_wildcard(_, b):
        b["Parameters"]["OperatorRoleNames"]["AllowedPattern"] = "^[\\w+=.@/*-]*$"

    def copy_role_managed_restores(res, _):
        res["CopyRole"]["Properties"]["ManagedPolicyArns"].append(
            {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores"})

    def copy_role_deletes_volumes(res, _):
        role_doc(res, "CopyRole")["Statement"].append(
            {"Sid": "Ebs", "Effect": "Allow", "Action": "ec2:DeleteVolume", "Resource": "*"})

    def copy_role_any_account(res, _):
        del res["CopyRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]

    def forward_role_any_rule(res, _):
        del res["ForwardEventsRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]

    def forward_role_unnamed(res, _):
        del res["ForwardEventsRole"]["Properties"]["RoleName"]

    def copy_role_unreadable(res, _):
        find_statement(role_doc(res, "ReaderRole"), "DoctorReadsCopyRole")["Resource"] = {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ExecutorRoleName}"}

    def keys_by_alias(res, _):
        find_statement(role_doc(res, "ReaderRole"), "DoctorReadsVaultKeys")["Resource"] = {
            "Fn::Sub": "arn:${AWS::Partition}:kms:*:${AWS::AccountId}:alias/backup-relay/*"}

    def list_rules_on_rules(res, _):
        find_statement(role_doc(res, "ReaderRole"), "Listings")["Action"].remove("events:ListRules")
        find_statement(role_doc(res, "ReaderRole"), "DoctorReadsRuleTargets")["Action"] = [
            "events:ListTargetsByRule", "events:ListRules"]

    def vault_reads_conditioned(res, _):
        find_statement(role_doc(res, "ReaderRole"), "ReadVaults")["Condition"] = {
            "StringEquals": {"aws:ResourceTag/backup-relay": "true"}}

    def organization_denied(res, _):
        role_doc(res, "ReaderRole")["Statement"].append(
            {"Effect": "Deny", "Action": "organizations:DescribeOrganization", "Resource": "*"})

    return [
        ("a Transform", broken(lambda _, b: b.__setitem__("Transform", "AWS::Serverless-2016-10-31"))),
        ("writer trust without aws:PrincipalOrgID", broken(no_org)),
        ("vault policy allowing DeleteRecoveryPoint", broken(keep_deletes)),
        ("vault policy allowing DeleteBackupVault", broken(keep_vault_deletion)),
        ("vault policy allowing lock removal", broken(lock_changes_open)),
        ("a break-glass role of the member account itself", broken(member_break_glass)),
        ("hub function role names exempted in member accounts", broken(lifecycle_for_everyone_in_hub_names)),
        ("copies in from the whole organisation despite RouteAccountIds", broken(copy_in_whole_org)),
        ("key deletion not denied", broken(key_deletable)),
        ("key policy replaceable by any role of the account", broken(key_policy_by_anyone)),
        ("key use not through Backup", broken(key_without_backup)),
        ("key grants to the whole organisation despite RouteAccountIds", broken(key_whole_org)),
        ("BreakGlassRoleName accepted again", broken(break_glass_name_accepted)),
        ("no vault lock by default", broken(unlocked_by_default)),
        ("DeleteTable on every table", broken(wide_delete)),
        ("a writer action the writing functions do not call", broken(writer_extra_action)),
        ("the writer trusted by the compliance report", broken(writer_trusts_report)),
        ("the writer trusted by the operators", broken(operators_on_writer)),
        ("the reader allowed to change lifecycles", broken(reader_writes)),
        ("'*' accepted in OperatorRoleNames", broken(operator_wildcard)),
        ("the copy role with AWS's managed restore policy", broken(copy_role_managed_restores)),
        ("the copy role deleting EBS volumes", broken(copy_role_deletes_volumes)),
        ("the copy role assumable by Backup for any account", broken(copy_role_any_account)),
        ("the forwarding role usable by any rule", broken(forward_role_any_rule)),
        ("the forwarding role unnamed (the hub bus cannot admit it)", broken(forward_role_unnamed)),
        ("doctor: GetRole on another role than the copy role", broken(copy_role_unreadable)),
        ("doctor: kms reads on alias ARNs (the doctor names the key)", broken(keys_by_alias)),
        ("doctor: events:ListRules on rule ARNs (it takes only *)", broken(list_rules_on_rules)),
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
