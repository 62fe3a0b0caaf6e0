// Email templates are compiled into the binary.
fn main() {
    minijinja_embed::embed_templates!("../templates/email", &[".html", ".txt"][..]);
}
