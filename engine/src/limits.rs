//! Every DynamoDB limit the engine enforces, named in one place.
//!
//! The values are DynamoDB's defaults (`dynamodb-facts.md` §13). Limits that tests may want to
//! shrink (page sizes) live in [`Limits`], which an engine is built with; the rest are fixed
//! by the protocol and stay constants. Units go last in every name.

/// Largest item, attribute names included (400 KB, binary units).
pub const ITEM_SIZE_BYTES_MAX: usize = 400 * 1024;
/// Partition key values: 1 to 2048 bytes.
pub const PARTITION_KEY_SIZE_BYTES_MAX: usize = 2048;
/// Sort key values: 1 to 1024 bytes.
pub const SORT_KEY_SIZE_BYTES_MAX: usize = 1024;
/// Attribute names in items: up to 64 KB.
pub const ATTRIBUTE_NAME_SIZE_BYTES_MAX: usize = 65535;
/// Key attribute names (table and index keys) are limited to 255 bytes.
pub const KEY_ATTRIBUTE_NAME_SIZE_BYTES_MAX: usize = 255;
/// Documents nest up to 32 levels, the item itself being the first: a value holds at most 31
/// levels of maps and lists; a projection path has at most 32 elements.
pub const NESTING_DEPTH_MAX: usize = 32;
/// Numbers hold up to 38 significant digits.
pub const NUMBER_DIGITS_MAX: usize = 38;
/// The largest decimal exponent `e` such that `0.d × 10^e` is in range (9.99…E+125).
pub const NUMBER_EXPONENT_MAX: i32 = 126;
/// The smallest decimal exponent `e` such that `0.d × 10^e` is in range (1E-130).
pub const NUMBER_EXPONENT_MIN: i32 = -129;

/// Table and index names: 3 to 255 characters of `[a-zA-Z0-9_.-]`.
pub const TABLE_NAME_LENGTH_MIN: usize = 3;
pub const TABLE_NAME_LENGTH_MAX: usize = 255;
/// A table ARN given where a name is expected may be up to 1024 characters.
pub const TABLE_ARN_LENGTH_MAX: usize = 1024;
/// The Streams API's member lengths (its API reference): stream ARNs, shard ids, sequence
/// numbers, shard iterators, as (min, max) characters.
pub const STREAM_ARN_LENGTH: (usize, usize) = (37, 1024);
pub const SHARD_ID_LENGTH: (usize, usize) = (28, 65);
pub const SEQUENCE_NUMBER_LENGTH: (usize, usize) = (21, 40);
pub const SHARD_ITERATOR_LENGTH: (usize, usize) = (1, 2048);
/// ListStreams and DescribeStream answer at most 100 streams or shards a page.
pub const STREAM_LIST_LIMIT_MAX: usize = 100;
/// GetRecords answers at most 1,000 records...
pub const GET_RECORDS_LIMIT_MAX: usize = 1000;
/// ...and at most 1 MB of them.
pub const GET_RECORDS_BYTES_MAX: u64 = 1024 * 1024;

/// Any expression string: 4 KB.
pub const EXPRESSION_SIZE_BYTES_MAX: usize = 4096;
/// Each `#name` or `:value` placeholder: 255 bytes.
pub const PLACEHOLDER_SIZE_BYTES_MAX: usize = 255;
/// Operators and functions in one expression.
pub const EXPRESSION_OPERATOR_COUNT_MAX: usize = 300;
/// Operands in the list of an `IN` comparison.
pub const IN_OPERAND_COUNT_MAX: usize = 100;
/// The total size of ExpressionAttributeNames and ExpressionAttributeValues: 2 MB.
pub const EXPRESSION_ATTRIBUTES_SIZE_BYTES_MAX: usize = 2 * 1024 * 1024;

/// BatchGetItem: keys across all tables.
pub const BATCH_GET_KEY_COUNT_MAX: usize = 100;
/// BatchGetItem: the response stops growing at 16 MB; the rest goes to UnprocessedKeys.
pub const BATCH_GET_RESPONSE_BYTES_MAX: usize = 16 * 1024 * 1024;
/// BatchWriteItem: put and delete requests across all tables.
pub const BATCH_WRITE_REQUEST_COUNT_MAX: usize = 25;
/// TransactWriteItems and TransactGetItems: 1 to 100 actions (raised from 25 in 2022).
pub const TRANSACTION_ACTIONS_MAX: usize = 100;
/// A transaction's aggregate size (its items and values): 4 MB.
pub const TRANSACTION_BYTES_MAX: usize = 4 * 1024 * 1024;

/// ListTables: names per page.
pub const LIST_TABLES_LIMIT_MAX: usize = 100;
/// Parallel scan: segments.
pub const TOTAL_SEGMENTS_MAX: u32 = 1_000_000;
/// Tags per table.
pub const TAG_COUNT_MAX: usize = 50;
/// How long DescribeEndpoints tells clients to cache the endpoint (one day, in minutes).
pub const ENDPOINT_CACHE_PERIOD_MINUTES: u64 = 1440;
pub const TAG_KEY_LENGTH_MAX: usize = 128;
pub const TAG_VALUE_LENGTH_MAX: usize = 256;
/// GSIs and LSIs per table.
pub const GSI_COUNT_MAX: usize = 20;
pub const LSI_COUNT_MAX: usize = 5;
/// Partition key attributes, and sort key attributes, of a GSI's multi-attribute key.
pub const INDEX_KEY_ATTRIBUTE_COUNT_MAX: usize = 4;
/// Projected non-key attributes over all indexes of a table.
pub const PROJECTED_ATTRIBUTE_COUNT_MAX: usize = 100;

/// Request body (after decompression): 16 MB.
pub const REQUEST_BODY_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Request headers: DynamoDB observes 16 KB of them (dynamodb-facts §2.1); the count is ours,
/// a few times what SDKs and proxies send.
pub const REQUEST_HEADER_BYTES_MAX: usize = 16 * 1024;
pub const REQUEST_HEADER_COUNT_MAX: usize = 300;

/// Capacity unit sizes.
pub const READ_UNIT_BYTES: usize = 4096;
pub const WRITE_UNIT_BYTES: usize = 1024;

/// Account and table throughput quotas reported by DescribeLimits.
pub const ACCOUNT_MAX_READ_CAPACITY_UNITS: u64 = 80_000;
pub const ACCOUNT_MAX_WRITE_CAPACITY_UNITS: u64 = 80_000;
pub const TABLE_MAX_READ_CAPACITY_UNITS: u64 = 40_000;
pub const TABLE_MAX_WRITE_CAPACITY_UNITS: u64 = 40_000;
/// Tables per account and region.
pub const TABLE_COUNT_MAX: usize = 2_500;

/// Limits that a test may shrink, so that rare paths (paging) run on every test.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Query and Scan stop reading once this much item data has been read (1 MB).
    pub page_size_bytes_max: usize,
    /// How long a new table stays CREATING, in milliseconds of the caller's clock.
    pub table_creating_ms: u64,
    /// How long a table stays UPDATING after UpdateTable.
    pub table_updating_ms: u64,
    /// How long a deleted table stays DELETING before its name is free again.
    pub table_deleting_ms: u64,
    /// A partition splits once it stores more than this (10 GB).
    pub partition_size_bytes_max: u64,
    /// A partition serves at most this many read units per second (3,000)...
    pub partition_read_units_max: f64,
    /// ...and this many write units (1,000), or a linear combination.
    pub partition_write_units_max: f64,
    /// Unused provisioned capacity kept as burst credit, in seconds of the rate (300).
    pub burst_seconds: f64,
    /// What a new on-demand table serves at once, in units per second (12,000 and 4,000).
    pub on_demand_initial_read_units: f64,
    pub on_demand_initial_write_units: f64,
    /// How long an on-demand table takes to scale past twice its previous peak (30 min).
    pub on_demand_scale_ms: u64,
    /// Per-table ceiling of on-demand units per second (the 40,000 table quota).
    pub table_max_units: f64,
    /// A partition running at this fraction of its ceiling is hot...
    pub heat_split_utilization: f64,
    /// ...and splits for heat after this many consecutive hot seconds.
    pub heat_split_seconds: u32,
    /// An item collection (a partition key's items and their local secondary index entries,
    /// in tables with an LSI) may grow to this many bytes (10 GB); a write that would grow it
    /// further fails with ItemCollectionSizeLimitExceededException.
    pub item_collection_bytes_max: u64,
    /// Stream records are readable for this long after they are written, and a disabled
    /// stream for this long after it was disabled (24 hours).
    pub stream_retention_ms: u64,
    /// An open stream shard closes and hands over to one child after this long (about four
    /// hours in the service, not documented; dynamodb-facts Appendix C 9).
    pub stream_shard_rollover_ms: u64,
    /// A shard iterator expires this long after it was issued (15 minutes).
    pub stream_iterator_lifetime_ms: u64,
    /// A GSI created on an existing table allocates resources this long (CREATING, not
    /// backfilling yet)...
    pub index_creating_ms: u64,
    /// ...then backfills for this long per MiB of the table (CREATING, Backfilling).
    pub index_backfill_ms_per_mib: u64,
    /// TTL stays ENABLING (DISABLING) this long after UpdateTimeToLive; 0: ENABLED at once, as
    /// AWS is observed to answer (dynamodb-facts §11).
    pub ttl_transition_ms: u64,
    /// A second UpdateTimeToLive within this long of the last change is refused (1 hour).
    pub ttl_modification_interval_ms: u64,
}

impl Limits {
    /// A partition's ceiling for writes (`write`) or reads, in units per second.
    pub fn partition_ceiling(&self, write: bool) -> f64 {
        if write {
            self.partition_write_units_max
        } else {
            self.partition_read_units_max
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            page_size_bytes_max: 1024 * 1024,
            table_creating_ms: 0,
            table_updating_ms: 0,
            table_deleting_ms: 0,
            partition_size_bytes_max: 10 * 1024 * 1024 * 1024,
            partition_read_units_max: 3000.0,
            partition_write_units_max: 1000.0,
            burst_seconds: 300.0,
            on_demand_initial_read_units: 12_000.0,
            on_demand_initial_write_units: 4_000.0,
            on_demand_scale_ms: 30 * 60 * 1000,
            table_max_units: TABLE_MAX_READ_CAPACITY_UNITS as f64,
            heat_split_utilization: 0.8,
            heat_split_seconds: 60,
            item_collection_bytes_max: 10 * 1024 * 1024 * 1024,
            stream_retention_ms: 24 * 60 * 60 * 1000,
            stream_shard_rollover_ms: 4 * 60 * 60 * 1000,
            stream_iterator_lifetime_ms: 15 * 60 * 1000,
            index_creating_ms: 0,
            index_backfill_ms_per_mib: 0,
            ttl_transition_ms: 0,
            ttl_modification_interval_ms: 60 * 60 * 1000,
        }
    }
}

const _: () = assert!(SORT_KEY_SIZE_BYTES_MAX < PARTITION_KEY_SIZE_BYTES_MAX);
const _: () = assert!(PARTITION_KEY_SIZE_BYTES_MAX + SORT_KEY_SIZE_BYTES_MAX < ITEM_SIZE_BYTES_MAX);
const _: () = assert!(BATCH_WRITE_REQUEST_COUNT_MAX < BATCH_GET_KEY_COUNT_MAX);
