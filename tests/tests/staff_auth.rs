//! Staff sign-in under `/staff` (SPEC §4 and §12): the client's rules under staff purposes, a
//! cookie of their own, and counters of their own.

use portico_e2e::staff::{add_member, owner, stored_member};
use portico_e2e::{TestApp, without_csrf};
use portico_shared::token::{LinkPurpose, mint_link};
use reqwest::StatusCode;

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn the_same_browser_signs_in_with_one_click_and_the_sign_in_is_recorded() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let owner = owner(&app, &firm).await;
    assert_eq!(owner.last_login_at, None);

    let browser = app.browser();
    let (status, page) = browser.get_text(&app.url(&slug, "/staff/login")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Staff sign-in"), "{page}");
    assert!(
        !page.contains("aria-label=\"Sections\""),
        "no navigation when signed out"
    );
    let response = browser.request_staff_link(&app, &slug, &owner.email).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("Check your email"));
    let mail = app.last_link(&owner.email).await.expect("a mail");
    assert_eq!(mail.job.template.name(), "staff_login_link");
    assert!(
        mail.link
            .starts_with(&format!("{}?token=", app.url(&slug, "/staff/auth/magic"))),
        "{}",
        mail.link
    );
    let response = browser.get(&mail.link).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/staff");
    assert_eq!(
        browser.staff_email(&app, &slug).await.as_deref(),
        Some(owner.email.as_str())
    );
    let member = stored_member(&app, &firm, owner.id.as_str()).await.unwrap();
    assert!(member.last_login_at.is_some(), "last sign-in recorded");
    // The link is used up.
    let (status, _) = app.browser().get_text(&mail.link).await;
    assert_eq!(status, StatusCode::GONE);
    // A staff session is no client session: the portal still asks to sign in.
    let response = browser.get(&app.url(&slug, "/")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
    app.stop().await;
}

#[tokio::test]
async fn scanners_use_nothing_up_and_another_device_needs_the_code() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let member = add_member(&app, &firm, "tess@example.com", "team").await;
    let asking = app.browser();
    asking
        .request_staff_link(&app, &slug, "tess@example.com")
        .await;
    let mail = app.last_link("tess@example.com").await.unwrap();

    // A scanner: HEAD, GET, and the form with no code or junk.
    let scanner = app.browser();
    let head = scanner.client.head(&mail.link).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    let response = scanner.get(&mail.link).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains("Enter your code"), "{html}");
    let csrf = portico_e2e::csrf_in(&html).unwrap();
    for code in ["", "AAAA"] {
        let response = scanner
            .post_form(
                &app.url(&slug, "/staff/auth/magic"),
                &[("token", &mail.token), ("code", code), ("csrf", &csrf)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(scanner.staff_email(&app, &slug).await, None);
    // A HEAD from the asking browser does not consume it either.
    let head = asking.client.head(&mail.link).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);

    // Another device, with the code (any case, no dash).
    let phone = app.browser();
    let typed = mail.code.replace('-', "").to_lowercase();
    let response = phone
        .enter_staff_code(&app, &slug, &mail.token, &typed)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        phone.staff_email(&app, &slug).await.as_deref(),
        Some(member.email.as_str())
    );
    // Single use: the asking browser's click now finds nothing.
    let response = asking.get(&mail.link).await;
    assert_eq!(response.status(), StatusCode::GONE);
    app.stop().await;
}

#[tokio::test]
async fn five_wrong_codes_void_the_link() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let owner = owner(&app, &firm).await;
    app.browser()
        .request_staff_link(&app, &slug, &owner.email)
        .await;
    let mail = app.last_link(&owner.email).await.unwrap();
    let wrong = if mail.code.starts_with('A') {
        "BBBB-BBBB"
    } else {
        "AAAA-AAAA"
    };
    let attacker = app.browser();
    for attempt in 1..=4 {
        let response = attacker
            .enter_staff_code(&app, &slug, &mail.token, wrong)
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "attempt {attempt}"
        );
        assert!(response.text().await.unwrap().contains("not right"));
    }
    let response = attacker
        .enter_staff_code(&app, &slug, &mail.token, wrong)
        .await;
    assert_eq!(response.status(), StatusCode::GONE);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Too many wrong codes")
    );
    let response = app
        .browser()
        .enter_staff_code(&app, &slug, &mail.token, &mail.code)
        .await;
    assert_eq!(response.status(), StatusCode::GONE);
    app.stop().await;
}

#[tokio::test]
async fn concurrent_codes_give_exactly_one_session() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let owner = owner(&app, &firm).await;
    app.browser()
        .request_staff_link(&app, &slug, &owner.email)
        .await;
    let mail = app.last_link(&owner.email).await.unwrap();
    // Every browser has the code page open before any of them submits.
    let mut ready = Vec::new();
    for _ in 0..8 {
        let browser = app.browser();
        let page = format!(
            "{}?token={}",
            app.url(&slug, "/staff/auth/magic"),
            mail.token
        );
        let csrf = browser.csrf(&page).await;
        ready.push((browser, csrf));
    }
    let mut tasks = Vec::new();
    for (browser, csrf) in ready {
        let (url, token, code) = (
            app.url(&slug, "/staff/auth/magic"),
            mail.token.clone(),
            mail.code.clone(),
        );
        tasks.push(tokio::spawn(async move {
            browser
                .post_form(
                    &url,
                    &[
                        ("token", token.as_str()),
                        ("code", code.as_str()),
                        ("csrf", csrf.as_str()),
                    ],
                )
                .await
                .status()
        }));
    }
    let mut won = 0;
    for task in tasks {
        let status = task.await.unwrap();
        if status == StatusCode::SEE_OTHER {
            won += 1;
        } else {
            assert_eq!(status, StatusCode::GONE);
        }
    }
    assert_eq!(won, 1);
    app.stop().await;
}

#[tokio::test]
async fn members_and_unknown_addresses_get_identical_answers_and_only_members_mail() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    add_member(&app, &firm, "tess@example.com", "team").await;
    // A client of the firm is no member.
    app.add_contact(&firm, "ann@example.com", true).await;

    let mut pages = Vec::new();
    for email in ["tess@example.com", "nobody@example.com", "ann@example.com"] {
        let response = app.browser().request_staff_link(&app, &slug, email).await;
        let status = response.status();
        let cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_string())
            .collect();
        let body = response.text().await.unwrap();
        pages.push((status, cookies, without_csrf(&body).replace(email, "EMAIL")));
    }
    assert_eq!(pages[0], pages[1], "member vs unknown");
    assert_eq!(pages[0], pages[2], "member vs client");
    let jobs = app.mail_jobs().await;
    assert_eq!(jobs.len(), 1, "only the member gets a mail");
    assert_eq!(jobs[0].to.email, "tess@example.com");

    // Bad input: a clear 422, never a 500.
    let response = app
        .browser()
        .request_staff_link(&app, &slug, "not-an-address")
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Enter an email address")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_client_link_is_refused_at_the_console_and_a_staff_link_at_the_portal() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let owner = owner(&app, &firm).await;
    app.add_contact(&firm, "ann@example.com", true).await;

    let client = app.browser();
    client.request_link(&app, &slug, "ann@example.com").await;
    let client_mail = app.last_link("ann@example.com").await.unwrap();
    let staff = app.browser();
    staff.request_staff_link(&app, &slug, &owner.email).await;
    let staff_mail = app.last_link(&owner.email).await.unwrap();

    // The client's token at /staff/auth/magic, by GET (with its own binding) and with its code.
    let at_console = format!(
        "{}?token={}",
        app.url(&slug, "/staff/auth/magic"),
        client_mail.token
    );
    assert_eq!(client.get(&at_console).await.status(), StatusCode::GONE);
    let response = client
        .enter_staff_code(&app, &slug, &client_mail.token, &client_mail.code)
        .await;
    assert_eq!(response.status(), StatusCode::GONE);
    // The staff token at /auth/magic, both ways.
    let at_portal = format!(
        "{}?token={}",
        app.url(&slug, "/auth/magic"),
        staff_mail.token
    );
    assert_eq!(staff.get(&at_portal).await.status(), StatusCode::GONE);
    let response = staff
        .enter_code(&app, &slug, &staff_mail.token, &staff_mail.code)
        .await;
    assert_eq!(response.status(), StatusCode::GONE);

    // Neither was used up: each still works where it belongs.
    assert_eq!(
        client.get(&client_mail.link).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        staff.get(&staff_mail.link).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(staff.staff_email(&app, &slug).await.is_some());

    // A token minted for a staff purpose by hand is refused at the portal before Redis.
    let minted = mint_link(
        app.keys(),
        &firm.firm.id,
        LinkPurpose::StaffLogin,
        portico_shared::now_unix() + 60,
    );
    let url = format!(
        "{}?token={}",
        app.url(&slug, "/auth/magic"),
        minted.token.expose()
    );
    assert_eq!(app.browser().get(&url).await.status(), StatusCode::GONE);
    app.stop().await;
}

#[tokio::test]
async fn staff_and_client_counters_are_separate() {
    let app = TestApp::spawn_with(&[("PORTICO_LOGIN_PER_EMAIL", "2/15min")]).await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    add_member(&app, &firm, "both@example.com", "team").await;
    app.add_contact(&firm, "both@example.com", true).await;
    for _ in 0..2 {
        let r = app
            .browser()
            .request_staff_link(&app, &slug, "both@example.com")
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = app
        .browser()
        .request_staff_link(&app, &slug, "BOTH@example.com")
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    // Unknown addresses count the same.
    for _ in 0..2 {
        app.browser()
            .request_staff_link(&app, &slug, "nobody@example.com")
            .await;
    }
    let r = app
        .browser()
        .request_staff_link(&app, &slug, "nobody@example.com")
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // The client's own counter is untouched.
    let r = app
        .browser()
        .request_link(&app, &slug, "both@example.com")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn the_per_ip_limit_covers_staff_sign_in() {
    let app = TestApp::spawn_with(&[("PORTICO_LOGIN_PER_IP", "3/min")]).await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let browser = app.browser();
    let login = app.url(&slug, "/staff/login");
    let csrf = browser.csrf(&login).await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let email = format!("n{i}@example.com");
        let r = browser
            .post_form(&login, &[("email", email.as_str()), ("csrf", &csrf)])
            .await;
        statuses.push(r.status());
    }
    assert_eq!(&statuses[..3], &[StatusCode::OK; 3]);
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}

#[tokio::test]
async fn logout_ends_the_staff_session() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let owner = owner(&app, &firm).await;
    let browser = app.staff_signed_in(&firm, &owner.email).await;
    assert!(browser.staff_email(&app, &slug).await.is_some());
    // Without a CSRF token: refused, still signed in.
    let r = browser
        .post_form(&app.url(&slug, "/staff/logout"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(browser.staff_email(&app, &slug).await.is_some());
    let r = browser.staff_logout(&app, &slug).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/staff/login?signed_out=1");
    let r = browser.get(&app.url(&slug, "/staff/team")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/staff/login");
    app.stop().await;
}

#[tokio::test]
async fn removing_a_member_ends_their_sessions_at_once() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let member = add_member(&app, &firm, "tess@example.com", "team").await;
    let browser = app.staff_signed_in(&firm, "tess@example.com").await;
    assert!(browser.staff_email(&app, &slug).await.is_some());
    // A link asked for before the removal is void with it.
    browser
        .request_staff_link(&app, &slug, "tess@example.com")
        .await;
    let pending = app.last_link("tess@example.com").await.unwrap();
    app.api_ok(
        &firm,
        reqwest::Method::DELETE,
        &format!("/api/v1/team/members/{}", member.id),
        None,
    )
    .await;
    assert_eq!(browser.staff_email(&app, &slug).await, None);
    let response = app
        .browser()
        .enter_staff_code(&app, &slug, &pending.token, &pending.code)
        .await;
    assert_eq!(response.status(), StatusCode::GONE);
    app.stop().await;
}

#[tokio::test]
async fn an_email_change_goes_through_a_link_to_the_new_address_and_ends_other_sessions() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let member = add_member(&app, &firm, "tess@example.com", "team").await;
    let laptop = app.staff_signed_in(&firm, "tess@example.com").await;
    let phone = app.staff_signed_in(&firm, "tess@example.com").await;

    // The name changes at once.
    let r = laptop
        .staff_post(
            &app,
            &slug,
            "/staff/account",
            "/staff/account",
            &[("action", "name"), ("name", "Tess Ray")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        stored_member(&app, &firm, member.id.as_str())
            .await
            .unwrap()
            .name,
        "Tess Ray"
    );
    // Bad addresses and a member's address: 422, nothing sent.
    let jobs_before = app.mail_jobs().await.len();
    let owner = owner(&app, &firm).await;
    for bad in ["not-an-address", owner.email.as_str()] {
        let r = laptop
            .staff_post(
                &app,
                &slug,
                "/staff/account",
                "/staff/account",
                &[("action", "email"), ("email", bad)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(app.mail_jobs().await.len(), jobs_before);

    let r = laptop
        .staff_post(
            &app,
            &slug,
            "/staff/account",
            "/staff/account",
            &[("action", "email"), ("email", "tess@new.example")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Nothing changes until the link is opened.
    assert_eq!(
        stored_member(&app, &firm, member.id.as_str())
            .await
            .unwrap()
            .email,
        "tess@example.com"
    );
    let mail = app
        .last_link("tess@new.example")
        .await
        .expect("mail to the new address");
    assert_eq!(mail.job.template.name(), "staff_email_change");
    // No one-click: even the asking browser is asked for the code.
    let r = laptop.get(&mail.link).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = laptop
        .enter_staff_code(&app, &slug, &mail.token, &mail.code)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/staff/account?email_changed=1");
    assert_eq!(
        stored_member(&app, &firm, member.id.as_str())
            .await
            .unwrap()
            .email,
        "tess@new.example"
    );
    // This browser is signed in with the new address; the other session has ended.
    assert_eq!(
        laptop.staff_email(&app, &slug).await.as_deref(),
        Some("tess@new.example")
    );
    assert_eq!(phone.staff_email(&app, &slug).await, None);
    // The old address signs in no more; the new one does.
    app.browser()
        .request_staff_link(&app, &slug, "tess@example.com")
        .await;
    let count_old = app
        .mail_jobs()
        .await
        .iter()
        .filter(|j| j.to.email == "tess@example.com")
        .count();
    assert_eq!(count_old, 2, "only the two sign-ins from before the change");
    app.stop().await;
}

#[tokio::test]
async fn the_staff_mails_render_and_travel_over_smtp_template_names() {
    // The mailer renders every template at start (self_check); here: the three staff
    // templates are registered and named as their files.
    use portico_shared::mail::Template;
    for (template, name) in [
        (Template::StaffLoginLink, "staff_login_link"),
        (Template::TeamInvitation, "team_invitation"),
        (Template::StaffEmailChange, "staff_email_change"),
    ] {
        assert_eq!(template.name(), name);
        for part in ["subject.txt", "txt", "html"] {
            let path = format!(
                "{}/../templates/email/{name}.{part}",
                env!("CARGO_MANIFEST_DIR")
            );
            assert!(std::path::Path::new(&path).exists(), "{path}");
        }
    }
}

#[tokio::test]
async fn the_new_address_of_an_email_change_is_tagged_with_its_link() {
    let app = TestApp::spawn().await;
    let firm = app.create_firm("acme").await;
    let slug = firm.firm.slug.clone();
    let member = add_member(&app, &firm, "tess@example.com", "team").await;
    let browser = app.staff_signed_in(&firm, "tess@example.com").await;
    let r = browser
        .staff_post(
            &app,
            &slug,
            "/staff/account",
            "/staff/account",
            &[("action", "email"), ("email", "tess@new.example")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mail = app.last_link("tess@new.example").await.unwrap();
    // Someone who can write to Redis points the change at their own address.
    let prefix = &app.config.redis_prefix;
    let mut redis = app.redis.clone();
    let links: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}link:*"))
        .query_async(&mut redis)
        .await
        .unwrap();
    let mut edited = 0;
    for key in links {
        let note: Option<String> = redis::cmd("HGET")
            .arg(&key)
            .arg("note")
            .query_async(&mut redis)
            .await
            .unwrap();
        if note.as_deref() == Some("tess@new.example") {
            let () = redis::cmd("HSET")
                .arg(&key)
                .arg("note")
                .arg("mallory@example.com")
                .query_async(&mut redis)
                .await
                .unwrap();
            edited += 1;
        }
    }
    assert_eq!(edited, 1, "the change's record carries the new address");
    let r = browser
        .enter_staff_code(&app, &slug, &mail.token, &mail.code)
        .await;
    assert_eq!(r.status(), StatusCode::GONE);
    let stored = stored_member(&app, &firm, member.id.as_str())
        .await
        .unwrap();
    assert_eq!(stored.email, "tess@example.com");
    app.stop().await;
}
