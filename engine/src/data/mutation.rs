//! `Mutation`: one change to one item of a table, as an operation's plan computed it from the
//! item it read. Every change to a table's items is a `Mutation` applied by `Table::apply`:
//! that one function keeps sizes and indexes in step, and it is where stream records, TTL
//! bookkeeping, item versions and the write-ahead log hook in.

use crate::types::item::Item;
use std::borrow::Cow;

/// A change to the item under `key`: `before` is the item the plan read (None: there was
/// none), `after` the item that replaces it (None: the item is deleted, or, with `before`
/// also None, nothing is written). It borrows what it can from the plan and the item read,
/// so that a put copies no item: a write path that must keep it (a log, a stream record)
/// takes an owned copy.
#[derive(Clone, Debug, PartialEq)]
pub struct Mutation<'a> {
    pub key: &'a [u8],
    pub before: Option<&'a Item>,
    pub after: Option<Cow<'a, Item>>,
}
