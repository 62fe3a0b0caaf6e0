//! What a signed-in client may see (SPEC §3, §13), written once for every portal query.
//!
//! An item of the firm, shared to the portal, is visible to contact C when it is assigned to
//! C (a task's assignee, the `contact_id` of an invoice, conversation or signing request), or
//! when C's permission set sees the account and the item is shared with C's account
//! (`account_id`) or assigned to any contact of that account.
//!
//! The account is bound as NULL for a viewer whose set does not see the account, so the
//! account's branches match nothing and one statement serves both kinds of viewer: a page's
//! statement count never depends on the set, nor on the size of the account.

use crate::ids::{ClientAccountId, ContactId};

/// Who is looking: the contact, and the account whose items they see as a whole (`None` for
/// client staff, who see only what is assigned to them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientViewer {
    pub contact_id: ContactId,
    pub account: Option<ClientAccountId>,
}

impl ClientViewer {
    /// A viewer who sees only what is assigned to them.
    pub fn own(contact_id: ContactId) -> Self {
        ClientViewer {
            contact_id,
            account: None,
        }
    }
}

/// The ids of the tasks visible to the viewer, as a subquery without duplicates (`task_id`):
/// assigned to contact `$c`, shared with account `$a`, or assigned to a contact of account
/// `$a` (`$f` the firm). Each branch reads one range of an index of its own, so a list drives
/// from it (`FROM` this `CROSS JOIN tasks`: SQLite keeps that order, and PostgreSQL has the
/// statistics to choose it) and never from the firm's tasks. Whether the task is shared to the
/// portal at all (`t.portal`) is checked by the caller on the task row.
macro_rules! visible_task_ids {
    ($f:literal, $c:literal, $a:literal) => {
        concat!(
            "(SELECT va.task_id FROM task_assignees va WHERE va.firm_id = ",
            $f,
            " AND va.contact_id = ",
            $c,
            " UNION SELECT vt.id FROM tasks vt WHERE vt.firm_id = ",
            $f,
            " AND vt.account_id = ",
            $a,
            " UNION SELECT vm.task_id FROM task_assignees vm WHERE vm.firm_id = ",
            $f,
            " AND vm.contact_id IN (SELECT vc.id FROM contacts vc WHERE vc.firm_id = ",
            $f,
            " AND vc.account_id = ",
            $a,
            "))"
        )
    };
}

/// The ids (`visible_id`) of the rows of `$table` (invoices, conversations or signing requests: a
/// `contact_id` and an `account_id`) visible to the viewer, without duplicates, for lists to
/// drive from as [`visible_task_ids`] is.
macro_rules! visible_ids {
    ($table:literal, $f:literal, $c:literal, $a:literal) => {
        concat!(
            "(SELECT vx.id AS visible_id FROM ",
            $table,
            " vx WHERE vx.firm_id = ",
            $f,
            " AND vx.contact_id = ",
            $c,
            " UNION SELECT vx.id FROM ",
            $table,
            " vx WHERE vx.firm_id = ",
            $f,
            " AND vx.account_id = ",
            $a,
            " UNION SELECT vx.id FROM ",
            $table,
            " vx WHERE vx.firm_id = ",
            $f,
            " AND vx.contact_id IN (SELECT vc.id FROM contacts vc WHERE vc.firm_id = ",
            $f,
            " AND vc.account_id = ",
            $a,
            "))"
        )
    };
}

/// Row `$row` (of invoices, conversations or signing requests: a `contact_id` and an
/// `account_id`) is visible to the viewer (firm `$f`, contact `$c`, account `$a`); for
/// statements that find the row by its id first.
macro_rules! visible_by_contact {
    ($row:literal, $f:literal, $c:literal, $a:literal) => {
        concat!(
            "(",
            $row,
            ".contact_id = ",
            $c,
            " OR ",
            $row,
            ".account_id = ",
            $a,
            " OR ",
            $row,
            ".contact_id IN (SELECT vc.id FROM contacts vc WHERE vc.firm_id = ",
            $f,
            " AND vc.account_id = ",
            $a,
            "))"
        )
    };
}

/// Contact `$c` (an alias of `contacts`) is a client manager: their set is `client_manager`,
/// or a custom set of the firm's built on it. Managers see what is shared with their account
/// and are told of it ([`AccountStore::account_managers`](super::AccountStore), the tasks'
/// audience).
macro_rules! is_account_manager {
    ($c:literal) => {
        concat!(
            "(",
            $c,
            ".permission_set = 'client_manager' OR EXISTS (SELECT 1 FROM permission_sets mps \
             WHERE mps.firm_id = ",
            $c,
            ".firm_id AND mps.id = ",
            $c,
            ".permission_set AND mps.base = 'client_manager'))"
        )
    };
}
