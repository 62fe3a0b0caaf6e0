// Page templates are compiled into the binary, so a release never depends on the working
// directory. They are named by their path below `templates/`: `portal/home.html` (the client
// portal), `console/contacts.html` (the staff console). The mailer renders `email/` itself.
fn main() {
    minijinja_embed::embed_templates!("../templates", &[".html"][..]);
}
