//! `cargo lambda deploy` against moto's Lambda (`--endpoint-url`): the copy-router crate's
//! `[package.metadata.lambda.deploy]` sets the function's memory and timeout, and a second deploy
//! updates the code of the same function in place, keeping the environment the stack gave it.
//!
//! No new build: the binary deployed is one already on disk (moto never runs it; cargo-lambda only
//! zips it and reads its architecture). It is `target/debug/copy-router` when `cargo test
//! --workspace` built it (copy-router has integration tests), else this test's own executable.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use relay_tests::{MotoServer, MOTO_ACCOUNT};
use serde_json::Value;

const CRATE: &str = "copy-router";
/// As the hub stack names it: FunctionNamePrefix (backup-relay-) + the crate.
const FUNCTION: &str = "backup-relay-copy-router";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// `memory` and `timeout` of the crate's `[package.metadata.lambda.deploy]`, read from its Cargo.toml
/// (infra/check_hub.py holds them equal to the template's).
fn deploy_metadata() -> (i64, i64) {
    let manifest = workspace().join("functions").join(CRATE).join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let section = text
        .split("[package.metadata.lambda.deploy]")
        .nth(1)
        .unwrap_or_else(|| {
            panic!(
                "{} has no [package.metadata.lambda.deploy]",
                manifest.display()
            )
        });
    let value = |key: &str| -> i64 {
        section
            .lines()
            .take_while(|l| !l.starts_with('['))
            .find_map(|l| {
                l.strip_prefix(key)?
                    .trim()
                    .strip_prefix('=')?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no `{key} = N` in its [package.metadata.lambda.deploy]"))
    };
    (value("memory"), value("timeout"))
}

/// boto3 (moto's Python has it) against the moto server: `script` sees `endpoint` and `sys.argv`,
/// and prints one JSON value.
fn boto3(moto: &MotoServer, script: &str, args: &[&str]) -> Value {
    let python = std::env::var("MOTO_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let program = format!(
        "import boto3, json, sys\nendpoint = sys.argv[1]\n\
         def client(name): return boto3.client(name, endpoint_url=endpoint, region_name='us-east-1', \
         aws_access_key_id='testing', aws_secret_access_key='testing')\n{script}"
    );
    let output = Command::new(&python)
        .arg("-c")
        .arg(program)
        .arg(&moto.endpoint)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        output.status.success(),
        "boto3 script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn configuration(moto: &MotoServer) -> Value {
    boto3(
        moto,
        "c = client('lambda').get_function_configuration(FunctionName=sys.argv[2])\n\
         c.pop('ResponseMetadata', None)\nprint(json.dumps(c, default=str))",
        &[FUNCTION],
    )
}

/// `cargo lambda deploy` of the binary staged under `lambda_dir`, as the README says to run it,
/// against moto; `extra` are further flags.
fn cargo_lambda_deploy(moto: &MotoServer, lambda_dir: &Path, extra: &[&str]) -> Output {
    let scratch = lambda_dir.join("no-aws-config");
    Command::new("cargo")
        .current_dir(workspace())
        .args(["lambda", "deploy", "--binary-name", CRATE])
        .args(["--endpoint-url", &moto.endpoint, "--region", "us-east-1"])
        .arg("--manifest-path")
        .arg(workspace().join("Cargo.toml"))
        .arg("--lambda-dir")
        .arg(lambda_dir)
        .args(["--output-format", "json"])
        .args(extra)
        .arg(FUNCTION)
        // moto's credentials (its account from the key id), and nothing of the machine's own.
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", &scratch)
        .env("AWS_SHARED_CREDENTIALS_FILE", scratch)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap()
}

fn assert_deployed(output: &Output, what: &str) -> Value {
    assert!(
        output.status.success(),
        "{what}: cargo lambda deploy failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The JSON document follows the progress lines.
    let json = &stdout[stdout.find('{').unwrap_or(0)..];
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {stdout}"))
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `--lambda-dir` layout cargo-lambda reads: `<dir>/<binary name>/bootstrap`.
fn stage_binary() -> (Scratch, PathBuf) {
    let this = std::env::current_exe().unwrap();
    let built = this
        .parent()
        .and_then(Path::parent)
        .map(|debug| debug.join(CRATE))
        .filter(|p| p.is_file());
    let source = built.unwrap_or(this);
    let dir = std::env::temp_dir().join(format!("relay-deploy-moto-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join(CRATE)).unwrap();
    let bootstrap = dir.join(CRATE).join("bootstrap");
    std::fs::copy(&source, &bootstrap).unwrap();
    eprintln!("deploying {} as {FUNCTION}", source.display());
    (Scratch(dir), bootstrap)
}

fn require_cargo_lambda() {
    let found = Command::new("cargo")
        .args(["lambda", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "cargo-lambda is not installed. scripts/test installs it into .venv (its version is pinned in \
         scripts/requirements-test.txt): `python3 -m venv .venv && .venv/bin/pip install -r \
         scripts/requirements-test.txt && export PATH=$PWD/.venv/bin:$PATH`, or `pip install cargo-lambda`"
    );
}

#[test]
fn cargo_lambda_deploy_creates_with_the_metadata_then_updates_the_code_in_place() {
    require_cargo_lambda();
    let (memory, timeout) = deploy_metadata();
    let moto = MotoServer::start().unwrap();
    let (scratch, bootstrap) = stage_binary();
    let role = boto3(
        &moto,
        "trust = {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', \
         'Principal': {'Service': 'lambda.amazonaws.com'}, 'Action': 'sts:AssumeRole'}]}\n\
         r = client('iam').create_role(RoleName='backup-relay-copy-router-role', \
         AssumeRolePolicyDocument=json.dumps(trust))\nprint(json.dumps(r['Role']['Arn']))",
        &[],
    );
    let role = role.as_str().unwrap();
    assert!(role.contains(MOTO_ACCOUNT), "{role}");

    // First deploy: the function does not exist yet, so the role is given (the metadata has none).
    let first = assert_deployed(
        &cargo_lambda_deploy(&moto, &scratch.0, &["--iam-role", role]),
        "first deploy",
    );
    let created = configuration(&moto);
    assert_eq!(created["MemorySize"], memory, "{created}");
    assert_eq!(created["Timeout"], timeout, "{created}");
    assert_eq!(created["Role"], role);
    assert_eq!(created["Runtime"], "provided.al2023");
    assert_eq!(created["Handler"], "bootstrap");
    assert_eq!(created["Environment"]["Variables"]["RUST_LOG"], "info");

    // What the hub stack sets: its environment, and (as if drifted) other sizes.
    let stack_env = boto3(
        &moto,
        "l = client('lambda')\n\
         env = {'RUST_LOG': 'info', 'LEDGER_TABLE': 'hub-LedgerTable-1', \
         'RELAY_POLICY_PARAMETER': '/backup-relay/policy', 'COPY_ROLE_NAME': 'backup-relay-copy'}\n\
         l.update_function_configuration(FunctionName=sys.argv[2], MemorySize=128, Timeout=3, \
         Environment={'Variables': env})\nprint(json.dumps(env))",
        &[FUNCTION],
    );

    // A rebuilt binary: other bytes, the same function.
    let mut bytes = std::fs::read(&bootstrap).unwrap();
    bytes.extend_from_slice(b"\0rebuilt");
    std::fs::write(bootstrap, bytes).unwrap();
    let second = assert_deployed(
        &cargo_lambda_deploy(&moto, &scratch.0, &[]),
        "second deploy",
    );
    let updated = configuration(&moto);

    assert_eq!(
        updated["FunctionArn"], created["FunctionArn"],
        "updated in place"
    );
    assert_ne!(
        updated["CodeSha256"], created["CodeSha256"],
        "the second deploy must replace the code"
    );
    assert_eq!(updated["MemorySize"], memory, "{updated}");
    assert_eq!(updated["Timeout"], timeout, "{updated}");
    assert_eq!(
        updated["Role"], role,
        "no role in the metadata: the stack's stays"
    );
    assert_eq!(
        updated["Environment"]["Variables"], stack_env,
        "merge_env keeps the stack's variables"
    );
    // Each deploy publishes a version of the same function.
    assert_eq!(
        (first["version"].as_str(), second["version"].as_str()),
        (Some("1"), Some("2"))
    );
    let versions = boto3(
        &moto,
        "v = client('lambda').list_versions_by_function(FunctionName=sys.argv[2])['Versions']\n\
         print(json.dumps([x['Version'] for x in v]))",
        &[FUNCTION],
    );
    assert_eq!(versions, serde_json::json!(["$LATEST", "1", "2"]));
}
