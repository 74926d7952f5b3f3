//! The README's webhook verification snippets (Python and Node, standard library only) and the
//! `satang webhook verify` command, run against the README's test vector.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::repo_root;
use satang::webhooks::sign::vector;

fn readme() -> String {
    std::fs::read_to_string(repo_root().join("README.md")).expect("README.md")
}

/// The fenced code block right after `<!-- marker -->`.
fn snippet(marker: &str) -> String {
    let text = readme();
    let at = text.find(&format!("<!-- {marker} -->")).unwrap_or_else(|| panic!("README has no {marker}"));
    let rest = &text[at..];
    let start = rest.find("```").unwrap();
    let body = &rest[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_string()
}

#[test]
fn the_readme_shows_the_vector_satang_signs_with() {
    let text = readme();
    for v in [vector::SECRET, &vector::TIMESTAMP.to_string(), vector::BODY, vector::SIGNATURE] {
        assert!(text.contains(v), "README lacks {v}");
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_python_snippet_verifies_the_vector() {
    let code = format!(
        "{}\nimport sys\nsecret, ts, sig, body = sys.argv[1:5]\n\
         print(verify_omise_signature(secret, ts, sig, body.encode()), verify_omise_signature(secret, ts, sig, body.encode() + b' '))\n",
        snippet("webhook-verify-python")
    );
    let out = run(Command::new("python3").args([
        "-c",
        &code,
        vector::SECRET,
        &vector::TIMESTAMP.to_string(),
        vector::SIGNATURE,
        vector::BODY,
    ]));
    assert_eq!(out, "True False");
    // Two comma-separated signatures during a roll: either matching is enough.
    let both = format!("{},{}", "00".repeat(32), vector::SIGNATURE);
    let out = run(Command::new("python3").args([
        "-c",
        &code,
        vector::SECRET,
        &vector::TIMESTAMP.to_string(),
        &both,
        vector::BODY,
    ]));
    assert_eq!(out, "True False");
}

#[test]
fn the_node_snippet_verifies_the_vector() {
    if Command::new("node").arg("--version").output().is_err() {
        return common::skip("node is not installed");
    }
    let code = format!(
        "{}\nconst [secret, ts, sig, body] = process.argv.slice(1);\n\
         console.log(verifyOmiseSignature(secret, ts, sig, Buffer.from(body)), verifyOmiseSignature(secret, ts, sig, Buffer.from(body + ' ')));\n",
        snippet("webhook-verify-node")
    );
    let out = run(Command::new("node").args([
        "-e",
        &code,
        vector::SECRET,
        &vector::TIMESTAMP.to_string(),
        vector::SIGNATURE,
        vector::BODY,
    ]));
    assert_eq!(out, "true false");
}

fn verify_command(signature: &str, body: &str) -> bool {
    let mut child = Command::new(common::satang_bin())
        .args([
            "webhook",
            "verify",
            "--secret",
            vector::SECRET,
            "--timestamp",
            &vector::TIMESTAMP.to_string(),
            "--signature",
            signature,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let status = child.wait().unwrap();
    assert!(matches!(status.code(), Some(0 | 1)), "exit {status}");
    status.success()
}

#[test]
fn satang_webhook_verify_exits_0_or_1() {
    assert!(verify_command(vector::SIGNATURE, vector::BODY));
    assert!(!verify_command(vector::SIGNATURE, &format!("{} ", vector::BODY)));
    assert!(!verify_command(&"ab".repeat(32), vector::BODY));
    assert!(verify_command(&format!("{},{}", "ab".repeat(32), vector::SIGNATURE), vector::BODY));
}
