//! The forms and query strings of signing in with a magic link, the same for the portal
//! (`/login`, `/auth/magic`) and the console (`/staff/login`, `/staff/auth/magic`): each side
//! has its own pages and link purposes, but asks the same questions in the same fields.

use serde::Deserialize;

use super::csrf::CsrfProtected;

/// `POST …/login`: the address to mail a link to.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    csrf: String,
}

impl CsrfProtected for LoginForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `GET …/login`: `?signed_out=1` after signing out.
#[derive(Deserialize)]
pub struct LoginQuery {
    pub signed_out: Option<String>,
}

/// `GET …/auth/magic?token=`: the link as opened.
#[derive(Deserialize)]
pub struct LinkQuery {
    pub token: Option<String>,
}

/// `POST …/auth/magic`: the link's token and the code typed from the same email.
#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    csrf: String,
}

impl CsrfProtected for CodeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}
