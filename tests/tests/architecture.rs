//! The gateway's layout, read from its source: the `use` lines (and paths written inline) of
//! every file under `gateway/src`, resolved to the files they name.
//!
//! - No route module imports another route module (a route module is a file of a route group,
//!   `http/portal/` or `http/api/`, that exports `router` or `routes`; a group's `mod.rs`
//!   merges its own route modules and is not one).
//! - The portal, the console and the API never import each other, and neither does the ops
//!   group.
//! - Nothing below `http` (services, state, error, rendering…) imports `http`, `app` or `cli`.
//! - The files import each other without a circle.
//!
//! A checker that finds nothing proves little, so the first test feeds it sources that break
//! each rule and expects each break to be named.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path below the crate root, e.g. `["http", "portal", "tasks"]`.
type Module = Vec<String>;

/// The crate's modules (each a file) with their source.
struct Crate {
    files: BTreeMap<Module, String>,
}

impl Crate {
    fn read(root: &Path) -> Crate {
        let mut files = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read gateway/src") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let source = std::fs::read_to_string(&path).expect("read a source file");
                    files.insert(module_of(root, &path), source);
                }
            }
        }
        Crate { files }
    }

    fn from_sources(sources: &[(&str, &str)]) -> Crate {
        let root = PathBuf::from("/src");
        Crate {
            files: sources
                .iter()
                .map(|(path, source)| (module_of(&root, &root.join(path)), source.to_string()))
                .collect(),
        }
    }

    /// The module (file) a path names: its longest prefix that is a file.
    fn resolve(&self, path: &[String]) -> Option<Module> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|m| self.files.contains_key(m))
    }

    /// Every file each file imports (itself left out).
    fn imports(&self) -> BTreeMap<Module, BTreeSet<Module>> {
        self.files
            .iter()
            .map(|(module, source)| {
                let found = referenced_paths(module, source)
                    .into_iter()
                    .filter_map(|path| self.resolve(&path))
                    .filter(|target| target != module)
                    .collect();
                (module.clone(), found)
            })
            .collect()
    }
}

/// `lib.rs` and `main.rs` are the root; `a/mod.rs` is `a`; `a/b.rs` is `a::b`.
fn module_of(root: &Path, file: &Path) -> Module {
    let relative = file.strip_prefix(root).expect("under the root");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The source without comments, string literals and `#[cfg(test)]` modules (tests may reach
/// into their parent).
fn code_of(source: &str) -> String {
    let mut code = String::with_capacity(source.len());
    for line in source.lines() {
        let line = match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    if let Some(at) = code.find("#[cfg(test)]\nmod tests") {
        code.truncate(at);
    }
    // Drop string literals, which may hold text that looks like a path.
    let mut out = String::with_capacity(code.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in code.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// Every path starting with `crate::` or `super::` the file names, in `use` declarations
/// (groups in braces expanded) or inline, made absolute.
fn referenced_paths(module: &Module, source: &str) -> Vec<Module> {
    let code = code_of(source);
    let mut paths = Vec::new();
    // `use` declarations, up to their `;`.
    let mut rest = code.as_str();
    while let Some(at) = find_use(rest) {
        let after = &rest[at..];
        let end = after.find(';').unwrap_or(after.len());
        let tree: String = after[..end]
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub ")
            .trim_start_matches("use ")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        for path in expand(&tree) {
            paths.push(path);
        }
        rest = &after[end..];
    }
    // Inline paths anywhere (`crate::http::views::rows(…)`, `super::files::x`).
    let bytes = code.as_bytes();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(start) {
            let at = from + found;
            let boundary =
                at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
            let preceded_by_path = at >= 2 && &code[at - 2..at] == "::";
            let end = code[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| at + e);
            if boundary && !preceded_by_path {
                paths.push(code[at..end].split("::").map(str::to_string).collect());
            }
            from = end.max(at + start.len());
        }
    }
    paths
        .into_iter()
        .filter_map(|path| absolute(module, path))
        .collect()
}

fn find_use(code: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = code[from..].find("use ") {
        let at = from + found;
        let line_start = code[..at].rfind('\n').map_or(0, |n| n + 1);
        let before = code[line_start..at].trim();
        if before.is_empty() || before == "pub" || before == "pub(crate)" {
            return Some(line_start + code[line_start..].find(before).unwrap_or(0));
        }
        from = at + 4;
    }
    None
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e` (`self` names the prefix itself).
fn expand(tree: &str) -> Vec<Vec<String>> {
    let Some(open) = tree.find('{') else {
        let path: Vec<String> = tree
            .split("::")
            .filter(|s| !s.is_empty() && *s != "self")
            .map(|s| s.split(" as ").next().unwrap_or(s).to_string())
            .collect();
        return vec![path];
    };
    let prefix = tree[..open].trim_end_matches("::");
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|item| !item.is_empty())
        .flat_map(|item| expand(&format!("{prefix}::{item}")))
        .collect()
}

/// A `crate::…` or `super::…` path as a path from the crate root; other paths (other crates,
/// the file's own items) as `None`.
fn absolute(module: &Module, path: Vec<String>) -> Option<Module> {
    let mut parts = path.into_iter().peekable();
    match parts.peek().map(String::as_str) {
        Some("crate") => {
            parts.next();
            Some(parts.collect())
        }
        Some("super") => {
            let mut base = module.clone();
            while parts.peek().map(String::as_str) == Some("super") {
                parts.next();
                base.pop()?;
            }
            base.extend(parts);
            Some(base)
        }
        _ => None,
    }
}

const GROUPS: [&str; 4] = ["portal", "console", "api", "ops"];

/// The route group a module belongs to (`http::portal::…` → `portal`).
fn group_of(module: &Module) -> Option<&str> {
    match module.as_slice() {
        [http, group, ..] if http == "http" && GROUPS.contains(&group.as_str()) => {
            Some(group.as_str())
        }
        _ => None,
    }
}

fn is_route_module(krate: &Crate, module: &Module) -> bool {
    module.len() >= 3
        && group_of(module).is_some()
        && krate.files.get(module).is_some_and(|source| {
            let code = code_of(source);
            code.contains("pub fn router(") || code.contains("pub fn routes(")
        })
}

/// Every broken rule, one line each.
fn violations(krate: &Crate) -> Vec<String> {
    let imports = krate.imports();
    let name = |m: &Module| {
        if m.is_empty() {
            "crate".to_string()
        } else {
            m.join("::")
        }
    };
    let mut found = Vec::new();
    for (from, targets) in &imports {
        for to in targets {
            if is_route_module(krate, from) && is_route_module(krate, to) {
                found.push(format!(
                    "route module {} imports route module {}",
                    name(from),
                    name(to)
                ));
            }
            if let (Some(a), Some(b)) = (group_of(from), group_of(to))
                && a != b
            {
                found.push(format!(
                    "the {a} group ({}) imports the {b} group ({})",
                    name(from),
                    name(to)
                ));
            }
            let below_http = !matches!(
                from.first().map(String::as_str),
                None | Some("http" | "app" | "cli")
            );
            let upward = matches!(to.first().map(String::as_str), Some("http" | "app" | "cli"));
            if below_http && upward {
                found.push(format!(
                    "{} imports {}, a floor above it",
                    name(from),
                    name(to)
                ));
            }
        }
    }
    found.extend(circles(&imports).into_iter().map(|circle| {
        let names: Vec<String> = circle.iter().map(&name).collect();
        format!("import circle: {}", names.join(" → "))
    }));
    found
}

/// The circles of the import graph, each once (depth-first search with an explicit path).
fn circles(imports: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &Module,
        imports: &BTreeMap<Module, BTreeSet<Module>>,
        marks: &mut BTreeMap<Module, Mark>,
        path: &mut Vec<Module>,
        found: &mut Vec<Vec<Module>>,
    ) {
        marks.insert(node.clone(), Mark::Open);
        path.push(node.clone());
        for next in imports.get(node).into_iter().flatten() {
            match marks.get(next) {
                Some(Mark::Open) => {
                    let start = path.iter().position(|m| m == next).unwrap_or(0);
                    let mut circle = path[start..].to_vec();
                    circle.push(next.clone());
                    found.push(circle);
                }
                Some(Mark::Done) => {}
                None => visit(next, imports, marks, path, found),
            }
        }
        path.pop();
        marks.insert(node.clone(), Mark::Done);
    }
    let mut marks = BTreeMap::new();
    let mut found = Vec::new();
    for node in imports.keys() {
        if !marks.contains_key(node) {
            visit(node, imports, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    found
}

#[test]
fn the_checker_names_each_kind_of_break() {
    let krate = Crate::from_sources(&[
        (
            "lib.rs",
            "pub mod http;\npub mod services;\npub mod state;\n",
        ),
        (
            "http/mod.rs",
            "pub mod api;\npub mod portal;\npub mod layout;\n",
        ),
        ("http/layout.rs", "pub fn page() {}\n"),
        (
            "http/portal/mod.rs",
            "mod home;\nmod tasks;\npub fn router() { home::router(); }\n",
        ),
        (
            "http/portal/home.rs",
            "use super::tasks::today;\nuse crate::http::layout::page;\npub fn router() {}\n",
        ),
        (
            "http/portal/tasks.rs",
            "// use crate::http::api::contacts; is only a comment\n\
             pub fn router() { let _ = \"crate::http::api::x\"; }\npub fn today() {}\n",
        ),
        ("http/api/mod.rs", "mod contacts;\npub fn router() {}\n"),
        (
            "http/api/contacts.rs",
            "use crate::http::{layout::page, portal::{self}};\npub fn routes() {}\n",
        ),
        ("services/mod.rs", "pub mod links;\n"),
        (
            "services/links.rs",
            "use crate::state::AppState;\nfn f() { crate::http::layout::page(); }\n",
        ),
        ("state.rs", "use crate::services::links;\n"),
    ]);
    let found = violations(&krate);
    let expected = [
        "route module http::portal::home imports route module http::portal::tasks",
        "the api group (http::api::contacts) imports the portal group (http::portal)",
        "services::links imports http::layout, a floor above it",
        "import circle: services::links → state → services::links",
    ];
    for line in expected {
        assert!(
            found.iter().any(|f| f == line),
            "expected {line:?} among {found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "only these: {found:#?}");
}

#[test]
fn the_gateway_keeps_its_floors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gateway/src");
    let krate = Crate::read(&root);
    assert!(
        krate.files.len() > 40,
        "read the gateway's sources ({} files)",
        krate.files.len()
    );
    let routes = krate
        .files
        .keys()
        .filter(|m| is_route_module(&krate, m))
        .count();
    assert!(routes >= 15, "found the route modules ({routes})");
    let found = violations(&krate);
    assert!(
        found.is_empty(),
        "the layout is broken:\n{}",
        found.join("\n")
    );
}
