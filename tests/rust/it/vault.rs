//! The local vault on a real SQLite file: versions, environments, deletion,
//! rotation, tamper detection, and an audit log the database keeps append-only.

use std::path::PathBuf;

use iron_secrets::{Requester, SecretError, Vault};
use rusqlite::{params, Connection};

const KEY: &[u8] = b"correct horse battery staple";

fn temp_vault(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("iron-cage-vault-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("vault.db");
    let _ = std::fs::remove_file(&path);
    path
}

fn admin() -> Requester {
    Requester {
        role: "admin".into(),
        agent_id: None,
    }
}

#[test]
fn versions_environments_and_deletion() {
    let path = temp_vault("versions");
    let v = Vault::open(&path, KEY, admin())
        .expect("create")
        .with_keep_versions(3);
    for i in 1..=5 {
        assert_eq!(
            v.put(
                "OPENAI_API_KEY",
                "production",
                &format!("sk-proj-value-number-{i}")
            )
            .expect("put"),
            i
        );
    }
    v.put("OPENAI_API_KEY", "staging", "sk-proj-staging-value-xyz")
        .expect("put");
    assert_eq!(
        v.get("OPENAI_API_KEY", "production", None)
            .expect("latest")
            .as_str(),
        "sk-proj-value-number-5"
    );
    assert_eq!(
        v.get("OPENAI_API_KEY", "production", Some(3))
            .expect("v3")
            .as_str(),
        "sk-proj-value-number-3"
    );
    assert!(
        matches!(
            v.get("OPENAI_API_KEY", "production", Some(2)),
            Err(SecretError::NotFound { .. })
        ),
        "only 3 versions kept"
    );
    assert_eq!(
        v.history("OPENAI_API_KEY", "production")
            .expect("history")
            .iter()
            .map(|h| h.version)
            .collect::<Vec<_>>(),
        vec![5, 4, 3]
    );
    assert_eq!(
        v.get("OPENAI_API_KEY", "staging", None)
            .expect("staging")
            .as_str(),
        "sk-proj-staging-value-xyz"
    );
    assert!(matches!(
        v.get("OPENAI_API_KEY", "development", None),
        Err(SecretError::NotFound { .. })
    ));
    let listed = v.list(Some("production"), false).expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].masked, "sk-proj-val...r-5");
    v.delete("OPENAI_API_KEY", "production").expect("delete");
    assert!(v.get("OPENAI_API_KEY", "production", None).is_err());
    assert!(v.list(Some("production"), false).expect("list").is_empty());
    v.undelete("OPENAI_API_KEY", "production")
        .expect("undelete");
    assert!(v.get("OPENAI_API_KEY", "production", None).is_ok());
    v.destroy("OPENAI_API_KEY", "production").expect("destroy");
    assert!(v
        .history("OPENAI_API_KEY", "production")
        .expect("history")
        .is_empty());
    assert!(matches!(
        v.put("X", "prod", "v"),
        Err(SecretError::InvalidArgument {
            what: "environment",
            ..
        })
    ));
}

#[test]
fn wrong_key_is_recognised_at_open() {
    let path = temp_vault("wrongkey");
    Vault::open(&path, KEY, admin())
        .expect("create")
        .put("A", "production", "secret-value")
        .expect("put");
    assert_eq!(
        Vault::open(&path, b"a different key entirely", admin()).expect_err("wrong key"),
        SecretError::WrongMasterKey
    );
    assert!(matches!(
        Vault::open(&path, b"short", admin()),
        Err(SecretError::InvalidMasterKey(_))
    ));
}

#[test]
fn rotation_rewraps_everything() {
    let path = temp_vault("rotate");
    let v = Vault::open(&path, KEY, admin()).expect("create");
    for (n, val) in [
        ("A", "alpha-value"),
        ("B", "bravo-value"),
        ("C", "charlie-value"),
    ] {
        v.put(n, "production", val).expect("put");
        v.put(n, "staging", val).expect("put");
    }
    v.put("A", "production", "alpha-value-2").expect("put");
    assert_eq!(
        v.rotate_master_key(b"the brand new master key")
            .expect("rotate"),
        7
    );
    assert_eq!(
        v.get("A", "production", Some(1))
            .expect("old version readable")
            .as_str(),
        "alpha-value"
    );
    drop(v);
    assert_eq!(
        Vault::open(&path, KEY, admin()).expect_err("old key"),
        SecretError::WrongMasterKey
    );
    let v = Vault::open(&path, b"the brand new master key", admin()).expect("new key");
    assert_eq!(
        v.get("C", "staging", None).expect("readable").as_str(),
        "charlie-value"
    );
    assert!(v.verify().expect("verify").is_empty());
}

#[test]
fn moved_or_altered_ciphertexts_fail_and_are_named() {
    let path = temp_vault("tamper");
    let v = Vault::open(&path, KEY, admin()).expect("create");
    v.put("A", "production", "alpha-value").expect("put");
    v.put("A", "production", "alpha-value-2").expect("put");
    v.put("B", "production", "bravo-value").expect("put");
    let raw = Connection::open(&path).expect("raw");
    // Copy B's ciphertext over A's latest: a valid blob, but bound to another secret.
    raw.execute(
        "UPDATE secrets SET blob = (SELECT blob FROM secrets WHERE name = 'B') WHERE name = 'A' AND version = 2",
        [],
    )
    .expect("raw update");
    assert!(
        matches!(v.get("A", "production", None), Err(SecretError::Tampered { ref name }) if name == "A")
    );
    assert_eq!(
        v.get("A", "production", Some(1))
            .expect("v1 intact")
            .as_str(),
        "alpha-value"
    );
    let failures = v.verify().expect("verify");
    assert_eq!(
        failures
            .iter()
            .map(|f| (f.name.as_str(), f.version))
            .collect::<Vec<_>>(),
        vec![("A", 2)]
    );
    assert!(
        !failures[0].error.contains("value"),
        "no plaintext in reports: {}",
        failures[0].error
    );
}

#[test]
fn audit_is_append_only_in_the_database() {
    let path = temp_vault("audit");
    let v = Vault::open(
        &path,
        KEY,
        Requester {
            role: "agent".into(),
            agent_id: Some("agent-7".into()),
        },
    )
    .expect("create");
    v.put("A", "production", "alpha-value").expect("put");
    let _ = v.get("A", "production", None).expect("get");
    let _ = v.get("missing", "production", None).expect_err("missing");
    let rows = v.audit(None).expect("audit");
    let ops: Vec<(&str, &str, bool)> = rows
        .iter()
        .map(|r| (r.secret_name.as_str(), r.operation.as_str(), r.success))
        .collect();
    assert_eq!(
        ops,
        vec![
            ("A", "create", true),
            ("A", "read", true),
            ("missing", "read", false)
        ]
    );
    assert_eq!(rows[0].agent_id.as_deref(), Some("agent-7"));
    let raw = Connection::open(&path).expect("raw");
    let update = raw.execute(
        "UPDATE secret_audit SET success = 1 WHERE id = ?1",
        params![rows[2].id],
    );
    assert!(update
        .expect_err("refused")
        .to_string()
        .contains("append-only"));
    let delete = raw.execute("DELETE FROM secret_audit", []);
    assert!(delete
        .expect_err("refused")
        .to_string()
        .contains("append-only"));
    assert_eq!(v.audit(None).expect("audit"), rows, "nothing changed");
    let all = std::fs::read(&path).expect("file");
    assert!(
        !all.windows(11).any(|w| w == b"alpha-value"),
        "no plaintext in the database file"
    );
}
