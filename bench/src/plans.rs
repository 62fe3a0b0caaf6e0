//! The SQL each request ran, read from a gateway that logs its statements, and the plan lines
//! that read more than a page needs.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};

/// Statements logged by `sqlx::query`, in order, by the `x-request-id` of their request,
/// each on one line with its whitespace collapsed; connection setup is left out.
pub fn statements_by_request(log: &Path) -> Result<HashMap<String, Vec<String>>> {
    let text =
        std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
    let mut by_request: HashMap<String, Vec<String>> = HashMap::new();
    for line in text.lines() {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if event["target"] != "sqlx::query" {
            continue;
        }
        let Some(sql) = event["db.statement"]
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| event["summary"].as_str())
        else {
            continue;
        };
        let request = event["spans"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|span| span["name"] == "request")
            .and_then(|span| span["id"].as_str());
        let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        // A pool opening a connection during the request runs SQLite's PRAGMAs: setup of the
        // connection, not a query of the page.
        if sql.starts_with("PRAGMA ") {
            continue;
        }
        if let Some(request) = request {
            by_request.entry(request.to_string()).or_default().push(sql);
        }
    }
    Ok(by_request)
}

/// Results a SQLite plan builds in memory (subqueries, `CO-ROUTINE`s, `MATERIALIZE`d views):
/// scanning one of them reads only what the plan put there, not a table.
fn intermediates(plan: &[String]) -> Vec<&str> {
    plan.iter()
        .filter_map(|line| {
            let line = line.trim_start();
            line.strip_prefix("CO-ROUTINE ")
                .or_else(|| line.strip_prefix("MATERIALIZE "))
        })
        .collect()
}

/// Why a plan line reads more than the client's rows, if it does: a whole table or index
/// ("full scan"), or every row of the firm with the client's scope applied after reading
/// ("firm-wide": the index stops at `firm_id`). `plan` is the whole plan the line is from.
pub fn unbounded(line: &str, plan: &[String]) -> Option<&'static str> {
    let line = line.trim_start();
    // SQLite: "SCAN t" or "SCAN t USING INDEX …" walk everything; "SEARCH" is bounded by
    // its constraint, which must go past the firm.
    if let Some(scanned) = line.strip_prefix("SCAN ") {
        let name = scanned.split(" USING ").next().unwrap_or(scanned);
        let in_memory = name == "CONSTANT ROW"
            || name.starts_with("(subquery-")
            || intermediates(plan).contains(&name);
        return (!in_memory).then_some("FULL SCAN");
    }
    // A search of a table's primary key by firm (the firm's portal version) reads one row.
    if line.starts_with("SEARCH ")
        && line.ends_with("(firm_id=?)")
        && !line.contains(" USING PRIMARY KEY ")
    {
        return Some("FIRM-WIDE READ");
    }
    // PostgreSQL: a sequential scan of any seeded table; a contact filter after an index read.
    if line.contains("Seq Scan on ") {
        return Some("FULL SCAN");
    }
    if line.starts_with("Filter:") && line.contains("contact_id") {
        return Some("FIRM-WIDE READ");
    }
    None
}

/// Whether line `n` of a SQLite plan reads a whole firm's part of an index once per row of an
/// outer loop: a `SEARCH` that follows another `SEARCH` or `SCAN` at its depth (the inner
/// table of a join) and whose constraint names no id but `firm_id` (for instance
/// `(firm_id=? AND awaiting_reply=?)`). [`unbounded`] sees each line alone and misses it.
pub fn firm_wide_per_row(plan: &[String], n: usize) -> Option<&'static str> {
    let depth = |line: &str| line.len() - line.trim_start().len();
    let line = plan.get(n)?;
    let text = line.trim_start();
    if !text.starts_with("SEARCH ") {
        return None;
    }
    let inner = plan[..n]
        .iter()
        .rev()
        .take_while(|l| depth(l) >= depth(line))
        .any(|l| {
            depth(l) == depth(line)
                && (l.trim_start().starts_with("SEARCH ") || l.trim_start().starts_with("SCAN "))
        });
    let constraint = text.rsplit_once('(')?.1.strip_suffix(')')?;
    let keyed = constraint.split(" AND ").any(|term| {
        let column = term.split(['=', '<', '>']).next().unwrap_or("");
        column == "id" || (column.ends_with("_id") && column != "firm_id")
    });
    (inner && !keyed).then_some("FIRM-WIDE READ PER ROW")
}

/// The tables a benchmark fills at the size of its big firm: reading one of them by the firm
/// alone reads that firm's every row.
const FIRM_SIZED: [&str; 11] = [
    "contacts",
    "invitations",
    "contact_members",
    "client_accounts",
    "tasks",
    "task_assignees",
    "checklist_items",
    "conversations",
    "messages",
    "signing_requests",
    "activity",
];

/// Whether line `n` of a PostgreSQL plan reads a whole firm's range of an index of a table
/// filled at firm size: an `Index Cond: (firm_id = $k)` and nothing more, under the scan of
/// such a table. A generic plan prices that range as an average firm's (a few dozen rows in a
/// benchmark with many small firms) and may hash-join it, reading the big firm's every row;
/// [`unbounded`] sees no `Seq Scan` or contact filter there and misses it.
pub fn firm_range(plan: &[String], n: usize) -> Option<&'static str> {
    let condition = plan
        .get(n)?
        .trim_start()
        .strip_prefix("Index Cond: (firm_id = $")?;
    let only_firm = condition
        .strip_suffix(')')
        .is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()));
    // A bitmap index scan names its index; the heap scan above it names the table.
    let scan = plan[..n]
        .iter()
        .rev()
        .find(|l| l.contains(" Scan ") && !l.contains("Bitmap Index Scan"))?;
    let table = scan.split(" on ").nth(1)?.split_whitespace().next()?;
    (only_firm && FIRM_SIZED.contains(&table)).then_some("FIRM-WIDE INDEX RANGE")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn a_firm_wide_search_inside_a_join_is_flagged() {
        let joined = plan(&[
            "SEARCH cm USING COVERING INDEX contact_members_by_member (member_id=?)",
            "SEARCH c USING INDEX sqlite_autoindex_contacts_1 (id=?)",
            "SEARCH cv USING INDEX conversations_waiting (firm_id=? AND awaiting_reply=?)",
            "USE TEMP B-TREE FOR ORDER BY",
        ]);
        assert_eq!(firm_wide_per_row(&joined, 0), None, "the outer loop");
        assert_eq!(firm_wide_per_row(&joined, 1), None, "keyed by id");
        assert_eq!(
            firm_wide_per_row(&joined, 2),
            Some("FIRM-WIDE READ PER ROW")
        );
        assert_eq!(firm_wide_per_row(&joined, 3), None);
    }

    #[test]
    fn a_postgres_range_of_the_firm_alone_is_flagged_on_firm_sized_tables() {
        let hashed = plan(&[
            "Hash Join  (cost=4.85..18.20 rows=1 width=26)",
            "  Hash Cond: (mac.id = macm.contact_id)",
            "  ->  Index Only Scan using contacts_by_account on contacts mac  (cost=0.42..13.59 rows=67 width=52)",
            "        Index Cond: (firm_id = $1)",
            "  ->  Hash  (cost=4.37..4.37 rows=5 width=26)",
            "        ->  Index Only Scan using contact_members_by_member on contact_members macm  (cost=0.29..4.37 rows=5 width=26)",
            "              Index Cond: (member_id = $2)",
        ]);
        assert_eq!(firm_range(&hashed, 3), Some("FIRM-WIDE INDEX RANGE"));
        assert!(
            (0..hashed.len())
                .filter(|&n| n != 3)
                .all(|n| firm_range(&hashed, n).is_none())
        );
        let bounded = plan(&[
            "Index Scan using conversations_waiting on conversations cv  (cost=0.28..311.18 rows=1251 width=135)",
            "  Index Cond: ((firm_id = $1) AND (awaiting_reply = true))",
            "Index Scan using members_by_role on members m  (cost=0.28..8.30 rows=1 width=118)",
            "  Index Cond: (firm_id = $1)",
        ]);
        assert!((0..bounded.len()).all(|n| firm_range(&bounded, n).is_none()));
    }

    #[test]
    fn keyed_inner_searches_and_lone_searches_are_not() {
        let keyed = plan(&[
            "SEARCH cm USING COVERING INDEX contact_members_by_member (member_id=?)",
            "SEARCH s USING INDEX signing_requests_by_contact_status (firm_id=? AND contact_id=? AND status=?)",
            "SEARCH a USING INDEX activity_by_contact (contact_id=? AND created_at>?)",
        ]);
        assert!((0..3).all(|n| firm_wide_per_row(&keyed, n).is_none()));
        let lone =
            plan(&["SEARCH t USING INDEX tasks_by_due (firm_id=? AND status=? AND due_date<?)"]);
        assert_eq!(firm_wide_per_row(&lone, 0), None);
        let nested = plan(&[
            "CO-ROUTINE b0",
            "  SEARCH c USING INDEX contacts_console_name (firm_id=? AND portal_access=?)",
            "SCAN b0",
        ]);
        assert!((0..3).all(|n| firm_wide_per_row(&nested, n).is_none()));
    }
}
