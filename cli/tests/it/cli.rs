//! The `relay` command's contract: exit codes, JSON on stdout, messages on stderr.

use std::process::{Command, Output};

const RELAY: &str = env!("CARGO_BIN_EXE_relay");
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn relay(args: &[&str]) -> Output {
    Command::new(RELAY)
        .args(args)
        .current_dir(ROOT)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn temp_file(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("relay-cli-test-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().to_string()
}

#[test]
fn validate_prints_one_line_per_route() {
    let o = relay(&["validate", "infra/examples/policy.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with(
            "primary->central: 111111111111/us-east-1 -> 222222222222/us-east-1 (cross-account)"
        ),
        "{out}"
    );
    assert!(lines[1].contains("(cross-Region)"));
    assert!(lines[2].contains("never expire (36500 days)"));
}

#[test]
fn validate_reports_every_error_with_exit_2() {
    let bad = std::fs::read_to_string(format!("{ROOT}/infra/examples/policy.yaml"))
        .unwrap()
        .replace("version: 1", "version: 9")
        .replace("delete_after_days: 365", "delete_after_days: 100");
    let path = temp_file("bad.yaml", &bad);
    let o = relay(&["validate", &path]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
    let err = stderr(&o);
    assert!(err.contains("policy: version: unknown version 9"), "{err}");
    assert!(err.contains("vault 'dr': retention.delete_after_days: 100 is less than move_to_cold_storage_after_days (30) + 90"), "{err}");
}

#[test]
fn plan_prints_the_contract_json() {
    let o = relay(&[
        "plan",
        "--policy",
        "infra/examples/policy.yaml",
        "--event",
        "tests/events/backup-job-completed.json",
        "--resource-tag",
        "backup-tier=gold",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(plan["event"]["detail_type"], "Backup Job State Change");
    assert_eq!(plan["event"]["state"], "COMPLETED");
    assert_eq!(plan["ignored"], serde_json::Value::Null);
    let a = &plan["actions"][0];
    assert_eq!(a["type"], "start_copy_job");
    assert_eq!(a["route"], "primary->central");
    for field in [
        "account",
        "region",
        "recovery_point_arn",
        "source_backup_vault_name",
        "destination_backup_vault_arn",
        "iam_role_arn",
        "idempotency_token",
    ] {
        assert!(a[field].is_string(), "{field} missing in {a}");
    }
    assert_eq!(
        a["lifecycle"],
        serde_json::json!({"delete_after_days": 35, "move_to_cold_storage_after_days": null})
    );
}

#[test]
fn plan_with_no_action_says_why() {
    let o = relay(&[
        "plan",
        "--policy",
        "infra/examples/policy.yaml",
        "--event",
        "tests/events/backup-job-completed.json",
    ]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(plan["actions"], serde_json::json!([]));
    assert!(plan["ignored"]
        .as_str()
        .unwrap()
        .contains("selects this resource"));
}

#[test]
fn plan_shows_a_lock_clamp() {
    let o = relay(&[
        "plan",
        "--policy",
        "infra/examples/policy.yaml",
        "--event",
        "tests/events/copy-job-completed-central-to-dr.json",
        "--vault-lock",
        "bunker=1:3650",
    ]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(plan["actions"][1]["type"], "tag_recovery_point");
    assert_eq!(plan["actions"][0]["lifecycle"]["delete_after_days"], 3650);
    assert!(plan["actions"][0]["lock_adjustment"]
        .as_str()
        .unwrap()
        .contains("clamped"));
}

#[test]
fn plan_with_an_unreadable_event_or_policy_exits_2_with_nothing_on_stdout() {
    let not_json = temp_file("not.json", "{ nope");
    for args in [
        vec![
            "plan",
            "--policy",
            "infra/examples/policy.yaml",
            "--event",
            not_json.as_str(),
        ],
        vec![
            "plan",
            "--policy",
            "infra/examples/policy.yaml",
            "--event",
            "tests/events/malformed-missing-detail.json",
        ],
        vec![
            "plan",
            "--policy",
            "no/such/policy.yaml",
            "--event",
            "tests/events/backup-job-completed.json",
        ],
        vec![
            "plan",
            "--policy",
            "tests/events/backup-job-completed.json",
            "--event",
            "tests/events/backup-job-completed.json",
        ],
    ] {
        let o = relay(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stdout(&o).is_empty(), "{args:?}: {}", stdout(&o));
        assert!(
            stderr(&o).starts_with("relay: "),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn simulate_json_has_the_contract_fields() {
    let o = relay(&["simulate", "--days", "2", "--tables", "3", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    for field in [
        "chains_total",
        "chains_complete",
        "copy_jobs_started",
        "duplicate_copy_jobs",
        "events_delivered",
        "events_duplicated",
        "events_lost",
        "never_expire_violations",
        "events_lost_repaired",
        "copy_failures",
        "retries",
        "alerts",
        "lifecycles_repaired",
    ] {
        assert!(s[field].is_u64(), "{field} missing: {s}");
    }
    assert_eq!(s["chains_total"], s["chains_complete"]);
}

#[test]
fn simulate_rejects_bad_faults() {
    let o = relay(&["simulate", "--faults", "lose=2"]);
    assert_eq!(o.status.code(), Some(2));
    let o = relay(&["simulate", "--faults", "gremlins=0.1"]);
    assert!(stderr(&o).contains("unknown fault 'gremlins'"));
}

#[test]
fn plan_shows_the_guards_lifecycle_repair_for_a_recovery_point_event() {
    let o = relay(&[
        "plan",
        "--policy",
        "infra/examples/policy.yaml",
        "--event",
        "tests/events/recovery-point-completed.json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let a = &plan["actions"][0];
    assert_eq!(a["type"], "update_recovery_point_lifecycle");
    assert_eq!(
        (a["account"].as_str(), a["region"].as_str()),
        (Some("333333333333"), Some("eu-west-1"))
    );
    assert_eq!(a["backup_vault_name"], "bunker");
    assert!(a["recovery_point_arn"]
        .as_str()
        .unwrap()
        .contains(":recovery-point:"));
    assert_eq!(
        a["lifecycle"],
        serde_json::json!({"delete_after_days": 36500, "move_to_cold_storage_after_days": null})
    );
    // A lock makes it a violation to record instead.
    let o = relay(&[
        "plan",
        "--policy",
        "infra/examples/policy.yaml",
        "--event",
        "tests/events/recovery-point-completed.json",
        "--vault-lock",
        "bunker=1:3650",
    ]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(plan["actions"][0]["type"], "record_retention_violation");
}

#[test]
fn simulate_with_plan_copy_actions_repairs_every_inherited_expiry() {
    let o = relay(&[
        "simulate",
        "--days",
        "2",
        "--tables",
        "3",
        "--plan-copy-actions",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(s["plan_copy_jobs"], 6);
    assert_eq!(s["lifecycles_repaired"], 6);
    assert_eq!(s["never_expire_violations"], 0);
    assert_eq!(s["chains_total"], s["chains_complete"]);
}

// ---------------------------------------------------------------------------------------------
// Bad input is exit 2 with a message, never a panic (issue 6).

/// Exit 2, nothing on stdout, one `relay: ` message on stderr containing `needle`, no panic.
fn assert_refused(args: &[&str], needle: &str) {
    let o = relay(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(stdout(&o).is_empty(), "{args:?}: {}", stdout(&o));
    assert!(err.starts_with("relay: "), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in {err}"
    );
    assert!(!err.contains("panicked"), "{args:?}: {err}");
}

fn plan_args<'a>(event: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "plan",
        "--policy",
        "infra/examples/policy.yaml",
        "--event",
        event,
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn an_event_over_256_kb_is_refused() {
    let event =
        std::fs::read_to_string(format!("{ROOT}/tests/events/backup-job-completed.json")).unwrap();
    // Valid JSON, padded with whitespace past EventBridge's limit.
    let big = temp_file("big-event.json", &format!("{event}{}", " ".repeat(262_144)));
    assert_refused(&plan_args(&big, &[]), "the event is 263");
    assert_refused(&plan_args(&big, &[]), "over the 262144-byte (256 KB) limit");
    // A device has no size to check up front: it is cut off while reading.
    assert_refused(
        &plan_args("/dev/zero", &[]),
        "over the 262144-byte (256 KB) limit",
    );
}

#[test]
fn a_policy_over_1_mb_is_refused() {
    let policy = std::fs::read_to_string(format!("{ROOT}/infra/examples/policy.yaml")).unwrap();
    let big = temp_file(
        "big-policy.yaml",
        &format!("{policy}\n# {}\n", "x".repeat(1_048_576)),
    );
    assert_refused(&["validate", &big], "over the 1048576-byte (1 MB) limit");
    assert_refused(
        &["simulate", "--policy", &big],
        "over the 1048576-byte (1 MB) limit",
    );
    assert_refused(
        &["validate", "/dev/zero"],
        "over the 1048576-byte (1 MB) limit",
    );
}

#[test]
fn far_future_numeric_creation_dates_do_not_panic() {
    // 8210000000000 s is in year 262,134: in chrono's range, but 100 years later is not.
    for date in ["1e300", "-1e300", "9223372036854775807", "8210000000000"] {
        for fixture in [
            "backup-job-completed.json",
            "copy-job-completed-dr-to-bunker.json",
            "recovery-point-completed.json",
        ] {
            let text = std::fs::read_to_string(format!("{ROOT}/tests/events/{fixture}")).unwrap();
            let odd = text.replace("\"2026-11-20T05:00:09.461Z\"", date);
            assert_ne!(odd, text, "{fixture} has no creationDate to replace");
            let path = temp_file(&format!("future-{date}-{fixture}"), &odd);
            let o = relay(&plan_args(&path, &["--resource-tag", "backup-tier=gold"]));
            assert_eq!(o.status.code(), Some(0), "{date} {fixture}: {}", stderr(&o));
            let plan: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
            assert!(plan["actions"].is_array(), "{plan}");
        }
    }
}

#[test]
fn faults_out_of_range_are_refused() {
    for (faults, needle) in [
        (
            "reorder=99999999999999999",
            "reorder is whole minutes within 0..=1440",
        ),
        ("reorder=1441", "reorder is whole minutes within 0..=1440"),
        ("reorder=-1", "reorder is whole minutes within 0..=1440"),
        ("reorder=4.5", "reorder is whole minutes within 0..=1440"),
        ("lose=-0.1", "a probability must be within 0..=1"),
        ("duplicate=1.5", "a probability must be within 0..=1"),
        ("fail=NaN", "a probability must be within 0..=1"),
        ("throttle=inf", "a probability must be within 0..=1"),
        ("lose=much", "much is not a number"),
        ("lose=0.1,lose=0.2", "'lose' given twice"),
        ("lose", "expected NAME=VALUE"),
    ] {
        assert_refused(&["simulate", "--faults", faults], needle);
    }
    // The edges are fine.
    let o = relay(&[
        "simulate",
        "--days",
        "1",
        "--tables",
        "1",
        "--json",
        "--faults",
        "lose=0,duplicate=1,reorder=1440,fail=0,throttle=0",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn days_and_tables_out_of_range_are_refused() {
    for args in [
        ["simulate", "--days", "0"],
        ["simulate", "--days", "3651"],
        ["simulate", "--days", "99999999999"],
        ["simulate", "--tables", "0"],
        ["simulate", "--tables", "10001"],
    ] {
        let o = relay(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stdout(&o).is_empty(), "{args:?}");
        assert!(
            stderr(&o).contains("is not in 1..="),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn bad_vault_locks_are_refused() {
    let event = "tests/events/copy-job-completed-central-to-dr.json";
    for (lock, needle) in [
        (
            "bunker=0:3650",
            "'0' is not a whole number of days within 1..=36500",
        ),
        (
            "bunker=1:36501",
            "'36501' is not a whole number of days within 1..=36500",
        ),
        ("bunker=3650:1", "MIN 3650 is greater than MAX 1"),
        ("bunker=-1:5", "'-1' is not a whole number of days"),
        (
            "bunker=1:99999999999",
            "'99999999999' is not a whole number of days",
        ),
        ("bunker=a:b", "'a' is not a whole number of days"),
        ("bunker", "no '='"),
        ("bunker=10", "no ':' between MIN and MAX"),
        ("=1:10", "no vault alias"),
        ("nowhere=1:10", "no vault 'nowhere' in the policy"),
    ] {
        assert_refused(&plan_args(event, &["--vault-lock", lock]), needle);
    }
    // One side may be left open; the edges of the range are fine.
    for lock in ["bunker=:3650", "bunker=1:", "bunker=1:36500", "bunker=7:7"] {
        let o = relay(&plan_args(event, &["--vault-lock", lock]));
        assert_eq!(o.status.code(), Some(0), "{lock}: {}", stderr(&o));
    }
}

#[test]
fn a_full_disk_is_an_error_not_a_panic() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = Command::new(RELAY)
        .args(["validate", "infra/examples/policy.yaml"])
        .current_dir(ROOT)
        .stdout(full)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.starts_with("relay: cannot write the output: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
#[allow(unsafe_code)] // pipe(2), to have a pipe with no reader
fn a_closed_pipe_is_an_error_not_a_panic() {
    use std::os::fd::{FromRawFd, OwnedFd};
    // A pipe whose reading end is closed before relay starts: its first write fails, always.
    // (libc's pipe: std::io::pipe is past the workspace's rust-version.)
    let mut fds = [0; 2];
    // Close-on-exec: a child another test spawns meanwhile must not inherit the reading end and
    // keep the pipe open (then the write succeeds and the test flakes).
    // SAFETY: pipe2(2) fills both descriptors on success; each is owned exactly once below.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    let o = Command::new(RELAY)
        .args(["validate", "infra/examples/policy.yaml"])
        .current_dir(ROOT)
        .stdout(std::process::Stdio::from(writer))
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("relay: cannot write the output: Broken pipe"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn lifecycle_days_past_the_api_maximum_do_not_panic() {
    // u32::MAX cold days on a point in the never_expire vault once overflowed `cold + 90` in the
    // guard; such days are now read as absent.
    let text =
        std::fs::read_to_string(format!("{ROOT}/tests/events/recovery-point-completed.json"))
            .unwrap();
    let mut event: serde_json::Value = serde_json::from_str(&text).unwrap();
    event["detail"]["lifecycle"] =
        serde_json::json!({"deleteAfterDays": 35, "moveToColdStorageAfterDays": 4294967295_u64});
    let path = temp_file("huge-cold.json", &event.to_string());
    let o = relay(&plan_args(&path, &[]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        plan["actions"][0]["type"],
        "update_recovery_point_lifecycle"
    );
}

#[test]
fn simulate_runs_a_world_file_and_refuses_a_bad_one_with_every_error() {
    let good = temp_file(
        "world-good.yaml",
        "tables:\n  - { name: orders, account: \"111111111111\", region: us-east-1, tags: { backup-tier: gold } }\nfaults: { lose: 0 }\n",
    );
    let o = relay(&["simulate", "--world", &good, "--days", "1", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(summary["table_count"], 1);
    assert_eq!(summary["chains_total"], 1);

    let bad = temp_file(
        "world-bad.yaml",
        "tables:\n  - { name: x, account: \"1\", region: us-east-1 }\nvaults:\n  nowhere: {}\n",
    );
    let o = relay(&["simulate", "--world", &bad]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
    let err = stderr(&o);
    for needle in [
        "invalid world file (3 errors)",
        "table 1: name:",
        "table 1: account:",
        "vault 'nowhere'",
    ] {
        assert!(err.contains(needle), "{needle:?} in {err}");
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("relay-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn report_writes_four_files_and_prints_a_summary() {
    let dir = temp_dir("report");
    let out = dir.to_string_lossy().to_string();
    let o = relay(&[
        "report",
        "--world",
        "infra/examples/world.yaml",
        "--days",
        "3",
        "--out",
        &out,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("Compliance: 4 of 6 tables compliant, 2 non-compliant."),
        "{text}"
    );
    assert!(
        text.contains("RELAY_PITR_ENABLED: point-in-time recovery is off"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["schema"], "backup-relay/report/v1");
    assert_eq!(json["summary"]["non_compliant"], 2);
    let csv = std::fs::read_to_string(dir.join("report.csv")).unwrap();
    assert!(csv.starts_with("Account Id,Region,Resource ARN,Resource Name,Control Name,Compliance Status,Reason,Evidence,Last Evaluation Time\n"));
    assert!(dir.join("report.html").exists());
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    findings_agree_with_the_report_and_botocore_accepts_them(&dir, &json);
}

/// One finding per table and applicable control, its status the report's; botocore's model of
/// BatchImportFindings (a client no one here wrote) and ASFF's rules accept every one, and
/// refuse a finding spoiled on purpose (the check can fail).
fn findings_agree_with_the_report_and_botocore_accepts_them(
    dir: &std::path::Path,
    report: &serde_json::Value,
) {
    let path = dir.join("findings.asff.json");
    let findings: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut expected = Vec::new();
    for table in report["resources"].as_array().unwrap() {
        for c in table["controls"].as_array().unwrap() {
            let status = match c["status"].as_str().unwrap() {
                "COMPLIANT" => "PASSED",
                "NON_COMPLIANT" => "FAILED",
                _ => continue,
            };
            let id = format!(
                "backup-relay/{}/{}",
                c["id"].as_str().unwrap(),
                table["resource_arn"].as_str().unwrap()
            );
            expected.push((
                id,
                status.to_string(),
                table["account"].as_str().unwrap().to_string(),
            ));
        }
    }
    let got: Vec<(String, String, String)> = findings
        .iter()
        .map(|f| {
            (
                f["Id"].as_str().unwrap().to_string(),
                f["Compliance"]["Status"].as_str().unwrap().to_string(),
                f["AwsAccountId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    let python = std::env::var("MOTO_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/check_asff.py");
    let check = |file: &std::path::Path| {
        Command::new(&python)
            .args([script, &file.to_string_lossy()])
            .output()
            .unwrap()
    };
    let o = check(&path);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let mut spoiled = findings.clone();
    spoiled[0].as_object_mut().unwrap().remove("Resources");
    spoiled[1]["AwsAccountId"] = "999999999999".into();
    let bad = dir.join("spoiled.json");
    std::fs::write(&bad, serde_json::to_string(&spoiled).unwrap()).unwrap();
    let o = check(&bad);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let text = stdout(&o);
    assert!(text.contains("Resources"), "{text}");
    assert!(
        text.contains("ProductArn is not the default product"),
        "{text}"
    );
}

#[test]
fn report_in_pieces_is_the_same_report_and_says_how_the_run_went() {
    let whole = temp_dir("report-whole");
    let pieces = temp_dir("report-pieces");
    for (dir, extra) in [(&whole, None), (&pieces, Some("4"))] {
        let out = dir.to_string_lossy().to_string();
        let mut args = vec![
            "report",
            "--world",
            "infra/examples/world.yaml",
            "--days",
            "2",
        ];
        args.extend(["--out", &out]);
        if let Some(n) = extra {
            args.extend(["--pieces", n]);
        }
        let o = relay(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let read = |dir: &std::path::Path, name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    assert_eq!(read(&whole, "report.json"), read(&pieces, "report.json"));
    assert_eq!(read(&whole, "report.csv"), read(&pieces, "report.csv"));
    let run: serde_json::Value = serde_json::from_str(&read(&pieces, "run.json")).unwrap();
    assert!(run["report"]["pieces"].as_u64().unwrap() > 1, "{run}");
    assert_eq!(run["report"]["invocations_over_deadline"], 0);
    assert_eq!(
        run["report"]["list_pages"],
        run["report"]["list_pages_floor"]
    );
    assert!(run["simulation"]["chains_total"].as_u64().unwrap() > 0);
    // The heap each kind of invocation held, counted by the CLI's allocator (absent where no
    // allocator counts), and none past the function's memory.
    let heap = |what: &str| run["report"][what].as_u64().unwrap_or(0);
    for what in [
        "inventory_heap_bytes",
        "evaluation_heap_bytes",
        "merge_heap_bytes",
    ] {
        assert!(heap(what) > 0, "{what}: {run}");
    }
    assert_eq!(run["report"]["invocations_over_memory"], 0);
    let o = relay(&["report", "--pieces", "0", "--out", "x"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn report_fails_the_pipeline_only_when_asked_and_only_when_non_compliant() {
    let bad = temp_dir("report-bad").to_string_lossy().to_string();
    let o = relay(&[
        "report",
        "--world",
        "infra/examples/world.yaml",
        "--days",
        "2",
        "--out",
        &bad,
        "--fail-on-noncompliant",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("2 tables are non-compliant"),
        "{}",
        stderr(&o)
    );
    let good = temp_dir("report-good").to_string_lossy().to_string();
    let o = relay(&[
        "report",
        "--world",
        "tests/worlds/compliant.yaml",
        "--days",
        "2",
        "--out",
        &good,
        "--fail-on-noncompliant",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn report_refuses_bad_input_with_exit_2_and_an_unwritable_directory_with_exit_1() {
    let out = temp_dir("report-refused").to_string_lossy().to_string();
    let world = temp_file("bad-world.yaml", "tables:\n  - { name: x }\n");
    let o = relay(&["report", "--world", &world, "--out", &out]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
    assert!(stderr(&o).contains("account: required"), "{}", stderr(&o));
    let o = relay(&["report", "--days", "1", "--out", "/dev/null/reports"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).is_empty());
    assert!(
        stderr(&o).contains("cannot write /dev/null/reports"),
        "{}",
        stderr(&o)
    );
}

const ORDERS: &str = "arn:aws:dynamodb:us-east-1:111111111111:table/orders";

#[test]
fn restore_dry_run_prints_the_plan_and_its_json_contract() {
    let args = [
        "restore",
        "--world",
        "infra/examples/world.yaml",
        "--days",
        "2",
        "--table",
        ORDERS,
        "--target-table",
        "orders-restored",
        "--from",
        "bunker",
        "--dry-run",
    ];
    let o = relay(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("1. copy it back (StartCopyJob in 333333333333/eu-west-1) into arn:aws:backup:us-east-1:111111111111:backup-vault:primary"), "{text}");
    assert!(text.contains("2. restore it (StartRestoreJob in 111111111111/us-east-1) into the new table 'orders-restored'"), "{text}");
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let o = relay(&json_args);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["recovery_point"]["vault"]
        .as_str()
        .unwrap()
        .ends_with(":bunker"));
    assert_eq!(v["steps"][0]["type"], "start_copy_job");
    assert_eq!(v["steps"][0]["account"], "333333333333");
    assert_eq!(v["steps"][1]["type"], "start_restore_job");
    assert_eq!(
        v["steps"][1]["metadata"]["targetTableName"],
        "orders-restored"
    );
    assert!(v.get("result").is_none(), "no result on a dry run");
}

#[test]
fn restore_refuses_an_existing_name_and_bad_input() {
    let base = [
        "restore",
        "--world",
        "infra/examples/world.yaml",
        "--days",
        "1",
        "--table",
        ORDERS,
    ];
    let with =
        |extra: &[&'static str]| -> Vec<&str> { base.iter().chain(extra).copied().collect() };
    let o = relay(&with(&["--target-table", "payments", "--dry-run"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("a table named 'payments' already exists in 111111111111/us-east-1"),
        "{}",
        stderr(&o)
    );
    for (extra, needle) in [
        (
            &["--target-table", "x", "--dry-run"][..],
            "not a DynamoDB table name",
        ),
        (
            &["--target-table", "ok-name", "--from", "attic", "--dry-run"][..],
            "the policy has no vault 'attic'",
        ),
        (
            &[
                "--target-table",
                "ok-name",
                "--at",
                "yesterday",
                "--dry-run",
            ][..],
            "not an RFC 3339 time",
        ),
        (
            &[
                "--target-table",
                "ok-name",
                "--to-region",
                "moon-1",
                "--dry-run",
            ][..],
            "not a Region name",
        ),
        (
            &[
                "--target-table",
                "ok-name",
                "--kms-key",
                "notakey",
                "--dry-run",
            ][..],
            "not a KMS key ARN",
        ),
        (
            &[
                "--target-table",
                "ok-name",
                "--kms-key",
                "arn:aws:kms:eu-west-1:111111111111:key/k",
                "--dry-run",
            ][..],
            "DynamoDB needs a key of that Region",
        ),
    ] {
        let o = relay(&with(extra));
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty());
        assert!(stderr(&o).contains(needle), "{extra:?}: {}", stderr(&o));
    }
}

#[test]
fn restore_follows_the_copy_back_and_the_restore_to_the_end() {
    let o = relay(&[
        "restore",
        "--world",
        "infra/examples/world.yaml",
        "--days",
        "2",
        "--table",
        ORDERS,
        "--target-table",
        "orders-restored",
        "--from",
        "bunker",
        "--json",
        "--reapply",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["result"]["status"], "COMPLETED");
    assert_eq!(
        v["result"]["restored_table_arn"],
        "arn:aws:dynamodb:us-east-1:111111111111:table/orders-restored"
    );
    assert!(v["result"]["restore_minutes"].as_i64().unwrap() > 0);
    assert_eq!(
        v["reapplied"]["pitr"], true,
        "the source has PITR on: put back"
    );
}

#[test]
fn doctor_on_a_clean_world_passes_and_on_a_broken_one_exits_1_with_the_contracts_json() {
    let o = relay(&[
        "doctor",
        "--policy",
        "infra/examples/policy.yaml",
        "--world",
        "tests/worlds/compliant.yaml",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.lines()
            .last()
            .unwrap()
            .ends_with("passed, 0 warnings, 0 failed"),
        "{out}"
    );

    let broken = temp_file(
        "broken-world.yaml",
        "accounts: { \"222222222222\": { copy_role: false } }\n\
         regions: [ { account: \"222222222222\", region: us-west-2, event_forwarding: false } ]\n\
         vaults: { bunker: { access_policy_allows_copy_from: [] } }\n",
    );
    let o = relay(&[
        "doctor",
        "--policy",
        "infra/examples/policy.yaml",
        "--world",
        &broken,
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("3 check(s) failed"), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["summary"]["fail"], 3, "{v}");
    let failed: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed,
        ["copy_role", "vault_access_policy", "event_forwarding"]
    );
    for c in v["checks"].as_array().unwrap() {
        for key in [
            "id", "status", "account", "region", "subject", "message", "fix",
        ] {
            assert!(c.get(key).is_some(), "{key} missing in {c}");
        }
    }
}

#[test]
fn doctor_refuses_live_and_world_together() {
    let o = relay(&["doctor", "--world", "tests/worlds/compliant.yaml", "--live"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
}

#[test]
fn a_stdout_closed_before_the_start_is_an_error_not_a_silent_success() {
    let script = format!("exec {RELAY} validate infra/examples/policy.yaml >&-");
    let o = Command::new("bash")
        .args(["-c", &script])
        .current_dir(ROOT)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("stdout is closed"), "{err}");
}

#[test]
fn a_world_file_lists_every_error_even_past_64_bit_integers_and_names_itself() {
    let bad = temp_file(
        "world-many.yaml",
        "tables:\n  - { name: orders, account: \"111111111111\", region: us-east-1, size_gb: 99999999999999999999999 }\n  - { name: x, account: \"1\", region: us-east-1 }\nfaults: { lose: 2 }\n",
    );
    let o = relay(&["simulate", "--world", &bad]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    for needle in [
        "invalid world file (4 errors)",
        "size_gb: 1e23 is outside",
        "table 2: account:",
        "faults: lose: 2",
    ] {
        assert!(err.contains(needle), "{needle:?} in {err}");
    }
    let broken = temp_file("world-yaml.yaml", "tables: [\n");
    let err = stderr(&relay(&["simulate", "--world", &broken]));
    assert!(
        err.contains("world file: (document): not valid YAML"),
        "{err}"
    );
    assert!(!err.contains("policy"), "{err}");
}

#[test]
fn five_hundred_errors_are_counted_and_the_first_fifty_listed() {
    let tables: String = (0..500)
        .map(|i| format!("  - {{ name: t{i:03}, account: \"1\", region: us-east-1 }}\n"))
        .collect();
    let bad = temp_file("world-500.yaml", &format!("tables:\n{tables}"));
    let err = stderr(&relay(&["simulate", "--world", &bad]));
    assert!(err.contains("invalid world file (500 errors)"), "{err}");
    assert!(err.contains("... and 450 more"), "{err}");
    assert!(err.lines().count() < 60, "{} lines", err.lines().count());
}

#[test]
fn faults_merge_name_by_name_from_the_defaults_the_world_file_and_the_command_line() {
    let world = temp_file(
        "world-faults.yaml",
        "tables:\n  - { name: orders, account: \"111111111111\", region: us-east-1, tags: { backup-tier: gold } }\nfaults: { lose: 1 }\n",
    );
    let run = |extra: &[&str]| {
        let mut args = vec!["simulate", "--world", &world, "--days", "1", "--json"];
        args.extend_from_slice(extra);
        let o = relay(&args);
        serde_json::from_str::<serde_json::Value>(&stdout(&o)).unwrap()
    };
    // The world names `lose`: every event is lost, and the other faults keep their defaults.
    let s = run(&[]);
    assert_eq!(s["events_lost"], s["events_emitted"], "{s}");
    assert!(s["calls_throttled"].as_u64().unwrap() > 0 || s["copy_failures"].as_u64().is_some());
    // `--faults` names another fault: the world's `lose` stands beside it.
    let s = run(&["--faults", "duplicate=0"]);
    assert_eq!(s["events_lost"], s["events_emitted"], "{s}");
    assert_eq!(s["events_duplicated"], 0, "{s}");
    // `--faults` names `lose`: it wins over the world's.
    let s = run(&["--faults", "lose=0"]);
    assert_eq!(s["events_lost"], 0, "{s}");
}

#[test]
fn restore_refuses_another_partition_and_a_future_time_with_exit_2() {
    let table = "arn:aws-cn:dynamodb:cn-north-1:111111111111:table/orders";
    let o = relay(&[
        "restore",
        "--days",
        "1",
        "--table",
        table,
        "--target-table",
        "x",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("partition aws-cn"), "{}", stderr(&o));
    let table = "arn:aws:dynamodb:us-east-1:111111111111:table/primary-table-000";
    let o = relay(&[
        "restore",
        "--days",
        "1",
        "--table",
        table,
        "--target-table",
        "x",
        "--at",
        "2099-01-01T00:00:00Z",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("in the future"), "{}", stderr(&o));
}

#[test]
fn restore_from_a_vault_whose_copies_went_cold_says_they_cannot_be_copied_back() {
    let table = "arn:aws:dynamodb:us-east-1:111111111111:table/primary-table-000";
    let o = relay(&[
        "restore",
        "--days",
        "45",
        "--tables",
        "1",
        "--from",
        "dr",
        "--at",
        "2027-01-02T06:00:00Z",
        "--table",
        table,
        "--target-table",
        "restored",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("in the cold tier"), "{err}");
}

#[test]
fn emulate_refuses_a_delivery_url_that_is_not_one() {
    let o = relay(&["emulate", "--router-url", "notaurl"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is not a URL"), "{}", stderr(&o));
}

#[test]
fn a_report_that_could_read_no_account_fails_instead_of_saying_0_of_0() {
    let world = temp_file(
        "world-unreachable.yaml",
        "accounts:\n  \"111111111111\": { executor_role: false }\n  \"222222222222\": { executor_role: false }\n  \"333333333333\": { executor_role: false }\n",
    );
    let dir = temp_dir("report-unreachable");
    let o = relay(&[
        "report",
        "--world",
        &world,
        "--days",
        "1",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("no table could be read"), "{err}");
}

#[test]
fn plan_shows_a_copy_planted_from_outside_the_routes_as_recorded_not_chained() {
    let planted = std::fs::read_to_string(format!(
        "{ROOT}/tests/events/copy-job-completed-primary-to-central.json"
    ))
    .unwrap()
    .replace("backup-vault:primary", "backup-vault:attacker")
    .replace("table/orders", "table/planted");
    let event = temp_file("planted.json", &planted);
    let o = relay(&[
        "plan",
        "--policy",
        "infra/examples/policy.yaml",
        "--event",
        &event,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(plan["actions"].as_array().map(Vec::len), Some(1), "{plan}");
    assert_eq!(plan["actions"][0]["type"], "record_unrouted_copy", "{plan}");

    // The same event claiming another account than the job's: not acted on.
    let forged = planted.replacen(
        "\"account\": \"111111111111\"",
        "\"account\": \"999999999999\"",
        1,
    );
    let event = temp_file("forged.json", &forged);
    let o = relay(&[
        "plan",
        "--policy",
        "infra/examples/policy.yaml",
        "--event",
        &event,
    ]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(plan["actions"], serde_json::json!([]), "{plan}");
    assert!(
        plan["ignored"].as_str().unwrap().contains("not acted on"),
        "{plan}"
    );
}
