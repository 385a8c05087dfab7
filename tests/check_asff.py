"""Checks a findings.asff.json against botocore's model of Security Hub's BatchImportFindings
(the request a client no one here wrote would send, 100 findings a call), and the ASFF rules the
model does not carry (Security Hub's own checks at import). Prints each problem; exits 1 if any.

Usage: python check_asff.py FINDINGS_JSON
"""

import json
import re
import sys
from datetime import datetime

import botocore.session
from botocore.validate import ParamValidator

SEVERITIES = {"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}
TYPE = re.compile(r"^[^/]+(/[^/]+){0,2}$")
PRODUCT = re.compile(r"^arn:aws[a-z-]*:securityhub:([a-z0-9-]+):(\d{12}):product/(\d{12})/default$")


def asff_problems(f):
    out = []
    if f.get("SchemaVersion") != "2018-10-08":
        out.append("SchemaVersion is not 2018-10-08")
    if len(f.get("Id", "")) > 512:
        out.append("Id over 512 characters")
    m = PRODUCT.match(f.get("ProductArn", ""))
    if not m or m.group(2) != f.get("AwsAccountId") or m.group(3) != f.get("AwsAccountId"):
        out.append("ProductArn is not the default product of the finding's own account")
    elif m.group(1) != f.get("Region"):
        out.append("ProductArn's Region is not the finding's")
    for t in f.get("Types", []):
        if not TYPE.match(t):
            out.append(f"Type {t!r} is not namespace/category/classifier")
    for k in ("CreatedAt", "UpdatedAt"):
        try:
            datetime.fromisoformat(f[k].replace("Z", "+00:00"))
        except (KeyError, ValueError):
            out.append(f"{k} is not an ISO 8601 time")
    if f.get("Severity", {}).get("Label") not in SEVERITIES:
        out.append("Severity.Label is not one of " + ", ".join(sorted(SEVERITIES)))
    provider = f.get("FindingProviderFields", {})
    if provider.get("Severity") != f.get("Severity") or provider.get("Types") != f.get("Types"):
        out.append("FindingProviderFields' severity and types are not the finding's")
    if len(f.get("Title", "")) > 256 or len(f.get("Description", "")) > 1024:
        out.append("Title over 256 or Description over 1024 characters")
    if f.get("Compliance", {}).get("Status") not in {"PASSED", "FAILED", "WARNING", "NOT_AVAILABLE"}:
        out.append("Compliance.Status is not a status")
    if f.get("Workflow", {}).get("Status") not in {"NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"}:
        out.append("Workflow.Status is not a status")
    if f.get("RecordState") not in {"ACTIVE", "ARCHIVED"}:
        out.append("RecordState is not ACTIVE or ARCHIVED")
    if len(json.dumps(f).encode()) > 240 * 1024:
        out.append("over 240 KB")
    return out


def main(path):
    findings = json.load(open(path))
    model = botocore.session.get_session().get_service_model("securityhub")
    shape = model.operation_model("BatchImportFindings").input_shape
    validator = ParamValidator()
    problems = []
    for start in range(0, len(findings), 100):
        report = validator.validate({"Findings": findings[start:start + 100]}, shape)
        if report.has_errors():
            problems.append(report.generate_report())
    for f in findings:
        problems.extend(f"{f.get('Id')}: {p}" for p in asff_problems(f))
    ids = [f.get("Id") for f in findings]
    if len(set(ids)) != len(ids):
        problems.append("two findings share an Id")
    for p in problems:
        print(p)
    print(f"{len(findings)} findings, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
