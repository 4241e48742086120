//! The engine: a catalog of tables driven by requests and the caller's clock.
//!
//! `execute(request, now_ms)` is the one entry point. It reads no clock, draws no randomness
//! and does no IO; two engines fed the same requests at the same times answer the same.

use crate::api::*;
use crate::capacity::metrics::Series;
use crate::data::mutation::Mutation;
use crate::data::table::{self, Status, Table};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::ops;
use crate::realism::profile::{Profile, Realism};
use crate::storage::change::{Change, ControlChange, ControlRequest};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct Config {
    pub region: String,
    pub account_id: String,
    /// The address DescribeEndpoints reports (host and port, no scheme).
    pub endpoint_address: String,
    pub limits: Limits,
    /// The host partitions and replicates every table itself (the simulator: each storage
    /// node's engine holds one partition of the host's map): a table is then one partition
    /// with no replica group of its own, never split or grown by the engine, admitting the
    /// share of its table's throughput one of the table's partitions would
    /// (`partition::Partitions::hosted`). Off: the engine partitions and replicates tables
    /// (`serve`).
    pub hosted_partitions: bool,
    /// How long after its expiry the TTL sweep deletes an item (`serve --ttl-delay-ms`), unless
    /// a profile draws it; 0: as soon as the timer notices.
    pub ttl_delay_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            endpoint_address: "localhost:8000".into(),
            limits: Limits::default(),
            hosted_partitions: false,
            ttl_delay_ms: 0,
        }
    }
}

#[derive(Debug, Default)]
pub struct Engine {
    pub(crate) config: Config,
    /// The realism profile in force and its seeded draws (nothing by default).
    pub(crate) realism: Realism,
    /// Account-level series (UserErrors, SystemErrors are published per account).
    pub account_metrics: Series,
    pub(crate) tables: BTreeMap<String, Table>,
    /// Counts tables ever created; feeds deterministic table ids.
    pub(crate) table_sequence: u64,
    /// Control-plane changes not taken yet, when a host persists changes
    /// (`storage::change`); `None` when it does not.
    pub(crate) journal: Option<Vec<Change>>,
    /// The streams of deleted tables, readable until their retention ends.
    pub(crate) retired_streams: Vec<crate::data::stream::Stream>,
    /// The broken variant the TTL tests must catch: the sweep deletes what its index says is
    /// due without re-checking the current item. Off, always, outside those tests.
    pub ttl_sweep_skips_recheck: bool,
    /// Transactions: a participant per table, the ledger, the ClientRequestToken window.
    pub(crate) transactions: crate::txn::host::Transactions,
    /// Transactions waiting out the profile's commit delay, their items held prepared.
    pub(crate) pending_transactions:
        BTreeMap<crate::txn::TxId, crate::ops::transact_write_items::PendingCommit>,
    /// Answers of delayed transactions the timer committed, kept until their host asks
    /// (`finish_transaction`), with when they were committed.
    pub(crate) finished_transactions: BTreeMap<crate::txn::TxId, (u64, Response)>,
}

/// Accepts a table name or a table ARN where AWS does.
pub fn table_name_of(name_or_arn: &str) -> &str {
    match name_or_arn.strip_prefix("arn:") {
        Some(rest) => rest
            .rsplit_once(":table/")
            .map_or(name_or_arn, |(_, name)| name),
        None => name_or_arn,
    }
}

impl Engine {
    pub fn new(config: Config) -> Engine {
        Engine {
            config,
            realism: Realism::default(),
            account_metrics: Series::default(),
            tables: BTreeMap::new(),
            table_sequence: 0,
            journal: None,
            retired_streams: Vec::new(),
            ttl_sweep_skips_recheck: false,
            transactions: crate::txn::host::Transactions::default(),
            pending_transactions: BTreeMap::new(),
            finished_transactions: BTreeMap::new(),
        }
    }

    /// An engine that behaves as `profile` says, drawing from `seed`. The profile's limit
    /// overrides apply on top of `config.limits`.
    pub fn with_profile(mut config: Config, profile: Profile, seed: u64) -> Engine {
        profile.apply_limits(&mut config.limits);
        let mut engine = Engine::new(config);
        engine.realism = Realism::new(profile, seed);
        engine
    }

    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.values()
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The address DescribeEndpoints reports, for a host that learns it after building the
    /// engine (a listener bound to port 0).
    pub fn set_endpoint_address(&mut self, address: String) {
        self.config.endpoint_address = address;
    }

    /// Executes one request at time `now_ms` (milliseconds since the Unix epoch on the
    /// caller's clock).
    pub fn execute(&mut self, request: Request, now_ms: u64) -> Result<Response> {
        let control = match self.journal {
            Some(_) => ControlRequest::of(&request),
            None => None,
        };
        let table_sequence = self.table_sequence;
        let result = self.dispatch(request, now_ms);
        if let (Some(request), Ok(_)) = (control, &result) {
            self.journal_control(Box::new(ControlChange {
                request,
                now_ms,
                table_sequence,
            }));
        }
        result
    }

    fn dispatch(&mut self, request: Request, now_ms: u64) -> Result<Response> {
        self.expire_deleted_tables(now_ms);
        match request {
            Request::CreateTable(input) => ops::create_table::execute(self, &input, now_ms),
            Request::DescribeTable(input) => ops::describe_table::execute(self, &input, now_ms),
            Request::ListTables(input) => ops::list_tables::execute(self, &input),
            Request::UpdateTable(input) => ops::update_table::execute(self, &input, now_ms),
            Request::DeleteTable(input) => ops::delete_table::execute(self, &input, now_ms),
            Request::DescribeLimits => ops::describe_limits::execute(),
            Request::DescribeEndpoints => ops::describe_endpoints::execute(self),
            Request::TagResource(input) => ops::tag_resource::execute(self, &input),
            Request::UntagResource(input) => ops::untag_resource::execute(self, &input),
            Request::ListTagsOfResource(input) => ops::list_tags_of_resource::execute(self, &input),
            Request::PutItem(input) => ops::put_item::execute(self, &input, now_ms),
            Request::GetItem(input) => ops::get_item::execute(self, &input, now_ms),
            Request::UpdateItem(input) => ops::update_item::execute(self, &input, now_ms),
            Request::DeleteItem(input) => ops::delete_item::execute(self, &input, now_ms),
            Request::BatchGetItem(input) => ops::batch_get_item::execute(self, &input, now_ms),
            Request::BatchWriteItem(input) => ops::batch_write_item::execute(self, &input, now_ms),
            Request::Query(input) => ops::query::execute(self, &input, now_ms),
            Request::Scan(input) => ops::scan::execute(self, &input, now_ms),
            Request::UpdateContributorInsights(input) => {
                self.update_contributor_insights(&input, now_ms)
            }
            Request::DescribeContributorInsights(input) => {
                self.describe_contributor_insights(&input, now_ms)
            }
            Request::ListContributorInsights(input) => {
                self.list_contributor_insights(&input, now_ms)
            }
            Request::ListStreams(input) => ops::list_streams::execute(self, &input, now_ms),
            Request::DescribeStream(input) => ops::describe_stream::execute(self, &input, now_ms),
            Request::GetShardIterator(input) => {
                ops::get_shard_iterator::execute(self, &input, now_ms)
            }
            Request::GetRecords(input) => ops::get_records::execute(self, &input, now_ms),
            Request::UpdateTimeToLive(input) => {
                ops::update_time_to_live::execute(self, &input, now_ms)
            }
            Request::DescribeTimeToLive(input) => {
                ops::describe_time_to_live::execute(self, &input, now_ms)
            }
            Request::DescribeTableReplicaAutoScaling(input) => {
                ops::describe_table_replica_auto_scaling::execute(self, &input, now_ms)
            }
            Request::TransactWriteItems(input) => {
                ops::transact_write_items::execute(self, &input, now_ms)
            }
            Request::TransactGetItems(input) => {
                ops::transact_get_items::execute(self, &input, now_ms)
            }
        }
    }

    /// When `handle_timeout` next has something to do (milliseconds on the caller's clock), or
    /// `None` when nothing is pending. quinn-proto's pair: a host sleeps until then (or until a
    /// request comes), then calls `handle_timeout`. Requests do the same work lazily, so a host
    /// that never drives timers gets the same answers to its requests, except that a delayed
    /// or spread commit then happens only when its host asks for the answer
    /// (`finish_transaction`), all at once.
    pub fn poll_timeout(&self) -> Option<u64> {
        let limits = &self.config.limits;
        let commits = self.pending_transactions.values().map(|p| p.next_due_ms());
        self.tables
            .values()
            .filter_map(|t| t.next_due_ms(limits))
            .chain(commits)
            .min()
    }

    /// Does the time-driven work due by `now_ms`: tables whose DELETING ended are gone,
    /// followers apply what they can, lagging GSIs show what has propagated, delayed
    /// transactions commit.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        self.commit_due_transactions(now_ms);
        self.expire_deleted_tables(now_ms);
        for table in self.tables.values_mut() {
            table.handle_timeout(now_ms, &self.config.limits);
        }
        self.sweep_ttl(now_ms);
    }

    /// Deletes the items whose TTL deletion is due (`Table::sweep_ttl`), drawing each delay
    /// from the table's own seeded stream when the profile says, else `Config::ttl_delay_ms`.
    /// Only from the timer: requests never sweep. A hosted engine keeps no due index (its host
    /// will drive TTL through its log), so nothing is swept there.
    fn sweep_ttl(&mut self, now_ms: u64) {
        let fixed_ms = self.config.ttl_delay_ms;
        let recheck = !self.ttl_sweep_skips_recheck;
        for (name, table) in &mut self.tables {
            let realism = &mut self.realism;
            let mut delay = || realism.ttl_delay(name).unwrap_or(fixed_ms);
            // An item a transaction holds prepared waits for a later sweep.
            let transactions = &self.transactions;
            let held = |key: &[u8]| transactions.is_prepared(name, key);
            table.sweep_ttl(now_ms, &self.config.limits, &mut delay, recheck, &held);
        }
    }

    pub(crate) fn expire_deleted_tables(&mut self, now_ms: u64) {
        let deleting_ms = self.config.limits.table_deleting_ms;
        let gone = |t: &Table| t.deleted_at_ms.is_some_and(|at| now_ms >= at + deleting_ms);
        if self.tables.values().any(gone) {
            let names: Vec<String> = self
                .tables
                .iter()
                .filter(|(_, t)| gone(t))
                .map(|(n, _)| n.clone())
                .collect();
            for name in names {
                if let Some(mut table) = self.tables.remove(&name) {
                    self.transactions.drop_table(&name);
                    self.retired_streams.extend(table.take_streams());
                }
            }
        }
        let limits = &self.config.limits;
        if !self.retired_streams.is_empty() {
            self.retired_streams.retain(|s| !s.expired(now_ms, limits));
        }
    }

    /// The table a data-plane request names; CREATING tables are not found yet.
    pub(crate) fn table_for_data(&self, name_or_arn: &str, now_ms: u64) -> Result<&Table> {
        let name = table_name_of(name_or_arn);
        match self.tables.get(name) {
            Some(t) if t.status(now_ms, &self.config.limits) != Status::Creating => Ok(t),
            // The data plane does not name the table (dynamodb-facts §2.3, obs 2026).
            _ => Err(Error::resource_not_found()),
        }
    }

    /// Moves the items of `table` that `moves` selects into the same table of `to`: how a
    /// host that runs a table's partitions on separate engines splits one. Storage moving
    /// data, not a request: no admission, no metrics, no replica lag; indexes and sizes are
    /// kept in step on both sides. Returns how many items moved; `drop_last` (a test-only
    /// broken variant of the host) deletes the last selected item without copying it.
    pub fn move_items(
        &mut self,
        table: &str,
        to: &mut Engine,
        moves: impl Fn(&crate::Item) -> bool,
        now_ms: u64,
        drop_last: bool,
    ) -> Result<usize> {
        if !self.tables.contains_key(table) {
            return Err(Error::table_not_found(table));
        }
        if !to.tables.contains_key(table) {
            return Err(Error::table_not_found(table));
        }
        let selected: Vec<(Box<[u8]>, crate::Item)> = self.tables[table]
            .partitions()
            .range(std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)
            .filter_map(|entry| {
                let item = crate::types::item::decode(entry.item_bytes());
                moves(&item).then(|| (Box::from(entry.key()), item))
            })
            .collect();
        let count = selected.len();
        fn context(now_ms: u64, limits: &Limits) -> table::WriteContext<'_> {
            table::WriteContext {
                now_ms,
                lags: [0; crate::partition::REPLICA_COUNT],
                gsi_lag_ms: None,
                limits,
                origin: crate::data::stream::Origin::Storage,
            }
        }
        for (n, (key, item)) in selected.into_iter().enumerate() {
            let (source, limits) = self.table_and_limits(table);
            let removal = Mutation {
                key: &key,
                before: Some(&item),
                after: None,
            };
            source.apply(&removal, &context(now_ms, limits));
            if drop_last && n + 1 == count {
                continue;
            }
            let (target, limits) = to.table_and_limits(table);
            let replaced = target.get(&key);
            let arrival = Mutation {
                key: &key,
                before: replaced.as_ref(),
                after: Some(std::borrow::Cow::Owned(item)),
            };
            target.apply(&arrival, &context(now_ms, limits));
        }
        Ok(count)
    }

    /// A table the caller already found (by its plain name).
    pub(crate) fn table_by_name(&self, name: &str) -> &Table {
        self.tables.get(name).expect("the caller found the table")
    }

    /// A table the caller already found (by its plain name), with the limits: two disjoint
    /// borrows for write paths.
    pub(crate) fn table_and_limits(&mut self, name: &str) -> (&mut Table, &Limits) {
        (
            self.tables
                .get_mut(name)
                .expect("the caller found the table"),
            &self.config.limits,
        )
    }

    pub(crate) fn table_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:dynamodb:{}:{}:table/{name}",
            self.config.region, self.config.account_id
        )
    }
}
