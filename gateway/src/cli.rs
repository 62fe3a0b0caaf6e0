//! The `gateway` command: `serve` (default), `migrate`, `firm create`, `apikey create`, `demo`,
//! `files gc`, `contacts check`, `backup`.

use clap::{Parser, Subcommand};
use portico_shared::config::Config;
use portico_shared::email::Email;
use portico_shared::status::InvoiceStatus;
use portico_shared::store::{
    self, Contact, ContactPatch, EventOrigin, Firm, NewContact, NewFirm, NewInvoice,
    NewSigningRequest, NewTask, PageImages, PageQuery, PortalPatch, Store, StoreError, TaskQuery,
};
use portico_shared::units::parse_duration;
use std::sync::Arc;

use crate::app;
use crate::services::content::Blobs;
use crate::services::page_images;
use portico_shared::token::ApiKey;
use portico_shared::units::megabytes;

#[derive(Parser)]
#[command(
    name = "gateway",
    version,
    about = "Portico gateway: client portal, sign-in and staff API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage firms.
    Firm {
        #[command(subcommand)]
        action: FirmAction,
    },
    /// Manage API keys.
    Apikey {
        #[command(subcommand)]
        action: ApiKeyAction,
    },
    /// Create a demo firm with contacts, for trying Portico out.
    Demo,
    /// Manage uploaded documents.
    Files {
        #[command(subcommand)]
        action: FilesAction,
    },
    /// Check the firms' contacts.
    Contacts {
        #[command(subcommand)]
        action: ContactsAction,
    },
    /// Copy the SQLite database to PATH, consistently, while gateways keep serving.
    ///
    /// PATH must not exist. PostgreSQL is refused: use pg_dump (README, "Durability and
    /// backups").
    Backup {
        /// The new file (restore by stopping the gateways and copying it over the database).
        path: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
pub enum ContactsAction {
    /// List contacts whose stored email address is no longer accepted (display text, a
    /// domain literal, a quoted local part…). They are not changed: such a contact cannot
    /// sign in or be invited until staff correct the address. Exits 1 when any is found.
    Check,
}

#[derive(Subcommand)]
pub enum FilesAction {
    /// Remove stored documents that no task file or signing request names any more (and
    /// leftovers of interrupted uploads). `serve` does this every PORTICO_FILES_GC_EVERY.
    Gc {
        /// Leave files younger than this (default PORTICO_FILES_GC_GRACE, 1h).
        #[arg(long)]
        grace: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum FirmAction {
    /// Create a firm and print its first API key.
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long = "owner-email")]
        owner_email: String,
    },
}

#[derive(Subcommand)]
pub enum ApiKeyAction {
    /// Create an API key for a firm and print it (it is shown only once).
    Create {
        /// The firm's slug.
        #[arg(long)]
        firm: String,
    },
}

pub async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Contacts {
            action: ContactsAction::Check,
        } => check_contacts(&*open_store(&config).await?).await,
        Command::Serve => serve(config).await,
        Command::Backup { path } => backup(&config, &path).await,
        Command::Migrate => {
            let store = open_store(&config).await?;
            println!("database migrated ({})", store.backend());
            Ok(())
        }
        Command::Firm {
            action:
                FirmAction::Create {
                    slug,
                    name,
                    owner_email,
                },
        } => {
            let store = open_store(&config).await?;
            let firm = create_firm(&*store, &slug, &name, &owner_email).await?;
            let key = create_api_key(&*store, &firm).await?;
            println!(
                "firm {} created: {}",
                firm.slug,
                config.portal_url(&firm.slug)
            );
            println!("API key (shown once, keep it safe): {key}");
            Ok(())
        }
        Command::Apikey {
            action: ApiKeyAction::Create { firm },
        } => {
            let store = open_store(&config).await?;
            let firm = store
                .firm_by_slug(&firm)
                .await?
                .ok_or_else(|| anyhow::anyhow!("--firm: no firm with slug {firm:?}"))?;
            let key = create_api_key(&*store, &firm).await?;
            println!(
                "API key for {} (shown once, keep it safe): {key}",
                firm.slug
            );
            Ok(())
        }
        Command::Demo => demo(config).await,
        Command::Files {
            action: FilesAction::Gc { grace },
        } => {
            let grace = match grace {
                Some(text) => parse_duration(&text)
                    .map_err(|e| anyhow::anyhow!("--grace: {e}, got {text:?}"))?,
                None => config.files_gc_grace,
            };
            let store = open_store(&config).await?;
            let sweep = Blobs::new(&config.data_dir).sweep(&*store, grace).await?;
            println!(
                "removed {} unreferenced file(s) ({}); kept {} in use and {} younger than {}s; \
                 removed {} leftover upload(s) and the page images of {} document(s)",
                sweep.removed,
                megabytes(sweep.removed_bytes),
                sweep.in_use,
                sweep.fresh,
                grace.as_secs(),
                sweep.leftovers,
                sweep.page_images
            );
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| anyhow::anyhow!("PORTICO_BIND: cannot listen on {}: {e}", config.bind))?;
    let bound = listener.local_addr()?;
    let state = app::state(config).await?;
    tracing::info!(
        address = %bound,
        database = state.store.backend(),
        base_domain = %state.config.base_domain,
        "gateway listening"
    );
    let sweeper = state.config.files_gc_every.map(|every| {
        tokio::spawn(crate::services::content::sweep_every(
            state.blobs(),
            state.store.clone(),
            every,
            state.config.files_gc_grace,
        ))
    });
    app::serve(state.clone(), listener, app::shutdown_signal()).await?;
    if let Some(sweeper) = sweeper {
        sweeper.abort();
    }
    state.store.close().await;
    tracing::info!("gateway stopped");
    Ok(())
}

async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let store = open_store_as_is(config).await?;
    store.migrate().await?;
    Ok(store)
}

/// Opens the database without migrating it (a backup copies what is there).
async fn open_store_as_is(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    store::open(&config.database_url).await.map_err(|e| {
        anyhow::anyhow!(
            "DATABASE_URL: cannot open {}: {e}",
            portico_shared::config::redact_url(&config.database_url)
        )
    })
}

/// `gateway backup PATH`: the copy, then one line saying where it is and how big.
async fn backup(config: &Config, path: &std::path::Path) -> anyhow::Result<()> {
    let store = open_store_as_is(config).await?;
    let started = std::time::Instant::now();
    let outcome = store.backup_to(path).await;
    store.close().await;
    outcome.map_err(|e| anyhow::anyhow!("backup: {e}"))?;
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    println!(
        "backup written to {} ({}, {} ms)",
        path.display(),
        megabytes(bytes),
        started.elapsed().as_millis()
    );
    Ok(())
}

/// Slugs become host names (`{slug}.{base domain}`): one DNS label, and not a name that
/// looks like infrastructure.
pub fn validate_slug(slug: &str) -> Result<(), String> {
    const RESERVED: &[&str] = &[
        "www", "api", "admin", "app", "mail", "static", "assets", "auth", "login", "portal",
        "status",
    ];
    let shape_ok = (2..=40).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if !shape_ok {
        return Err(format!(
            "--slug: expected 2 to 40 lowercase letters, digits or inner hyphens, got {slug:?}"
        ));
    }
    if RESERVED.contains(&slug) {
        return Err(format!("--slug: {slug:?} is reserved"));
    }
    Ok(())
}

async fn create_firm(
    store: &dyn Store,
    slug: &str,
    name: &str,
    owner_email: &str,
) -> anyhow::Result<Firm> {
    validate_slug(slug).map_err(anyhow::Error::msg)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        anyhow::bail!("--name: expected 1 to 120 characters");
    }
    let owner_email =
        Email::parse(owner_email).map_err(|e| anyhow::anyhow!("--owner-email: {e}"))?;
    let new = NewFirm {
        slug: slug.to_string(),
        name: name.to_string(),
        owner_email,
    };
    match store.create_firm(&new).await {
        Err(StoreError::Conflict(_)) => anyhow::bail!("--slug: a firm with slug {slug:?} exists"),
        other => Ok(other?),
    }
}

async fn create_api_key(store: &dyn Store, firm: &Firm) -> anyhow::Result<String> {
    let key = ApiKey::generate();
    store.add_api_key(&firm.id, &key.hash()).await?;
    Ok(key.expose().to_string())
}

/// Two firms sharing a client (Ann), so company switching has something to switch between;
/// at Acme, Ann also has a document to sign (its pages rendered) and invoices, so every
/// section of the portal has something to show.
async fn demo(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let firms = [
        ("acme", "Acme Accounting", "owner@acme.example"),
        ("northwind", "Northwind Advisors", "owner@northwind.example"),
    ];
    let contacts = [
        ("acme", "Ann Lee", "ann@example.com", true),
        ("acme", "Ben Ortiz", "ben@example.com", true),
        ("acme", "Cleo Park", "cleo@example.com", false),
        ("northwind", "Ann Lee", "ann@example.com", true),
    ];
    for (slug, name, owner) in firms {
        let firm = match store.firm_by_slug(slug).await? {
            Some(firm) => firm,
            None => create_firm(&*store, slug, name, owner).await?,
        };
        for (_, contact_name, email, access) in contacts.iter().filter(|c| c.0 == slug) {
            let email = Email::parse(email).map_err(anyhow::Error::msg)?;
            match store.contact_by_email(&firm.id, &email).await? {
                Some(existing) => {
                    let patch = ContactPatch {
                        portal_access: Some(*access),
                        ..ContactPatch::default()
                    };
                    store.update_contact(&firm.id, &existing.id, &patch).await?;
                }
                None => {
                    let new = NewContact {
                        name: contact_name.to_string(),
                        email,
                        portal_access: *access,
                        account_id: None,
                        permission_set: None,
                    };
                    store.create_contact(&firm.id, &new).await?;
                }
            }
        }
        seed_tasks(&*store, &firm).await?;
        if slug == "acme" {
            seed_signing_request(&*store, &config, &firm).await?;
            seed_invoices(&*store, &firm).await?;
        }
        let key = create_api_key(&*store, &firm).await?;
        println!("{name}: {}/login", config.portal_url(slug));
        println!("  API key (shown once): {key}");
        // The Owner, whom `create_firm` made; members are listed Owner first.
        let owner_email = store
            .members(&firm.id)
            .await?
            .into_iter()
            .find(|m| m.role_id == "owner")
            .map_or_else(|| owner.to_string(), |m| m.email);
        println!(
            "  Staff sign in at {}/staff/login as {owner_email}",
            config.portal_url(slug)
        );
    }
    println!("Clients with access: ann@example.com (both firms), ben@example.com (Acme).");
    println!("cleo@example.com is a contact of Acme without portal access.");
    Ok(())
}

/// A few shared tasks for Ann, once.
async fn seed_tasks(store: &dyn Store, firm: &Firm) -> anyhow::Result<()> {
    let existing = store
        .list_tasks(
            &firm.id,
            &TaskQuery {
                after: None,
                limit: 1,
                contact_id: None,
                status: None,
                portal: None,
                assigned_to: None,
            },
        )
        .await?;
    let ann = store
        .contact_by_email(
            &firm.id,
            &Email::parse("ann@example.com").map_err(anyhow::Error::msg)?,
        )
        .await?;
    let (Some(ann), true) = (ann, existing.is_empty()) else {
        return Ok(());
    };
    let due = |days: i64| {
        (time::OffsetDateTime::now_utc() + time::Duration::days(days))
            .date()
            .to_string()
    };
    let tasks = [
        (
            "Send your bank statements for the year",
            "One PDF per account, January to December.",
            Some(due(14)),
            vec!["Current account", "Savings account"],
        ),
        (
            "Confirm your home address",
            "We need it for your tax return.",
            Some(due(-2)),
            vec![],
        ),
        (
            "Review the draft engagement letter",
            "",
            None,
            vec!["Read it", "Note any questions"],
        ),
    ];
    for (title, description, due_date, checklist) in tasks {
        let new = NewTask {
            title: title.into(),
            description: description.into(),
            due_date,
            portal: true,
            assignees: vec![ann.id.clone()],
            checklist: checklist.into_iter().map(String::from).collect(),
            account_id: None,
        };
        store.create_task(&firm.id, &new).await?;
    }
    Ok(())
}

/// A query for one record of the firm's, whichever: to learn whether there is any.
fn any_one<S>() -> PageQuery<S> {
    PageQuery {
        after: None,
        limit: 1,
        contact_id: None,
        status: None,
        assigned_to: None,
    }
}

/// Ann's contact at `firm`, if the demo made her.
async fn demo_client(store: &dyn Store, firm: &Firm) -> anyhow::Result<Option<Contact>> {
    let email = Email::parse("ann@example.com").map_err(anyhow::Error::msg)?;
    Ok(store.contact_by_email(&firm.id, &email).await?)
}

/// A pending signing request for Ann: a generated engagement letter of a few pages, stored
/// like an upload, with its page images rendered now so the sign page shows them at once.
/// Once: not when the firm has any signing request.
async fn seed_signing_request(
    store: &dyn Store,
    config: &Config,
    firm: &Firm,
) -> anyhow::Result<()> {
    let existing = store.list_signing_requests(&firm.id, &any_one()).await?;
    let (Some(ann), true) = (demo_client(store, firm).await?, existing.is_empty()) else {
        return Ok(());
    };
    let letter = portico_shared::pdf::text_pdf(&[
        format!(
            "Engagement letter 2026\n{}\nfor Ann Lee\n\nThis letter sets out the work we will do for you \
             and the terms we will do it on.",
            firm.name
        ),
        "1. Our services\nWe will prepare your income tax return for 2026 from the records \
         you send us,\nand file it once you have approved it."
            .to_string(),
        "2. Fees and signature\nOur fee is agreed in advance and invoiced when the return is \
         filed.\n\nSign below to confirm that you accept these terms."
            .to_string(),
    ]);
    let blobs = Blobs::new(&config.data_dir);
    let mut incoming = blobs
        .incoming(Some("Engagement letter 2026.pdf".into()))
        .await?;
    incoming.write(&letter).await?;
    let received = incoming.finish().await?;
    let sha256 = received.sha256.clone();
    let new = NewSigningRequest {
        contact_id: ann.id.clone(),
        title: "Engagement letter 2026".into(),
        document_name: "Engagement letter 2026.pdf".into(),
        document_size: letter.len() as i64,
        document_sha256: sha256.clone(),
        account_id: None,
    };
    let origin = EventOrigin {
        ip: None,
        user_agent: None,
        document_sha256: sha256.clone(),
    };
    blobs.keep(received).await?;
    store
        .create_signing_request(&firm.id, &new, &origin)
        .await?;
    page_images::render_and_store(store, &blobs, page_images::Limits::of(config), &sha256).await?;
    if !matches!(
        store.page_images(&sha256).await?,
        Some(PageImages::Ready { .. })
    ) {
        println!("  (the demo letter's pages could not be rendered: is poppler-utils installed?)");
    }
    Ok(())
}

/// Billing switched on, and three invoices for Ann: one to pay, one overdue, one paid.
/// Once: not when the firm has any invoice.
async fn seed_invoices(store: &dyn Store, firm: &Firm) -> anyhow::Result<()> {
    let patch = PortalPatch {
        billing_enabled: Some(true),
        ..PortalPatch::default()
    };
    store.update_portal(&firm.id, &patch).await?;
    let existing = store.list_invoices(&firm.id, &any_one()).await?;
    let (Some(ann), true) = (demo_client(store, firm).await?, existing.is_empty()) else {
        return Ok(());
    };
    let day = |days: i64| {
        (time::OffsetDateTime::now_utc() + time::Duration::days(days))
            .date()
            .to_string()
    };
    let invoices = [
        (
            "INV-2026-003",
            48_000,
            day(-3),
            day(27),
            InvoiceStatus::Open,
            "Tax return 2026",
        ),
        (
            "INV-2026-002",
            12_500,
            day(-45),
            day(-15),
            InvoiceStatus::Open,
            "Quarterly bookkeeping",
        ),
        (
            "INV-2026-001",
            30_000,
            day(-90),
            day(-60),
            InvoiceStatus::Paid,
            "Tax return 2025",
        ),
    ];
    for (number, amount_minor, issued_date, due_date, status, description) in invoices {
        let new = NewInvoice {
            contact_id: ann.id.clone(),
            number: number.into(),
            amount_minor,
            currency: "EUR".into(),
            issued_date,
            due_date,
            status,
            pay_url: None,
            description: description.into(),
            account_id: None,
        };
        store.create_invoice(&firm.id, &new).await?;
    }
    Ok(())
}

/// Prints each contact whose stored address does not parse as an address today, a line
/// each (firm, contact id, the reason; the address masked), and fails when there is one.
async fn check_contacts(store: &dyn Store) -> anyhow::Result<()> {
    const PAGE: i64 = 1000;
    let (mut checked, mut refused) = (0u64, 0u64);
    let mut after = String::new();
    loop {
        let page = store.stored_addresses(&after, PAGE).await?;
        for stored in &page {
            checked += 1;
            if let Err(problem) = Email::parse(&stored.email) {
                refused += 1;
                println!(
                    "{}\t{}\t{}\t{problem}",
                    stored.firm_slug,
                    stored.contact_id,
                    portico_shared::email::mask(&stored.email)
                );
            }
        }
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => after = last.contact_id.clone(),
            _ => break,
        }
    }
    println!("{checked} contacts checked, {refused} with an address to correct");
    if refused > 0 {
        anyhow::bail!("{refused} contacts have an address that is no longer accepted");
    }
    Ok(())
}
