//! Server-rendered pages: minijinja templates from `templates/portal/`, embedded at build time,
//! HTML-escaped by default.

use minijinja::Environment;
use serde::Serialize;

use crate::error::{Error, Result};

pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        let mut env = Environment::new();
        minijinja_embed::load_templates!(&mut env);
        Templates { env }
    }
}

impl Templates {
    pub fn render(&self, name: &str, context: impl Serialize) -> Result<String> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(context))
            .map_err(|e| Error::Internal(anyhow::anyhow!("rendering {name}: {e:#}")))
    }
}
