//! The engine's side of durability: the journal of changes a host takes after each request,
//! and the two ways recovery puts them back (`restore_control`, `restore_item`). Recovery
//! applies items through `Table::apply`, like any write, with no admission, capacity or
//! replica lag: it is storage putting data back, not a request.

use super::change::{Change, ControlChange};
use crate::api::{Request, Response};
use crate::data::mutation::Mutation;
use crate::data::table::WriteContext;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::partition::REPLICA_COUNT;
use std::borrow::Cow;

impl Engine {
    /// Starts recording every change this engine makes, for [`take_changes`](Self::take_changes).
    pub fn enable_journal(&mut self) {
        self.journal.get_or_insert_with(Vec::new);
        for table in self.tables.values_mut() {
            table.enable_journal();
        }
    }

    pub fn journaling(&self) -> bool {
        self.journal.is_some()
    }

    /// Stops recording changes (what was recorded and not taken is dropped).
    pub fn disable_journal(&mut self) {
        self.journal = None;
        for table in self.tables.values_mut() {
            table.disable_journal();
        }
    }

    /// Executes `request` at `now_ms` and returns what it changed as well as its answer, whether
    /// or not the engine journals otherwise (a journal's pending changes are kept apart and
    /// stay pending).
    pub fn execute_recording(
        &mut self,
        request: Request,
        now_ms: u64,
    ) -> (Result<Response>, Vec<Change>) {
        let was_journaling = self.journaling();
        let mut earlier = Vec::new();
        if was_journaling {
            self.take_changes(&mut earlier);
        } else {
            self.enable_journal();
        }
        let result = self.execute(request, now_ms);
        let mut changes = Vec::new();
        self.take_changes(&mut changes);
        if was_journaling {
            if let Some(journal) = &mut self.journal {
                journal.append(&mut earlier);
            }
        } else {
            self.disable_journal();
        }
        (result, changes)
    }

    /// The stored encoding of the item under stored key `key` of `table`, if there is one.
    pub fn stored_item(&self, table: &str, key: &[u8]) -> Option<Box<[u8]>> {
        self.tables.get(table)?.partitions().get(key).map(Box::from)
    }

    /// The changes made since the last call, in an order that replays to the same state: the
    /// control-plane change of a request, or its item changes (no request makes both).
    pub fn take_changes(&mut self, out: &mut Vec<Change>) {
        let Some(journal) = &mut self.journal else {
            return;
        };
        out.append(journal);
        for table in self.tables.values_mut() {
            for (key, item) in table.take_journal() {
                out.push(Change::Item {
                    table: table.name.clone(),
                    key,
                    item,
                });
            }
        }
    }

    pub(crate) fn journal_control(&mut self, change: Box<ControlChange>) {
        let created = change.request.creates().then(|| change.request.table());
        if let Some(name) = created
            && let Some(table) = self.tables.get_mut(name)
        {
            table.enable_journal();
        }
        if let Some(journal) = &mut self.journal {
            journal.push(Change::Control(change));
        }
    }

    /// How many tables were ever created: numbers the next table's id.
    pub fn table_sequence(&self) -> u64 {
        self.table_sequence
    }

    pub fn set_table_sequence(&mut self, sequence: u64) {
        self.table_sequence = sequence;
    }

    /// Replays a control-plane change at the time it first ran. An error means the recorded
    /// history does not replay (a corrupt or foreign data directory).
    pub fn restore_control(&mut self, change: &ControlChange) -> Result<()> {
        self.table_sequence = change.table_sequence;
        self.execute(change.request.to_request(), change.now_ms)
            .map(|_| ())
    }

    /// The item stored under `key` in `table` (`None`: no such item or table): what a host
    /// that applies changes with [`restore_item`](Self::restore_item) reads as the image
    /// before a change (the simulator's change feed).
    pub fn item_at(&self, table: &str, key: &[u8]) -> Option<crate::types::item::Item> {
        self.tables.get(table)?.get(key)
    }

    /// Puts an item back (or removes it, `item` `None`) under its stored key, as of `now_ms`.
    /// The encoding must have passed `types::encoding::check`.
    pub fn restore_item(
        &mut self,
        table: &str,
        key: &[u8],
        item: Option<&[u8]>,
        now_ms: u64,
    ) -> Result<()> {
        let Some(target) = self.tables.get_mut(table) else {
            return Err(Error::table_not_found(table));
        };
        let before = target.get(key);
        let after = item.map(|bytes| Cow::Owned(crate::types::item::decode(bytes)));
        if before.is_none() && after.is_none() {
            return Ok(());
        }
        let mutation = Mutation {
            key,
            before: before.as_ref(),
            after,
        };
        let context = WriteContext {
            now_ms,
            lags: [0; REPLICA_COUNT],
            gsi_lag_ms: None,
            limits: &self.config.limits,
            origin: crate::data::stream::Origin::Storage,
        };
        target.apply(&mutation, &context);
        Ok(())
    }
}
