// Migrations are embedded by `sqlx::migrate!` (feature `store`); rebuild when they change.
// Without the feature nothing embeds them, so a new migration does not rebuild the mailer.
fn main() {
    if std::env::var_os("CARGO_FEATURE_STORE").is_some() {
        println!("cargo:rerun-if-changed=../migrations");
    } else {
        // Naming any file turns off cargo's default of rerunning on every change in the crate.
        println!("cargo:rerun-if-changed=build.rs");
    }
}
