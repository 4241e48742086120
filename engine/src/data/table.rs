//! A table: its definition (checked from CreateTable), its lifecycle as a function of time,
//! its description, and its items.

use crate::api::*;
use crate::capacity::admission::TableLoad;
use crate::capacity::index_partitions::IndexPartitions;
use crate::capacity::throughput::{BillingMode, Throughput};
use crate::data::index::{Index, IndexWrite, IndexWrites};
use crate::data::mutation::Mutation;
use crate::data::stream::{Origin, Stream, ViewType};
use crate::data::ttl;
use crate::error::Result;
use crate::limits::Limits;
use crate::partition::{Partitions, REPLICA_COUNT};
use crate::types::item::{self, Item, item_size_bytes};
use crate::types::keys::{KeySchema, ScalarType};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Active,
    Creating,
    Updating,
    Deleting,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Active => "ACTIVE",
            Status::Creating => "CREATING",
            Status::Updating => "UPDATING",
            Status::Deleting => "DELETING",
        }
    }
}

#[derive(Debug)]
pub struct Table {
    pub name: String,
    pub arn: String,
    pub id: String,
    pub attribute_definitions: Vec<(String, ScalarType)>,
    pub key_schema: KeySchema,
    pub billing_mode: BillingMode,
    pub throughput: Throughput,
    pub last_update_to_pay_per_request_ms: Option<u64>,
    pub table_class: String,
    pub deletion_protection: bool,
    pub tags: BTreeMap<String, String>,
    pub created_ms: u64,
    /// Set by UpdateTable: the table is UPDATING until then.
    pub updating_until_ms: u64,
    /// Set by DeleteTable: the table is DELETING until then, and gone after.
    pub deleted_at_ms: Option<u64>,
    /// Items by stored key (see `keys`), each in its stored encoding (see `item`), in
    /// partitions. Private with `size_bytes` and `indexes`: they change together, through
    /// `apply`, or not at all.
    items: Partitions,
    /// How many partitions the table would have, for a hosted table (whose items are one
    /// partition of its host's map): admission gives each hosted partition that share.
    partition_share: u64,
    /// Admission state: the provisioned pool, the on-demand peak, GSI buckets.
    pub load: TableLoad,
    pub metrics: crate::capacity::metrics::TableMetrics,
    size_bytes: u64,
    /// In a table with a local secondary index: each item collection's bytes (its items and
    /// their LSI entries), by the collection's stored-key prefix. Changes with `items`.
    collections: BTreeMap<Box<[u8]>, u64>,
    /// Global and local secondary indexes, in definition order.
    indexes: Vec<Index>,
    /// The item changes `apply` made and the host has not taken yet (stored key, encoding or
    /// `None` for a delete), when the engine journals for a host that persists them.
    journal: Option<Vec<ItemChange>>,
    /// The table's streams still within their retention, oldest first; the last is the
    /// latest (LatestStreamArn), recording while it is enabled.
    streams: Vec<Stream>,
    /// The TTL setting (`None`: never configured).
    ttl: Option<ttl::Setting>,
    /// While TTL is enabled (and the engine sweeps: not in a hosted table), the items due for
    /// deletion; changes with `items`.
    ttl_due: Option<ttl::DueIndex>,
}

/// An item change a journaling table recorded: the stored key, and the stored encoding
/// written there (`None`: the item was deleted).
pub(crate) type ItemChange = (Box<[u8]>, Option<Box<[u8]>>);

/// Disjoint borrows of a table's admission state (see `Table::loads_mut`).
pub(crate) struct Loads<'a> {
    pub table: &'a mut TableLoad,
    pub partition: &'a mut crate::capacity::admission::PartitionLoad,
    pub partitions: usize,
    pub arn: &'a str,
}

/// The parts of a new table that CreateTable decides; `Table::new` starts it empty.
pub struct NewTable {
    pub name: String,
    pub arn: String,
    pub id: String,
    pub attribute_definitions: Vec<(String, ScalarType)>,
    pub key_schema: KeySchema,
    pub billing_mode: BillingMode,
    pub throughput: Throughput,
    pub last_update_to_pay_per_request_ms: Option<u64>,
    pub table_class: String,
    pub deletion_protection: bool,
    pub tags: BTreeMap<String, String>,
    pub created_ms: u64,
    pub partition_count: u64,
    /// The host partitions and replicates the table ([`Partitions::hosted`]).
    pub hosted: bool,
    pub load: TableLoad,
    pub metrics: crate::capacity::metrics::TableMetrics,
    pub indexes: Vec<Index>,
}

/// What a write needs besides the item: the time, and how long each replica takes to
/// apply it.
#[derive(Clone, Copy, Debug)]
pub struct WriteContext<'a> {
    pub now_ms: u64,
    pub lags: [u64; REPLICA_COUNT],
    /// How long GSIs take to show this write (a profile's `gsi_lag_ms`), if they lag.
    pub gsi_lag_ms: Option<u64>,
    pub limits: &'a Limits,
    /// Who made the change, for the stream (storage moving items writes no record).
    pub origin: Origin,
}

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

impl Table {
    /// An empty table in `spec.partition_count` partitions (one, if its host partitions
    /// it). Tables with local secondary indexes keep each item collection in one partition
    /// (DynamoDB's 10 GB collection limit).
    pub fn new(spec: NewTable) -> Table {
        let mut items = if spec.hosted {
            Partitions::hosted()
        } else {
            Partitions::new(spec.partition_count)
        };
        items.keep_collections_whole = spec.indexes.iter().any(|i| !i.global);
        Table {
            name: spec.name,
            arn: spec.arn,
            id: spec.id,
            attribute_definitions: spec.attribute_definitions,
            key_schema: spec.key_schema,
            billing_mode: spec.billing_mode,
            throughput: spec.throughput,
            last_update_to_pay_per_request_ms: spec.last_update_to_pay_per_request_ms,
            table_class: spec.table_class,
            deletion_protection: spec.deletion_protection,
            tags: spec.tags,
            created_ms: spec.created_ms,
            updating_until_ms: 0,
            deleted_at_ms: None,
            items,
            partition_share: spec.partition_count.max(1),
            load: spec.load,
            metrics: spec.metrics,
            size_bytes: 0,
            collections: BTreeMap::new(),
            indexes: spec.indexes,
            journal: None,
            streams: Vec::new(),
            ttl: None,
            ttl_due: None,
        }
    }

    /// Starts recording the item changes `apply` makes (see `storage::change`).
    pub(crate) fn enable_journal(&mut self) {
        self.journal.get_or_insert_with(Vec::new);
    }

    pub(crate) fn disable_journal(&mut self) {
        self.journal = None;
    }

    /// The item changes recorded since the last call, oldest first.
    pub(crate) fn take_journal(&mut self) -> Vec<ItemChange> {
        self.journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The table's partitions, for reading (routing, ranges, counts).
    pub fn partitions(&self) -> &Partitions {
        &self.items
    }

    /// Bytes of every item, as DescribeTable's TableSizeBytes counts them.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// The GSI being created (CREATING) at `now_ms`, if any.
    pub fn index_creating(&self, now_ms: u64) -> Option<&Index> {
        self.indexes.iter().find(|i| i.creating(now_ms).is_some())
    }

    /// Global and local secondary indexes, in definition order.
    pub fn indexes(&self) -> &[Index] {
        &self.indexes
    }

    /// The admission state of the partition that holds `key`.
    pub fn partition_load_mut(
        &mut self,
        key: &[u8],
    ) -> &mut crate::capacity::admission::PartitionLoad {
        &mut self.items.partition_of_mut(key).load
    }

    /// What admission and charging work on together: the table's admission state, that of
    /// the partition holding `key`, the partition count and the table's ARN.
    pub(crate) fn loads_mut(&mut self, key: &[u8]) -> Loads<'_> {
        // A hosted partition is one of the partitions its table would have: it admits that
        // share of the table's throughput.
        let partitions = if self.items.is_hosted() {
            self.partition_share as usize
        } else {
            self.items.count()
        };
        Loads {
            table: &mut self.load,
            partition: &mut self.items.partition_of_mut(key).load,
            partitions,
            arn: &self.arn,
        }
    }

    /// The partitions of GSI `name` (created with as many as its throughput asks for, the
    /// way a table starts), or `None` when the table has no such GSI.
    pub(crate) fn index_partitions_mut(
        &mut self,
        name: &str,
        limits: &Limits,
    ) -> Option<&mut crate::capacity::index_partitions::IndexPartitions> {
        let index = self.indexes.iter().find(|i| i.global && i.name == name)?;
        let count = match &index.throughput {
            Some(throughput) => {
                crate::capacity::throughput::partitions_for(self.billing_mode, throughput, limits)
            }
            // On demand: as many as a new on-demand table (the throughput is not read).
            None => crate::capacity::throughput::partitions_for(
                BillingMode::PayPerRequest,
                &Throughput {
                    read_capacity_units: 0,
                    write_capacity_units: 0,
                    last_increase_ms: None,
                    last_decrease_ms: None,
                    decreases_today: 0,
                },
                limits,
            ),
        };
        let partitions = self.load.index_partitions.entry(name.to_string());
        Some(partitions.or_insert_with(|| IndexPartitions::new(count)))
    }

    /// The GSI partitions a change to the item under `mutation.key` writes to: per GSI, the
    /// index partition key hash of its entry before and after (each once).
    pub(crate) fn index_writes_of(&self, mutation: &Mutation<'_>) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = Vec::new();
        for index in self.indexes.iter().filter(|i| i.global) {
            let images = [mutation.before, mutation.after.as_deref()];
            for item in images.into_iter().flatten() {
                if let Some(key) = index.entry_key(item, mutation.key) {
                    let hash = crate::capacity::index_partitions::hash_of(&key);
                    if !out.iter().any(|(n, h)| n == &index.name && *h == hash) {
                        out.push((index.name.clone(), hash));
                    }
                }
            }
        }
        out
    }

    /// Refills every provisioned GSI's token buckets up to `now_ms`.
    pub(crate) fn refill_index_buckets(&mut self, now_ms: u64, limits: &Limits) {
        if self.billing_mode != BillingMode::Provisioned {
            return;
        }
        for index in self.indexes.iter().filter(|i| i.global) {
            if let Some(throughput) = &index.throughput {
                self.load.refill_index(
                    &index.name,
                    throughput.read_capacity_units as f64,
                    throughput.write_capacity_units as f64,
                    now_ms,
                    limits,
                );
            }
        }
    }

    /// Splits the partition that holds `key` because it stayed hot (items move, none change).
    pub fn split_for_heat(&mut self, key: &[u8], limits: &Limits, now_ms: u64) {
        self.items.split_for_heat(key, limits);
        self.follow_splits(now_ms, limits);
    }

    /// Splits partitions until there are `count` (for throughput; items move, none change).
    pub fn grow_partitions_to(&mut self, count: u64, now_ms: u64, limits: &Limits) {
        self.partition_share = self.partition_share.max(count);
        self.items.grow_to(count);
        self.follow_splits(now_ms, limits);
    }

    /// The stream's shards follow the partitions: each split closes the split partition's
    /// shard and opens one for each half.
    fn follow_splits(&mut self, now_ms: u64, limits: &Limits) {
        let splits = self.items.take_splits();
        if let Some(stream) = self.streams.last_mut().filter(|s| s.is_enabled()) {
            for (parent, upper) in splits {
                stream.split(parent, upper, now_ms, limits);
            }
        }
    }

    /// The latest stream (enabled or not), if the table ever had one within the retention.
    pub fn latest_stream(&self) -> Option<&Stream> {
        self.streams.last()
    }

    /// The enabled stream, if any.
    pub fn enabled_stream(&self) -> Option<&Stream> {
        self.streams.last().filter(|s| s.is_enabled())
    }

    /// The table's streams within their retention, oldest first.
    pub fn streams(&self) -> &[Stream] {
        &self.streams
    }

    pub fn streams_mut(&mut self) -> &mut [Stream] {
        &mut self.streams
    }

    /// Starts a new stream of `view_type` with one shard per partition, ENABLING until
    /// `enabling_until_ms`. Its label is the time, one millisecond later than an earlier
    /// stream's if they would meet.
    pub fn enable_stream(
        &mut self,
        view_type: ViewType,
        now_ms: u64,
        enabling_until_ms: u64,
        limits: &Limits,
        label_floor_ms: Option<u64>,
    ) {
        // Labels (and so ARNs) are unique: after this table's streams and after the streams of
        // a deleted table of the same name (`label_floor_ms`).
        let label_ms = self
            .streams
            .iter()
            .map(|s| s.label_ms + 1)
            .chain(label_floor_ms.map(|l| l + 1))
            .fold(now_ms, u64::max);
        let stream = Stream::new(
            &self.arn,
            &self.name,
            &self.key_schema,
            view_type,
            self.items.ids().collect::<Vec<_>>(),
            label_ms,
            now_ms,
            enabling_until_ms,
            limits.stream_shard_rollover_ms,
        );
        self.streams.push(stream);
    }

    /// Disables the enabled stream: DISABLING for `disabling_ms`, then DISABLED.
    pub fn disable_stream(&mut self, now_ms: u64, disabling_ms: u64, limits: &Limits) {
        if let Some(stream) = self.streams.last_mut() {
            stream.disable(now_ms, disabling_ms, limits);
        }
    }

    /// Hands the streams to the caller (a deleted table's streams outlive it).
    pub fn take_streams(&mut self) -> Vec<Stream> {
        std::mem::take(&mut self.streams)
    }

    /// Rolls over and trims the streams as of `now_ms`, and forgets those past retention.
    pub fn advance_streams(&mut self, now_ms: u64, limits: &Limits) {
        for stream in &mut self.streams {
            stream.advance(now_ms, limits);
        }
        self.streams.retain(|s| !s.expired(now_ms, limits));
    }

    /// Brings every partition's followers up to what is due by `now_ms`.
    pub fn catch_up_replicas(&mut self, now_ms: u64) {
        for partition in self.items.iter_mut() {
            partition.catch_up(now_ms);
        }
    }

    /// Brings the index `name` (a lagging GSI) up to what has propagated by `now_ms`.
    pub fn catch_up_index(&mut self, name: &str, now_ms: u64) {
        if let Some(index) = self.indexes.iter_mut().find(|i| i.name == name) {
            index.catch_up(now_ms);
        }
    }

    /// Drops the index `name` (UpdateTable's Delete).
    pub fn remove_index(&mut self, name: &str) {
        self.indexes.retain(|i| i.name != name);
    }

    /// The provisioned throughput of the index `name`, to change (UpdateTable's Update).
    pub fn index_throughput_mut(&mut self, name: &str) -> Option<&mut Option<Throughput>> {
        self.indexes
            .iter_mut()
            .find(|i| i.name == name)
            .map(|i| &mut i.throughput)
    }

    /// The provisioned throughput of every GSI, to change with the billing mode.
    pub fn global_index_throughputs_mut(
        &mut self,
    ) -> impl Iterator<Item = &mut Option<Throughput>> {
        self.indexes
            .iter_mut()
            .filter(|i| i.global)
            .map(|i| &mut i.throughput)
    }

    /// The table's capacity as admission sees it.
    pub fn capacity(&self) -> crate::capacity::admission::Capacity {
        match self.billing_mode {
            BillingMode::Provisioned => crate::capacity::admission::Capacity::Provisioned {
                read: self.throughput.read_capacity_units as f64,
                write: self.throughput.write_capacity_units as f64,
            },
            BillingMode::PayPerRequest => crate::capacity::admission::Capacity::OnDemand,
        }
    }

    pub fn status(&self, now_ms: u64, limits: &Limits) -> Status {
        if self.deleted_at_ms.is_some() {
            Status::Deleting
        } else if now_ms < self.created_ms + limits.table_creating_ms {
            Status::Creating
        } else if now_ms < self.updating_until_ms {
            Status::Updating
        } else {
            Status::Active
        }
    }

    /// When time-driven work on this table is next due: a follower applying a write, a
    /// lagging GSI showing one, the end of DELETING (`deleting_ms` after DeleteTable).
    pub fn next_due_ms(&self, limits: &Limits) -> Option<u64> {
        let deleted = self
            .deleted_at_ms
            .map(|at| at.saturating_add(limits.table_deleting_ms));
        let replicas = self
            .items
            .iter()
            .filter_map(|(_, p)| p.group.as_ref()?.next_due_ms());
        let indexes = self.indexes.iter().filter_map(Index::next_due_ms);
        let streams = self.enabled_stream().and_then(Stream::next_due_ms);
        deleted
            .into_iter()
            .chain(replicas)
            .chain(indexes)
            .chain(streams)
            .chain(self.ttl_next_due_ms(limits))
            .min()
    }

    /// Does what is due by `now_ms`: followers apply what they can, lagging GSIs show what has
    /// propagated. (The catalog removes a table whose DELETING ended.)
    pub fn handle_timeout(&mut self, now_ms: u64, limits: &Limits) {
        self.catch_up_replicas(now_ms);
        for index in &mut self.indexes {
            index.catch_up(now_ms);
        }
        self.advance_streams(now_ms, limits);
    }

    /// The item under `key` as the partition's leader holds it (what writes and strongly
    /// consistent reads see).
    pub fn get(&self, key: &[u8]) -> Option<Item> {
        self.items.get(key).map(item::decode)
    }

    /// The item under `key` as replica `zone` holds it at `now_ms`: possibly stale.
    pub fn get_from(&mut self, zone: usize, key: &[u8], now_ms: u64) -> Option<Item> {
        let partition = self.items.partition_of_mut(key);
        partition.catch_up(now_ms);
        partition.read(zone, key).map(item::decode)
    }

    /// The bytes `item` adds to its item collection: its own size and that of each of its
    /// local secondary index entries (0 in a table without an LSI).
    fn collection_share(&self, item: &Item) -> u64 {
        if !self.indexes.iter().any(|i| !i.global) {
            return 0;
        }
        let entries: usize = self
            .indexes
            .iter()
            .filter(|i| !i.global && i.key_schema.covers(item))
            .map(|i| item_size_bytes(&i.project(item, &self.key_schema)))
            .sum();
        (item_size_bytes(item) + entries) as u64
    }

    fn track_collection(&mut self, key: &[u8], old: Option<&Item>, new: Option<&Item>) {
        let (old, new) = (
            old.map_or(0, |i| self.collection_share(i)),
            new.map_or(0, |i| self.collection_share(i)),
        );
        if old == new {
            return;
        }
        let prefix = crate::partition::collection_prefix(key);
        let bytes = self.collections.entry(prefix.into()).or_default();
        *bytes = (*bytes + new).saturating_sub(old);
        if *bytes == 0 {
            self.collections.remove(prefix);
        }
    }

    /// The bytes of the item collection under `prefix`, counted item by item (what
    /// `collections` keeps; for checking it).
    fn collection_bytes_counted(&self, prefix: &[u8]) -> u64 {
        let end = crate::types::keys::prefix_end(prefix);
        let upper = end
            .as_deref()
            .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        self.items
            .range(std::ops::Bound::Included(prefix), upper)
            .map(|entry| self.collection_share(&item::decode(entry.item_bytes())))
            .sum()
    }

    /// The bytes of the item collection `key` belongs to (0 without an LSI).
    pub fn collection_bytes(&self, key: &[u8]) -> u64 {
        let prefix = crate::partition::collection_prefix(key);
        self.collections.get(prefix).copied().unwrap_or(0)
    }

    /// Whether `mutation` would grow its item collection past `limits`' bound (a write that
    /// does not grow it is allowed, however large the collection is).
    pub fn collection_limit_exceeded(&self, mutation: &Mutation<'_>, limits: &Limits) -> bool {
        let new = mutation
            .after
            .as_deref()
            .map_or(0, |i| self.collection_share(i));
        let old = mutation.before.map_or(0, |i| self.collection_share(i));
        new > old
            && self.collection_bytes(mutation.key) + (new - old) > limits.item_collection_bytes_max
    }

    /// Applies a mutation: the one function through which a table's items change. Keeps
    /// sizes and indexes in step and returns the index writes. `mutation.before` must be the
    /// item stored under the key now (callers read it anyway, for conditions and return
    /// values).
    pub fn apply(&mut self, mutation: &Mutation<'_>, context: &WriteContext<'_>) -> IndexWrites {
        let writes = match &mutation.after {
            Some(after) => self.put(mutation.key, after, mutation.before, context),
            None if mutation.before.is_some() => {
                let (deleted, writes) = self.delete(mutation.key, context);
                assert!(
                    deleted.is_some(),
                    "the caller's view of the old item is current"
                );
                writes
            }
            None => return Vec::new(),
        };
        if let (Some(due), Some(setting)) = (&mut self.ttl_due, &self.ttl) {
            due.track(
                mutation.key,
                mutation.after.as_deref(),
                &setting.attribute,
                context.now_ms,
            );
        }
        self.follow_splits(context.now_ms, context.limits);
        if let Some(stream) = self.streams.last_mut().filter(|s| s.is_enabled()) {
            let partition = self.items.partition_of(mutation.key).id;
            stream.append(
                partition,
                mutation.before,
                mutation.after.as_deref(),
                context.origin,
                context.now_ms,
                context.limits,
            );
        }
        writes
    }

    fn put(
        &mut self,
        key: &[u8],
        new_item: &Item,
        old: Option<&Item>,
        context: &WriteContext<'_>,
    ) -> IndexWrites {
        let encoded = item::encode(new_item);
        let replaced = self
            .items
            .put(key, &encoded, context.now_ms, context.lags, context.limits);
        if let Some(journal) = &mut self.journal {
            journal.push((key.into(), Some(encoded)));
        }
        assert_eq!(
            replaced,
            old.is_some(),
            "the caller's view of the old item is current"
        );
        if let Some(old) = old {
            self.size_bytes -= item_size_bytes(old) as u64;
        }
        self.size_bytes += item_size_bytes(new_item) as u64;
        self.track_collection(key, old, Some(new_item));
        self.update_indexes(key, old, Some(new_item), context)
    }

    fn delete(&mut self, key: &[u8], context: &WriteContext<'_>) -> (Option<Item>, IndexWrites) {
        let Some(old) = self.items.delete(key, context.now_ms, context.lags) else {
            return (None, Vec::new());
        };
        if let Some(journal) = &mut self.journal {
            journal.push((key.into(), None));
        }
        self.size_bytes -= item_size_bytes(&old) as u64;
        self.track_collection(key, Some(&old), None);
        let writes = self.update_indexes(key, Some(&old), None, context);
        (Some(old), writes)
    }

    fn update_indexes(
        &mut self,
        key: &[u8],
        old: Option<&Item>,
        new: Option<&Item>,
        context: &WriteContext<'_>,
    ) -> IndexWrites {
        let mut writes = Vec::new();
        for index in &mut self.indexes {
            let lag = context.gsi_lag_ms.map(|lag| (context.now_ms, lag));
            let count = index.update(key, old, new, &self.key_schema, lag);
            if count > 0 {
                let entry = new
                    .or(old)
                    .map(|item| index.project(item, &self.key_schema));
                let units =
                    crate::capacity::units::write_units(entry.as_ref().map_or(0, item_size_bytes))
                        * f64::from(count);
                writes.push(IndexWrite {
                    index: index.name.clone(),
                    global: index.global,
                    units,
                });
            }
        }
        writes
    }

    /// Checks an item about to be written against every index's key schema.
    pub fn check_index_keys(&self, item: &Item) -> Result<()> {
        for index in &self.indexes {
            index.key_schema.check_index_attributes(item, &index.name)?;
        }
        Ok(())
    }

    /// ItemCollectionMetrics for the collection of `hash_value`, when the table has local
    /// secondary indexes (only then does DynamoDB keep item collections): the collection's
    /// items and their LSI entries, as a range of whole gigabytes.
    pub fn item_collection_metrics(
        &self,
        hash_value: &crate::types::value::Value,
    ) -> Option<crate::api::ItemCollectionMetrics> {
        if !self.indexes.iter().any(|i| !i.global) {
            return None;
        }
        let prefix = self.key_schema.partition_prefix(hash_value);
        // Kept with every write (`track_collection`); debug builds count it again.
        let bytes = self.collections.get(&prefix[..]).copied().unwrap_or(0) as usize;
        debug_assert_eq!(bytes as u64, self.collection_bytes_counted(&prefix));
        let gigabytes = (bytes as f64 / (1u64 << 30) as f64).floor();
        let key = [(self.key_schema.hash.name.clone(), hash_value.clone())]
            .into_iter()
            .collect();
        Some(crate::api::ItemCollectionMetrics {
            item_collection_key: key,
            size_estimate_range_gb: [gigabytes, gigabytes + 1.0],
        })
    }

    /// Adds a global secondary index to a table that has items: every item that carries the
    /// index's key attributes with valid values is indexed; items whose values the index key
    /// schema rejects are skipped, as DynamoDB's backfill skips them.
    pub fn add_index(&mut self, mut index: Index, now_ms: u64, limits: &Limits) {
        let allocated_ms = now_ms.saturating_add(limits.index_creating_ms);
        let bytes_ms = u128::from(self.size_bytes) * u128::from(limits.index_backfill_ms_per_mib);
        let backfill_ms = (bytes_ms >> 20) as u64;
        index.online = Some((allocated_ms, allocated_ms.saturating_add(backfill_ms)));
        let entries: Vec<(Box<[u8]>, Item)> = self
            .items
            .range(std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)
            .map(|entry| (entry.key().into(), item::decode(entry.item_bytes())))
            .collect();
        for (key, stored) in entries {
            if index
                .key_schema
                .check_index_attributes(&stored, &index.name)
                .is_ok()
            {
                index.update(&key, None, Some(&stored), &self.key_schema, None);
            }
        }
        self.indexes.push(index);
    }

    /// Attribute definitions still used by the table's or an index's key schema.
    pub fn prune_attribute_definitions(&mut self) {
        let used = |name: &str| {
            self.key_schema.is_key_attribute(name)
                || self
                    .indexes
                    .iter()
                    .any(|i| i.key_schema.is_key_attribute(name))
        };
        let kept: Vec<(String, ScalarType)> = self
            .attribute_definitions
            .iter()
            .filter(|(n, _)| used(n))
            .cloned()
            .collect();
        self.attribute_definitions = kept;
    }

    pub fn index(&self, name: &str) -> Option<&Index> {
        self.indexes.iter().find(|i| i.name == name)
    }

    pub fn describe(&self, now_ms: u64, limits: &Limits) -> TableDescription {
        let status = self.status(now_ms, limits);
        let key_schema = self.key_schema.describe();
        TableDescription {
            attribute_definitions: self
                .attribute_definitions
                .iter()
                .map(|(name, t)| AttributeDefinitionOutput {
                    attribute_name: name.clone(),
                    attribute_type: t.name().into(),
                })
                .collect(),
            table_name: self.name.clone(),
            key_schema,
            table_status: status.name().into(),
            creation_date_time: Some(seconds(self.created_ms)),
            provisioned_throughput: ProvisionedThroughputDescription {
                last_increase_date_time: self.throughput.last_increase_ms.map(seconds),
                last_decrease_date_time: self.throughput.last_decrease_ms.map(seconds),
                number_of_decreases_today: self.throughput.decreases_today,
                read_capacity_units: self.throughput.read_capacity_units,
                write_capacity_units: self.throughput.write_capacity_units,
            },
            table_size_bytes: self.size_bytes,
            item_count: self.items.len() as u64,
            table_arn: self.arn.clone(),
            table_id: self.id.clone(),
            billing_mode_summary: Some(BillingModeSummary {
                billing_mode: self.billing_mode.name().into(),
                last_update_to_pay_per_request_date_time: self
                    .last_update_to_pay_per_request_ms
                    .map(seconds),
            }),
            local_secondary_indexes: self.describe_indexes(false, now_ms),
            global_secondary_indexes: self.describe_indexes(true, now_ms),
            stream_specification: self.enabled_stream().map(|s| StreamSpecificationOutput {
                stream_enabled: true,
                stream_view_type: Some(s.view_type.name().into()),
            }),
            latest_stream_arn: self.latest_stream().map(|s| s.arn.clone()),
            latest_stream_label: self.latest_stream().map(|s| s.label.clone()),
            table_class_summary: Some(TableClassSummary {
                table_class: self.table_class.clone(),
            }),
            deletion_protection_enabled: self.deletion_protection,
            replicas: None,
            global_table_version: None,
            multi_region_consistency: None,
            global_table_witnesses: None,
        }
    }
}

/// Time to Live: the setting, the due index and the sweep.
impl Table {
    pub fn ttl_setting(&self) -> Option<&ttl::Setting> {
        self.ttl.as_ref()
    }

    /// How many items the due index holds (`None` when there is none).
    pub fn ttl_due_count(&self) -> Option<usize> {
        self.ttl_due.as_ref().map(ttl::DueIndex::len)
    }

    /// Sets TTL. Enabling builds the due index from the items (once, here; `apply` keeps it
    /// after), disabling drops it. A hosted table keeps none: its host drives TTL.
    pub fn set_ttl(&mut self, setting: ttl::Setting, now_ms: u64) {
        self.ttl_due = None;
        if setting.enabled && !self.items.is_hosted() {
            let mut due = ttl::DueIndex::default();
            for entry in self
                .items
                .range(std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)
            {
                let stored = item::decode(entry.item_bytes());
                due.track(entry.key(), Some(&stored), &setting.attribute, now_ms);
            }
            self.ttl_due = Some(due);
        }
        self.ttl = Some(setting);
    }

    /// When the sweep next has work: the first due item, once TTL is ENABLED.
    fn ttl_next_due_ms(&self, limits: &Limits) -> Option<u64> {
        // A DELETING table is never swept: nothing is due (a past time would spin the timer).
        if self.deleted_at_ms.is_some() {
            return None;
        }
        let setting = self.ttl.as_ref()?;
        let enabled_ms = setting.changed_ms.saturating_add(limits.ttl_transition_ms);
        Some(self.ttl_due.as_ref()?.next_due_ms()?.max(enabled_ms))
    }

    /// Deletes the items whose TTL deletion is due by `now_ms`, through `apply` with
    /// `Origin::TimeToLive` (no admission, no capacity). An item reaching its expiry first
    /// draws its delay (`delay`); 0 deletes it at once. Each deletion re-checks the current
    /// item (`ttl::eligible`) unless `recheck` is off (the broken variant tests must catch).
    /// An item `held` says a transaction holds prepared is left for a second later.
    /// Returns how many items it deleted.
    pub fn sweep_ttl(
        &mut self,
        now_ms: u64,
        limits: &Limits,
        delay: &mut dyn FnMut() -> u64,
        recheck: bool,
        held: &dyn Fn(&[u8]) -> bool,
    ) -> u64 {
        let Some(attribute) = self.ttl.as_ref().map(|s| s.attribute.clone()) else {
            return 0;
        };
        if self.deleted_at_ms.is_some() {
            return 0;
        }
        if ttl::status(self.ttl.as_ref(), now_ms, limits.ttl_transition_ms) != "ENABLED" {
            return 0;
        }
        let mut deleted = 0;
        // Each round removes or postpones one entry, and postponed entries are scheduled: the
        // loop ends within twice the index's length.
        while let Some((key, due)) = self.ttl_due.as_ref().and_then(|d| d.first_due(now_ms)) {
            let due_index = self.ttl_due.as_mut().expect("first_due found it");
            if !due.scheduled {
                let wait = delay();
                if wait > 0 {
                    let at_ms = due.expiry_ms.saturating_add(wait);
                    let scheduled = true;
                    due_index.insert(
                        &key,
                        ttl::Due {
                            at_ms,
                            scheduled,
                            ..due
                        },
                    );
                    continue;
                }
            }
            if held(&key) {
                // A transaction holds the item prepared: look again in a second.
                let at_ms = now_ms.saturating_add(1000);
                let scheduled = true;
                due_index.insert(
                    &key,
                    ttl::Due {
                        at_ms,
                        scheduled,
                        ..due
                    },
                );
                continue;
            }
            due_index.remove(&key);
            let Some(current) = self.get(&key) else {
                continue;
            };
            if recheck && !ttl::eligible(&current, &attribute, now_ms) {
                continue;
            }
            self.delete_expired(&key, &current, now_ms, limits);
            deleted += 1;
        }
        deleted
    }

    fn delete_expired(&mut self, key: &[u8], current: &Item, now_ms: u64, limits: &Limits) {
        let mutation = Mutation {
            key,
            before: Some(current),
            after: None,
        };
        let context = WriteContext {
            now_ms,
            lags: [0; REPLICA_COUNT],
            gsi_lag_ms: None,
            limits,
            origin: Origin::TimeToLive,
        };
        self.apply(&mutation, &context);
        let counted = crate::capacity::metrics::Counters {
            time_to_live_deleted_item_count: 1,
            ..Default::default()
        };
        self.metrics.table.record(now_ms, &counted);
    }
}

impl Table {
    fn describe_indexes(&self, global: bool, now_ms: u64) -> Option<Vec<IndexDescription>> {
        let described: Vec<IndexDescription> = self
            .indexes
            .iter()
            .filter(|i| i.global == global)
            .map(|i| i.describe(&self.arn, now_ms))
            .collect();
        (!described.is_empty()).then_some(described)
    }
}
