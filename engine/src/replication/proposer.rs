//! A leader's side of a log that carries mutations, not requests: the leader executes a write
//! once, against its applied state plus what it proposed and has not applied yet, and proposes
//! the resulting changes; every replica (the leader too) then applies those changes when they
//! commit (`Engine::restore_item`). Followers never evaluate a condition, an update expression
//! or a capacity rule, so replicas cannot diverge when conditions depend on time, versions or
//! capacity state.
//!
//! [`Proposer`] keeps, per key, the newest image proposed by an entry not yet applied. To
//! execute a write it puts that image in place, executes, takes the changes, and puts the
//! applied image back: the engine only ever holds applied entries between calls, which is what
//! local reads (eventually consistent reads, a leased leader's strong reads) must see.
//!
//! The host keeps the images in step with its log: [`proposed`](Proposer::proposed) after a
//! proposal, [`applied`](Proposer::applied) after applying an index, and
//! [`rebuild`](Proposer::rebuild) from the log's unapplied suffix whenever it becomes leader (a
//! new leader's log may hold entries of earlier terms that will commit before its own).

use crate::api::{Request, WriteInput};
use crate::engine::{Engine, table_name_of};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::common::check_item;
use crate::storage::change::Change;
use std::collections::BTreeMap;

/// A write executed by a leader: its answer, and the changes to put in the log.
#[derive(Debug)]
pub struct Proposal {
    pub result: Result<crate::Response>,
    pub changes: Vec<Change>,
}

/// The newest proposed image of each (table, stored key) that entries not yet applied write:
/// the index of the newest such entry, and the image (`None`: deleted).
type Images = BTreeMap<(String, Box<[u8]>), (u64, Option<Box<[u8]>>)>;

#[derive(Debug, Default)]
pub struct Proposer {
    images: Images,
}

impl Proposer {
    pub fn new() -> Proposer {
        Proposer::default()
    }

    /// Executes the single-item write `request` (PutItem, UpdateItem, DeleteItem) at `now_ms` as
    /// the leader sees the item: its applied state overlaid with the newest proposal not yet
    /// applied. The engine is left holding its applied state. Other requests are refused with
    /// an InternalServerError: a multi-item write cannot be proposed as one item's mutation.
    pub fn execute(&self, engine: &mut Engine, request: Request, now_ms: u64) -> Proposal {
        self.execute_with(engine, request, now_ms, true)
    }

    /// [`execute`](Self::execute) against the applied state alone, ignoring proposals not yet
    /// applied: the broken variant a lost-update checker must catch (a counter incremented
    /// twice from the same value).
    pub fn execute_ignoring_proposals(
        &self,
        engine: &mut Engine,
        request: Request,
        now_ms: u64,
    ) -> Proposal {
        self.execute_with(engine, request, now_ms, false)
    }

    fn execute_with(
        &self,
        engine: &mut Engine,
        request: Request,
        now_ms: u64,
        overlay: bool,
    ) -> Proposal {
        debug_assert!(
            !engine.journaling(),
            "a mutation log is the host's journal: the engine keeps none"
        );
        let input = match &request {
            Request::PutItem(input) | Request::UpdateItem(input) | Request::DeleteItem(input) => {
                input
            }
            _ => {
                return Proposal {
                    result: Err(Error::new(
                        ErrorKind::InternalServerError,
                        "Only single-item writes are proposed as mutations.",
                    )),
                    changes: Vec::new(),
                };
            }
        };
        // A request whose key does not resolve changes nothing: the engine answers its error.
        let Some((table, key)) = write_target(engine, &request, input) else {
            let (result, changes) = engine.execute_recording(request, now_ms);
            debug_assert!(changes.is_empty(), "a write without a key changed nothing");
            return Proposal { result, changes };
        };
        let applied = engine.stored_item(&table, &key);
        let proposed = overlay
            .then(|| self.images.get(&(table.clone(), key.clone())))
            .flatten();
        if let Some((_, image)) = proposed {
            put_back(engine, &table, &key, image.as_deref(), now_ms);
        }
        let (result, changes) = engine.execute_recording(request, now_ms);
        if proposed.is_some() || !changes.is_empty() {
            put_back(engine, &table, &key, applied.as_deref(), now_ms);
        }
        Proposal { result, changes }
    }

    /// The host proposed `changes` at log index `index`.
    pub fn proposed(&mut self, index: u64, changes: &[Change]) {
        for change in changes {
            if let Change::Item { table, key, item } = change {
                self.images
                    .insert((table.clone(), key.clone()), (index, item.clone()));
            }
        }
    }

    /// The host applied every entry up to `index`: the images they proposed are the applied
    /// state now.
    pub fn applied(&mut self, index: u64) {
        if self.images.is_empty() {
            return;
        }
        self.images.retain(|_, (at, _)| *at > index);
    }

    /// Starts again from the log's unapplied suffix: `entries` are (index, changes) in log
    /// order.
    pub fn rebuild<'a>(&mut self, entries: impl IntoIterator<Item = (u64, &'a [Change])>) {
        self.images.clear();
        for (index, changes) in entries {
            self.proposed(index, changes);
        }
    }

    /// How many keys have a proposal not yet applied.
    pub fn pending_keys(&self) -> usize {
        self.images.len()
    }
}

/// The table and stored key a single-item write names, if they resolve.
fn write_target(
    engine: &Engine,
    request: &Request,
    input: &WriteInput,
) -> Option<(String, Box<[u8]>)> {
    let name = table_name_of(input.table_name.as_deref()?);
    let table = engine.table(name)?;
    let key = match request {
        Request::PutItem(_) => table
            .key_schema
            .item_key(&check_item(input.item.as_ref()?).ok()?),
        _ => table
            .key_schema
            .key_parameter(&check_item(input.key.as_ref()?).ok()?),
    }
    .ok()?;
    Some((name.to_string(), key))
}

/// Puts `image` back under `key` without journaling it: storage putting state back, not a
/// change to propose.
fn put_back(engine: &mut Engine, table: &str, key: &[u8], image: Option<&[u8]>, now_ms: u64) {
    engine
        .restore_item(table, key, image, now_ms)
        .expect("the table exists: its key resolved");
}
