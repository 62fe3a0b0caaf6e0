//! The harness itself: a test that fails leaves nothing behind. What a [`TestApp`] made (its
//! database, its data folder, its Redis keys) is gone after it panicked, on either backend.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use portico_e2e::{TestApp, postgres_admin_url, redis_url, test_config};

/// Where a test gateway wrote, to look for afterwards.
struct Footprint {
    database_url: String,
    data_dir: PathBuf,
    redis_prefix: String,
}

impl Footprint {
    fn of(app: &TestApp) -> Footprint {
        Footprint {
            database_url: app.config.database_url.clone(),
            data_dir: app.config.data_dir.clone(),
            redis_prefix: app.config.redis_prefix.clone(),
        }
    }

    /// Whether the database is still there: the SQLite folder (the file in it appears when the
    /// gateway first opens it), or the PostgreSQL database.
    async fn database_exists(&self) -> bool {
        match self.database_url.strip_prefix("sqlite://") {
            Some(path) => std::path::Path::new(path).parent().unwrap().exists(),
            None => {
                use sqlx::Connection;
                let name = self.database_url.rsplit_once('/').unwrap().1;
                let mut admin = sqlx::PgConnection::connect(&postgres_admin_url())
                    .await
                    .unwrap();
                let found: Option<(i32,)> =
                    sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
                        .bind(name)
                        .fetch_optional(&mut admin)
                        .await
                        .unwrap();
                found.is_some()
            }
        }
    }

    async fn redis_keys(&self) -> Vec<String> {
        let mut redis = portico_shared::redis_conn::connect(&redis_url())
            .await
            .unwrap();
        redis::cmd("KEYS")
            .arg(format!("{}*", self.redis_prefix))
            .query_async(&mut redis)
            .await
            .unwrap()
    }

    /// Asserts that the gateway wrote to all of it, so that "gone" below means something.
    async fn assert_present(&self) {
        assert!(self.database_exists().await, "{}", self.database_url);
        assert!(self.data_dir.exists(), "{}", self.data_dir.display());
        assert!(
            !self.redis_keys().await.is_empty(),
            "keys under {}",
            self.redis_prefix
        );
    }

    async fn assert_gone(&self) {
        assert!(
            !self.database_exists().await,
            "the database is left behind: {}",
            self.database_url
        );
        assert!(
            !self.data_dir.exists(),
            "the data folder is left behind: {}",
            self.data_dir.display()
        );
        let keys = self.redis_keys().await;
        assert!(keys.is_empty(), "Redis keys are left behind: {keys:?}");
    }
}

/// A gateway that has written to its database, its data folder and Redis: a firm, a contact
/// who asked for a link (a mail job, a rate counter), and an uploaded file.
async fn busy_app() -> (TestApp, Footprint) {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("gone").await;
    app.add_contact(&firm, "ann@example.com", true).await;
    app.browser()
        .request_link(&app, &firm.firm.slug, "ann@example.com")
        .await;
    let contact = app.add_contact(&firm, "bob@example.com", true).await;
    firm.request_signature(
        &app,
        &contact.id,
        "Engagement letter",
        "letter.pdf",
        &portico_e2e::sample_pdf("Sign here"),
    )
    .await;
    let footprint = Footprint::of(&app);
    footprint.assert_present().await;
    (app, footprint)
}

#[tokio::test]
async fn a_test_that_panics_leaves_no_database_behind() {
    let (app, footprint) = busy_app().await;
    // The app is dropped while the panic unwinds, inside this test's runtime.
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(move || {
        let _app = app;
        panic!("a failing assertion");
    }));
    assert!(outcome.is_err());
    footprint.assert_gone().await;
}

#[tokio::test]
async fn a_test_task_that_panics_leaves_no_database_behind() {
    let (sender, footprint) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let (_app, footprint) = busy_app().await;
        let _ = sender.send(footprint);
        panic!("a failing assertion");
    });
    assert!(task.await.unwrap_err().is_panic());
    footprint.await.unwrap().assert_gone().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_removes_everything() {
    let (app, footprint) = busy_app().await;
    app.stop().await;
    footprint.assert_gone().await;
}

/// A configuration alone (for tests that run the `gateway` binary) owns a database too.
#[tokio::test]
async fn a_test_configuration_removes_its_database_when_dropped() {
    let setup = test_config(&[]).await;
    let database_url = setup.config.database_url.clone();
    let footprint = Footprint {
        database_url,
        data_dir: setup.config.data_dir.clone(),
        redis_prefix: setup.config.redis_prefix.clone(),
    };
    assert!(footprint.database_exists().await);
    drop(setup);
    footprint.assert_gone().await;
}
