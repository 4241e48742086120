//! `Mutation`: one change to one item of a table, as an operation's plan computed it from the
//! item it read. Every change to a table's items is a `Mutation` applied by `Table::apply`:
//! that one function keeps sizes and indexes in step, and it is where stream records, TTL
//! bookkeeping, item versions and the write-ahead log hook in.

use crate::types::item::Item;

/// A change to the item under `key`: `before` is the item the plan read (None: there was
/// none), `after` the item that replaces it (None: the item is deleted, or, with `before`
/// also None, nothing is written).
#[derive(Clone, Debug, PartialEq)]
pub struct Mutation {
    pub key: Box<[u8]>,
    pub before: Option<Item>,
    pub after: Option<Item>,
}

impl Mutation {
    /// Whether applying this changes the table at all (a delete of a missing item, or an
    /// update that creates nothing, does not).
    pub fn writes(&self) -> bool {
        self.before.is_some() || self.after.is_some()
    }
}
