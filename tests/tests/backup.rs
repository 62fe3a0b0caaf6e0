//! `gateway backup PATH`: a consistent copy of the SQLite database, taken while a gateway
//! serves and writes. A writer creates contacts and tasks through the staff API in a loop; the
//! backup is taken mid-load; a gateway started on a copy of the backup (the README's restore:
//! stop, copy, start) finds every row whose write was acknowledged before the backup began,
//! and SQLite finds the file intact. Bad inputs are one line and a non-zero exit.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portico_e2e::binaries::{exit_and_stderr_lines, run_gateway};
use portico_e2e::{TestApp, TestFirm, postgres_admin_url, test_config, unique};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;

/// Rows whose creation the API acknowledged (2xx), in order: (`contact` or `task`, id).
type Acknowledged = Arc<Mutex<Vec<(&'static str, String)>>>;

/// Creates a contact, then a task assigned to it, until `stop` is set; records each row the
/// API acknowledged.
async fn write_until(
    base: String,
    api_key: String,
    writer: usize,
    acknowledged: Acknowledged,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&api_key)
            .json(&body)
            .send()
    };
    let mut n = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        n += 1;
        let contact = post(
            "/api/v1/contacts",
            json!({"name": format!("Client {writer}-{n}"), "email": format!("c{writer}-{n}@load.example")}),
        )
        .await
        .expect("the gateway answers");
        assert!(contact.status().is_success(), "{}", contact.status());
        let contact: Value = contact.json().await.expect("JSON");
        let contact_id = contact["id"].as_str().expect("an id").to_string();
        acknowledged
            .lock()
            .unwrap()
            .push(("contact", contact_id.clone()));
        let task = post(
            "/api/v1/tasks",
            json!({"title": format!("Task {writer}-{n}"), "assignees": [contact_id], "portal": true}),
        )
        .await
        .expect("the gateway answers");
        assert!(task.status().is_success(), "{}", task.status());
        let task: Value = task.json().await.expect("JSON");
        acknowledged
            .lock()
            .unwrap()
            .push(("task", task["id"].as_str().expect("an id").to_string()));
    }
}

/// Every id the API lists under `path`, page by page.
async fn listed_ids(app: &TestApp, firm: &TestFirm, path: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let page_path = match &cursor {
            Some(c) => format!("{path}?limit=200&cursor={c}"),
            None => format!("{path}?limit=200"),
        };
        let page = app.api_ok(firm, Method::GET, &page_path, None).await;
        for row in page["data"].as_array().expect("data") {
            ids.insert(row["id"].as_str().expect("an id").to_string());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return ids,
        }
    }
}

/// Adds `megabytes` of filler rows in a table of the test's own, so that copying the
/// database takes long enough for many writes to commit while it runs.
async fn add_bulk(database: &Path, megabytes: u32) {
    let mut db = sqlx::SqliteConnection::connect(&sqlite_url(database))
        .await
        .expect("the database opens");
    sqlx::query("CREATE TABLE backup_test_filler (bytes BLOB NOT NULL)")
        .execute(&mut db)
        .await
        .expect("filler table");
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO backup_test_filler SELECT randomblob(8192) FROM n",
    )
    .bind(megabytes * 128)
    .execute(&mut db)
    .await
    .expect("filler rows");
    db.close().await.expect("closed");
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

async fn integrity_check(path: &Path) -> String {
    let mut db = sqlx::SqliteConnection::connect(&sqlite_url(path))
        .await
        .expect("the backup opens");
    let answer: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut db)
        .await
        .expect("integrity_check runs");
    db.close().await.expect("closed");
    answer
}

/// A folder of the test's own, removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new(label: &str) -> Folder {
        let dir = std::env::temp_dir().join(unique(label));
        std::fs::create_dir_all(&dir).expect("a temp folder");
        Folder(dir)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_write_load_holds_every_write_acknowledged_before_it() {
    // `gateway backup` copies SQLite databases (PostgreSQL is refused, below), so this runs on
    // SQLite whichever backend the suite is on.
    let served = Folder::new("portico-served-");
    let database_url = sqlite_url(&served.0.join("portico.db"));
    let app = TestApp::spawn_with(&[("DATABASE_URL", &database_url)]).await;
    let firm = app.create_firm("backup").await;
    add_bulk(&served.0.join("portico.db"), 32).await;
    let acknowledged: Acknowledged = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|writer| {
            tokio::spawn(write_until(
                app.plain_url(""),
                firm.api_key.clone(),
                writer,
                acknowledged.clone(),
                stop.clone(),
            ))
        })
        .collect();
    // Under load for a while before the backup, and during it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while acknowledged.lock().unwrap().len() < 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let folder = Folder::new("portico-backup-");
    let backup = folder.0.join("portico-backup.db");
    let before: Vec<(&str, String)> = acknowledged.lock().unwrap().clone();
    let (vars, path) = (app.vars.clone(), backup.display().to_string());
    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || run_gateway(&vars, &["backup", &path]))
        .await
        .expect("the backup command ran");
    let took = started.elapsed();
    let during = acknowledged.lock().unwrap().len() - before.len();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("the writer never failed");
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("backup written to "), "{stdout}");
    assert!(
        before.len() >= 100,
        "writes before the backup: {}",
        before.len()
    );
    assert!(
        during >= 10,
        "the gateway kept writing while the backup ran: {during}"
    );
    let after = acknowledged.lock().unwrap().len();
    eprintln!(
        "acknowledged: {} before the backup, {during} during its {} ms, {after} in all; {stdout}",
        before.len(),
        took.as_millis()
    );
    assert_eq!(integrity_check(&backup).await, "ok");
    let names: Vec<String> = std::fs::read_dir(&folder.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["portico-backup.db"], "no partial copy is left");

    // Restore: a copy of the backup in place of the database, and a gateway started on it.
    let restored = Folder::new("portico-restored-");
    let restored_db = restored.0.join("portico.db");
    std::fs::copy(&backup, &restored_db).expect("copy the backup");
    let database_url = sqlite_url(&restored_db);
    let again = TestApp::spawn_with(&[("DATABASE_URL", &database_url)]).await;
    let contacts = listed_ids(&again, &firm, "/api/v1/contacts").await;
    let tasks = listed_ids(&again, &firm, "/api/v1/tasks").await;
    for (kind, id) in &before {
        let found = match *kind {
            "contact" => contacts.contains(id),
            _ => tasks.contains(id),
        };
        assert!(
            found,
            "the {kind} {id}, acknowledged before the backup, is in it"
        );
    }
    // Nothing but what the writers made, all of it acknowledged in the end.
    let made: HashSet<String> = acknowledged
        .lock()
        .unwrap()
        .iter()
        .map(|(_, id)| id.clone())
        .collect();
    assert!(contacts.iter().chain(&tasks).all(|id| made.contains(id)));
    eprintln!(
        "restored: {} contacts and {} tasks",
        contacts.len(),
        tasks.len()
    );
    again.stop().await;
    app.stop().await;
}

/// Runs `gateway backup PATH` on `vars`; returns (exit code, stderr's non-empty lines).
fn backup_fails(
    vars: &std::collections::HashMap<String, String>,
    path: &str,
) -> (i32, Vec<String>) {
    exit_and_stderr_lines(&run_gateway(vars, &["backup", path]))
}

#[tokio::test]
async fn bad_backup_paths_are_one_line_and_a_non_zero_exit_leaving_nothing_behind() {
    let folder = Folder::new("portico-backup-bad-");
    let database = Folder::new("portico-served-");
    let database_url = sqlite_url(&database.0.join("portico.db"));
    let setup = test_config(&[("DATABASE_URL", &database_url)]).await;
    // The database exists (and is migrated) before it is backed up.
    assert!(run_gateway(&setup.vars, &["migrate"]).status.success());
    let existing = folder.0.join("existing.db");
    std::fs::write(&existing, b"keep me").unwrap();
    let missing_dir = folder.0.join("no-such-folder").join("b.db");
    let cases = [
        (existing.display().to_string(), "exists"),
        (folder.0.display().to_string(), "exists"),
        (missing_dir.display().to_string(), "cannot write in"),
        (
            "/proc/portico-backup.db".to_string(),
            "cannot write in /proc",
        ),
        (format!("{}/..", folder.0.display()), "expected a file name"),
    ];
    for (path, says) in cases {
        let (code, lines) = backup_fails(&setup.vars, &path);
        assert_ne!(code, 0, "{path:?}: {lines:?}");
        assert_eq!(lines.len(), 1, "{path:?}: {lines:?}");
        assert!(
            lines[0].starts_with("gateway: backup: ") && lines[0].contains(says),
            "{path:?}: {lines:?}"
        );
    }
    assert_eq!(
        std::fs::read(&existing).unwrap(),
        b"keep me",
        "never replaced"
    );
    let names: Vec<String> = std::fs::read_dir(&folder.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["existing.db"], "no partial copy is left");
}

#[tokio::test]
async fn on_postgresql_backup_refuses_with_one_line_pointing_to_pg_dump() {
    // Whatever the suite runs on: the server's maintenance database, opened and left as is.
    let setup = test_config(&[]).await;
    let mut vars = setup.vars.clone();
    vars.insert("DATABASE_URL".into(), postgres_admin_url());
    let folder = Folder::new("portico-backup-pg-");
    let path = folder.0.join("pg.db");
    let (code, lines) = backup_fails(&vars, &path.display().to_string());
    assert_ne!(code, 0, "{lines:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("pg_dump") && lines[0].contains("Durability and backups"),
        "{lines:?}"
    );
    assert!(!path.exists());
}
