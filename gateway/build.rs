// Portal templates are compiled into the binary, so a release never depends on the working
// directory.
fn main() {
    minijinja_embed::embed_templates!("../templates/portal", &[".html"][..]);
}
