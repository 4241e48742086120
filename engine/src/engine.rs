//! The engine: a catalog of tables driven by requests and the caller's clock.
//!
//! `execute(request, now_ms)` is the one entry point. It reads no clock, draws no randomness
//! and does no IO; two engines fed the same requests at the same times answer the same.

use crate::api::*;
use crate::capacity::admission::{Admission, Capacity, Limit, Usage, throttle_error};
use crate::capacity::metrics::{Counters, Series};
use crate::data::mutation::Mutation;
use crate::data::table::{self, BillingMode, Status, Table};
use crate::error::{ConstraintErrors, Error, ErrorKind, Result};
use crate::limits::{self, Limits};
use crate::ops;
use crate::realism::profile::{Profile, Realism};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct Config {
    pub region: String,
    pub account_id: String,
    /// The address DescribeEndpoints reports (host and port, no scheme).
    pub endpoint_address: String,
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            endpoint_address: "localhost:8000".into(),
            limits: Limits::default(),
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
    table_sequence: u64,
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

    /// Records a request's outcome in the account and table series (the host measures the
    /// latency).
    pub fn record_request(
        &mut self,
        table: Option<&str>,
        error: Option<ErrorKind>,
        latency_us: u64,
        now_ms: u64,
    ) {
        let mut delta = Counters::default();
        match error {
            None => {
                delta.successful_requests = 1;
                delta.latency_sum_us = latency_us;
                delta.latency_max_us = latency_us;
            }
            Some(kind) if kind.http_status() >= 500 => delta.system_errors = 1,
            Some(
                ErrorKind::ProvisionedThroughputExceeded
                | ErrorKind::Throttling
                | ErrorKind::RequestLimitExceeded,
            ) => {}
            Some(_) => delta.user_errors = 1,
        }
        self.account_metrics.record(now_ms, &delta);
        if let Some(t) = table.and_then(|name| self.tables.get_mut(table_name_of(name))) {
            // UserErrors is an account metric; tables count the rest.
            delta.user_errors = 0;
            t.metrics.table.record(now_ms, &delta);
        }
    }

    /// Admits a data-plane request on `table` that touches `key` and costs at least
    /// `min_units`, or answers with the throttling error DynamoDB would. Nothing is checked
    /// unless the profile turns throttling (or storms) on for the table.
    pub(crate) fn admit(
        &mut self,
        table: &str,
        key: &[u8],
        write: bool,
        min_units: f64,
        index: Option<&str>,
        now_ms: u64,
    ) -> Result<()> {
        if !self.realism.active {
            return Ok(());
        }
        let storm = self.realism.storm(table, now_ms);
        if !storm && !self.realism.throttling(table) {
            return Ok(());
        }
        let adaptive = self.realism.adaptive(table);
        let limits = &self.config.limits;
        let Some(t) = self.tables.get_mut(table) else {
            return Ok(());
        };
        let capacity = t.capacity();
        let result = if storm {
            Err((
                match capacity {
                    Capacity::Provisioned { .. } => Limit::Provisioned,
                    Capacity::OnDemand => Limit::OnDemandScaling,
                },
                None,
            ))
        } else {
            for i in t.indexes.iter().filter(|i| i.global) {
                if let (Some(tp), Capacity::Provisioned { .. }) = (&i.throughput, capacity) {
                    t.load.refill_index(
                        &i.name,
                        tp.read_capacity_units as f64,
                        tp.write_capacity_units as f64,
                        now_ms,
                        limits,
                    );
                }
            }
            let admission = Admission {
                capacity,
                partitions: t.items.count(),
                adaptive,
                limits,
                table_arn: &t.arn,
            };
            let partition = t.items.partition_of_mut(key);
            t.load.admit(
                &mut partition.load,
                write,
                min_units,
                index,
                now_ms,
                &admission,
            )
        };
        let Err((limit, index)) = result else {
            return Ok(());
        };
        let mut delta = Counters {
            throttled_requests: 1,
            ..Counters::default()
        };
        if write {
            delta.write_throttle_events = 1;
        } else {
            delta.read_throttle_events = 1;
        }
        match &index {
            Some(name) => t
                .metrics
                .indexes
                .entry(name.clone())
                .or_default()
                .record(now_ms, &delta),
            None => t.metrics.table.record(now_ms, &delta),
        }
        if let Some(insights) = &mut t.metrics.insights
            && let Some(partition_key) = crate::partition::partition_key_prefix(key)
        {
            insights.throttled(partition_key);
        }
        Err(throttle_error(
            limit,
            index.as_deref(),
            write,
            capacity,
            &t.arn,
        ))
    }

    /// Charges what an admitted request consumed, records it in the metrics, and splits the
    /// partition if it stayed hot long enough.
    pub(crate) fn charge(&mut self, table: &str, key: &[u8], usage: Usage<'_>, now_ms: u64) {
        let Usage {
            write,
            units,
            index_units,
            returned,
        } = usage;
        let adaptive = self.realism.adaptive(table);
        let limits = &self.config.limits;
        let Some(t) = self.tables.get_mut(table) else {
            return;
        };
        let admission = Admission {
            capacity: t.capacity(),
            partitions: t.items.count(),
            adaptive,
            limits,
            table_arn: &t.arn,
        };
        let partition = t.items.partition_of_mut(key);
        t.load
            .charge(&mut partition.load, key, &usage, now_ms, &admission);
        let hot = partition.load.hot_seconds >= limits.heat_split_seconds;
        let mut delta = Counters {
            returned_item_count: returned,
            ..Counters::default()
        };
        if write {
            delta.consumed_write_capacity_units = units;
        } else {
            delta.consumed_read_capacity_units = units;
        }
        t.metrics.table.record(now_ms, &delta);
        for (name, units) in index_units {
            let mut delta = Counters::default();
            if write {
                delta.consumed_write_capacity_units = *units;
            } else {
                delta.consumed_read_capacity_units = *units;
            }
            t.metrics
                .indexes
                .entry(name.to_string())
                .or_default()
                .record(now_ms, &delta);
        }
        if let Some(insights) = &mut t.metrics.insights
            && let Some(partition_key) = crate::partition::partition_key_prefix(key)
        {
            insights.accessed(partition_key, units);
        }
        if hot {
            t.items.split_for_heat(key, limits);
        }
        if let Some(policy) = self.realism.auto_scaling(table) {
            let limits = self.config.limits.clone();
            if let Some(t) = self.tables.get_mut(table) {
                crate::capacity::autoscaling::evaluate(t, &policy, now_ms, &limits);
            }
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Executes one request at time `now_ms` (milliseconds since the Unix epoch on the
    /// caller's clock).
    pub fn execute(&mut self, request: Request, now_ms: u64) -> Result<Response> {
        self.expire_deleted_tables(now_ms);
        match request {
            Request::CreateTable(input) => self.create_table(&input, now_ms),
            Request::DescribeTable(input) => self.describe_table(&input, now_ms),
            Request::ListTables(input) => self.list_tables(&input),
            Request::UpdateTable(input) => self.update_table(&input, now_ms),
            Request::DeleteTable(input) => self.delete_table(&input, now_ms),
            Request::DescribeLimits => Ok(Response::DescribeLimits(DescribeLimitsOutput {
                account_max_read_capacity_units: limits::ACCOUNT_MAX_READ_CAPACITY_UNITS,
                account_max_write_capacity_units: limits::ACCOUNT_MAX_WRITE_CAPACITY_UNITS,
                table_max_read_capacity_units: limits::TABLE_MAX_READ_CAPACITY_UNITS,
                table_max_write_capacity_units: limits::TABLE_MAX_WRITE_CAPACITY_UNITS,
            })),
            Request::DescribeEndpoints => {
                Ok(Response::DescribeEndpoints(DescribeEndpointsOutput {
                    endpoints: vec![Endpoint {
                        address: self.config.endpoint_address.clone(),
                        cache_period_in_minutes: 1440,
                    }],
                }))
            }
            Request::TagResource(input) => self.tag_resource(&input),
            Request::UntagResource(input) => self.untag_resource(&input),
            Request::ListTagsOfResource(input) => self.list_tags(&input),
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
        }
    }

    fn expire_deleted_tables(&mut self, now_ms: u64) {
        let deleting_ms = self.config.limits.table_deleting_ms;
        self.tables
            .retain(|_, t| t.deleted_at_ms.is_none_or(|at| now_ms < at + deleting_ms));
    }

    /// The table a data-plane request names; CREATING tables are not found yet.
    pub(crate) fn table_for_data(&self, name_or_arn: &str, now_ms: u64) -> Result<&Table> {
        let name = table_name_of(name_or_arn);
        match self.tables.get(name) {
            Some(t) if t.status(now_ms, &self.config.limits) != Status::Creating => Ok(t),
            _ => Err(Error::table_not_found(name)),
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
            .items
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
            }
        }
        for (n, (key, item)) in selected.into_iter().enumerate() {
            let (source, limits) = self.table_and_limits(table);
            let removal = Mutation {
                key: key.clone(),
                before: Some(item.clone()),
                after: None,
            };
            source.apply(&removal, &context(now_ms, limits));
            if drop_last && n + 1 == count {
                continue;
            }
            let (target, limits) = to.table_and_limits(table);
            let arrival = Mutation {
                before: target.get(&key),
                key,
                after: Some(item),
            };
            target.apply(&arrival, &context(now_ms, limits));
        }
        Ok(count)
    }

    /// A table the caller already found (by its plain name).
    pub(crate) fn table_by_name(&self, name: &str) -> &Table {
        self.tables.get(name).expect("the caller found the table")
    }

    /// Admits a single-item write and returns its table and write context.
    pub(crate) fn begin_write(
        &mut self,
        name: &str,
        key: &[u8],
        now_ms: u64,
    ) -> Result<(&mut Table, table::WriteContext<'_>)> {
        self.admit(name, key, true, 1.0, None, now_ms)?;
        let lags = self.realism.lags(name);
        let gsi_lag_ms = self.realism.gsi_lag(name);
        let (table, limits) = self.table_and_limits(name);
        Ok((
            table,
            table::WriteContext {
                now_ms,
                lags,
                gsi_lag_ms,
                limits,
            },
        ))
    }

    /// A failed condition still consumes write capacity: the existing item's size, or one
    /// unit when there is none.
    pub(crate) fn charge_failed_write(
        &mut self,
        name: &str,
        key: &[u8],
        old: Option<&crate::Item>,
        now_ms: u64,
    ) {
        let usage = Usage {
            write: true,
            units: crate::capacity::units::write_units(
                old.map_or(0, crate::types::item::item_size_bytes),
            ),
            index_units: &[],
            returned: 0,
        };
        self.charge(name, key, usage, now_ms);
    }

    /// Charges a write: the table pays for itself and its LSIs, each GSI for itself.
    pub(crate) fn charge_write(
        &mut self,
        name: &str,
        key: &[u8],
        units: f64,
        index_writes: &table::IndexWrites,
        now_ms: u64,
    ) {
        let local: f64 = index_writes
            .iter()
            .filter(|(_, global, _)| !global)
            .map(|(_, _, u)| u)
            .sum();
        let global: Vec<(&str, f64)> = index_writes
            .iter()
            .filter(|(_, global, _)| *global)
            .map(|(n, _, u)| (n.as_str(), *u))
            .collect();
        self.charge(
            name,
            key,
            Usage {
                write: true,
                units: units + local,
                index_units: &global,
                returned: 0,
            },
            now_ms,
        );
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

    fn table_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:dynamodb:{}:{}:table/{name}",
            self.config.region, self.config.account_id
        )
    }

    fn create_table(&mut self, input: &CreateTableInput, now_ms: u64) -> Result<Response> {
        let table::TableDefinition {
            name,
            attribute_definitions,
            key_schema,
            billing_mode,
            throughput,
            indexes,
        } = table::validate_create(input)?;
        reject_streams(input.stream_specification.as_ref())?;
        if self.tables.contains_key(&name) {
            return Err(Error::table_already_exists(&name));
        }
        if self.tables.len() >= limits::TABLE_COUNT_MAX {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "Subscriber limit exceeded: You have exceeded the maximum number of tables ({}) for this account and region",
                    limits::TABLE_COUNT_MAX
                ),
            ));
        }
        self.table_sequence += 1;
        let digest = xxhash_rust::xxh3::xxh3_128(
            format!("{name}\0{now_ms}\0{}", self.table_sequence).as_bytes(),
        );
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (digest >> 96) as u32,
            (digest >> 80) as u16,
            (digest >> 68) as u16 & 0xFFF,
            (digest >> 56) as u16 & 0xFFF,
            digest as u64 & 0xFFFF_FFFF_FFFF
        );
        let tags = input
            .tags
            .iter()
            .flatten()
            .map(|t| {
                (
                    t.key.clone().expect("checked"),
                    t.value.clone().expect("checked"),
                )
            })
            .collect::<BTreeMap<_, _>>();
        if tags.len() > limits::TAG_COUNT_MAX {
            return Err(too_many_tags());
        }
        let partition_count = table::partitions_for(billing_mode, &throughput, &self.config.limits);
        let table = Table {
            arn: self.table_arn(&name),
            name: name.clone(),
            id,
            attribute_definitions,
            key_schema,
            billing_mode,
            throughput,
            last_update_to_pay_per_request_ms: (billing_mode == BillingMode::PayPerRequest)
                .then_some(now_ms),
            table_class: input
                .table_class
                .clone()
                .unwrap_or_else(|| "STANDARD".into()),
            deletion_protection: input.deletion_protection_enabled.unwrap_or(false),
            tags,
            created_ms: now_ms,
            updating_until_ms: 0,
            deleted_at_ms: None,
            items: {
                let mut items = crate::partition::Partitions::new(partition_count);
                items.keep_collections_whole = indexes.iter().any(|i| !i.global);
                items
            },
            load: crate::capacity::admission::TableLoad::new(&self.config.limits),
            metrics: crate::capacity::metrics::TableMetrics {
                insights: self.realism.insights(&name).then(Default::default),
                insights_updated_ms: self.realism.insights(&name).then_some(now_ms),
                ..Default::default()
            },
            size_bytes: 0,
            indexes,
        };
        let mut description = table.describe(now_ms, &self.config.limits);
        // CreateTable always answers CREATING, as DynamoDB does, however short the delay.
        description.table_status = Status::Creating.name().into();
        self.tables.insert(name, table);
        Ok(Response::Table(Box::new(TableOutput {
            table_description: Some(description),
            table: None,
        })))
    }

    fn named_table(&self, table_name: &Option<String>, path: &str) -> Result<&Table> {
        let mut errors = ConstraintErrors::new();
        errors.name(table_name, path, true);
        errors.into_result()?;
        let name = table_name_of(table_name.as_deref().expect("checked"));
        self.tables
            .get(name)
            .ok_or_else(|| Error::table_not_found(name))
    }

    fn describe_table(&self, input: &TableNameInput, now_ms: u64) -> Result<Response> {
        let table = self.named_table(&input.table_name, "tableName")?;
        Ok(Response::Table(Box::new(TableOutput {
            table_description: None,
            table: Some(table.describe(now_ms, &self.config.limits)),
        })))
    }

    fn list_tables(&self, input: &ListTablesInput) -> Result<Response> {
        let mut errors = ConstraintErrors::new();
        if let Some(limit) = input.limit {
            if limit < 1 {
                errors.push(
                    &limit.to_string(),
                    "limit",
                    "Member must have value greater than or equal to 1",
                );
            }
            if limit > limits::LIST_TABLES_LIMIT_MAX as i64 {
                errors.push(
                    &limit.to_string(),
                    "limit",
                    "Member must have value less than or equal to 100",
                );
            }
        }
        if let Some(start) = &input.exclusive_start_table_name {
            errors.name(&Some(start.clone()), "exclusiveStartTableName", false);
        }
        errors.into_result()?;
        let limit = input
            .limit
            .map_or(limits::LIST_TABLES_LIMIT_MAX, |l| l as usize);
        let names: Vec<&String> = match &input.exclusive_start_table_name {
            Some(start) => self
                .tables
                .range::<String, _>((std::ops::Bound::Excluded(start), std::ops::Bound::Unbounded))
                .map(|(k, _)| k)
                .collect(),
            None => self.tables.keys().collect(),
        };
        let page: Vec<String> = names.iter().take(limit).map(|s| s.to_string()).collect();
        let last = (names.len() > limit)
            .then(|| page.last().cloned())
            .flatten();
        Ok(Response::ListTables(ListTablesOutput {
            table_names: page,
            last_evaluated_table_name: last,
        }))
    }

    fn update_table(&mut self, input: &UpdateTableInput, now_ms: u64) -> Result<Response> {
        let mut errors = ConstraintErrors::new();
        errors.name(&input.table_name, "tableName", true);
        errors.enumeration(
            &input.billing_mode,
            "billingMode",
            &["PROVISIONED", "PAY_PER_REQUEST"],
        );
        if let Some(t) = &input.provisioned_throughput {
            table::check_throughput(&mut errors, t, "provisionedThroughput");
        }
        errors.enumeration(
            &input.table_class,
            "tableClass",
            &["STANDARD", "STANDARD_INFREQUENT_ACCESS"],
        );
        errors.into_result()?;
        if input.replica_updates.is_some() || input.sse_specification.is_some() {
            return Err(Error::validation(
                "dynasim does not implement ReplicaUpdates or SSESpecification in UpdateTable yet; see docs/compatibility.md",
            ));
        }
        reject_streams(input.stream_specification.as_ref())?;
        if input.billing_mode.is_none()
            && input.provisioned_throughput.is_none()
            && input.table_class.is_none()
            && input.deletion_protection_enabled.is_none()
            && input.stream_specification.is_none()
            && input.global_secondary_index_updates.is_none()
        {
            return Err(Error::validation(
                "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
            ));
        }
        let limits = self.config.limits.clone();
        let name = table_name_of(input.table_name.as_deref().expect("checked")).to_string();
        let table = self
            .tables
            .get_mut(&name)
            .ok_or_else(|| Error::table_not_found(&name))?;
        match table.status(now_ms, &limits) {
            Status::Active => {}
            status => {
                return Err(Error::new(
                    ErrorKind::ResourceInUse,
                    format!(
                        "Attempt to change a resource which is still in use: Table is being {}: {name}",
                        match status {
                            Status::Creating => "created",
                            Status::Deleting => "deleted",
                            _ => "updated",
                        }
                    ),
                ));
            }
        }
        let new_mode = match input.billing_mode.as_deref() {
            Some("PAY_PER_REQUEST") => BillingMode::PayPerRequest,
            Some(_) => BillingMode::Provisioned,
            None => table.billing_mode,
        };
        let index_plan = match &input.global_secondary_index_updates {
            Some(updates) => plan_index_updates(
                table,
                updates,
                input.attribute_definitions.as_deref(),
                new_mode,
            )?,
            None => IndexPlan::default(),
        };
        let mut throughput = table.throughput.clone();
        match (new_mode, &input.provisioned_throughput) {
            (BillingMode::PayPerRequest, Some(_)) => {
                return Err(Error::invalid_parameter(
                    "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
                ));
            }
            (BillingMode::Provisioned, None)
                if table.billing_mode == BillingMode::PayPerRequest =>
            {
                return Err(Error::invalid_parameter(
                    "ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
                ));
            }
            (BillingMode::Provisioned, Some(t)) => {
                let (read, write) = (
                    t.read_capacity_units.expect("checked") as u64,
                    t.write_capacity_units.expect("checked") as u64,
                );
                if table.billing_mode == BillingMode::Provisioned
                    && read == throughput.read_capacity_units
                    && write == throughput.write_capacity_units
                    && input.billing_mode.is_none()
                {
                    return Err(Error::validation(format!(
                        "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: {}. Requested ReadCapacityUnits: {read}. Current WriteCapacityUnits provisioned for the table: {}. Requested WriteCapacityUnits: {write}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
                        throughput.read_capacity_units, throughput.write_capacity_units
                    )));
                }
                if read > limits::TABLE_MAX_READ_CAPACITY_UNITS
                    || write > limits::TABLE_MAX_WRITE_CAPACITY_UNITS
                {
                    return Err(Error::new(
                        ErrorKind::LimitExceeded,
                        format!(
                            "Subscriber limit exceeded: Provisioned throughput for table {name} exceeds the per-table limit of {} read and {} write capacity units",
                            limits::TABLE_MAX_READ_CAPACITY_UNITS,
                            limits::TABLE_MAX_WRITE_CAPACITY_UNITS
                        ),
                    ));
                }
                if read > throughput.read_capacity_units || write > throughput.write_capacity_units
                {
                    throughput.last_increase_ms = Some(now_ms);
                }
                if read < throughput.read_capacity_units || write < throughput.write_capacity_units
                {
                    throughput.last_decrease_ms = Some(now_ms);
                    throughput.decreases_today += 1;
                }
                throughput.read_capacity_units = read;
                throughput.write_capacity_units = write;
            }
            (BillingMode::PayPerRequest, None) => {
                throughput.read_capacity_units = 0;
                throughput.write_capacity_units = 0;
            }
            (BillingMode::Provisioned, None) => {}
        }
        if new_mode == BillingMode::PayPerRequest
            && table.billing_mode != BillingMode::PayPerRequest
        {
            table.last_update_to_pay_per_request_ms = Some(now_ms);
            // A table switched to on-demand serves at once at least what it was provisioned
            // for, and at least what a new on-demand table serves (§6.5).
            let read = (table.throughput.read_capacity_units as f64)
                .max(limits.on_demand_initial_read_units);
            let write = (table.throughput.write_capacity_units as f64)
                .max(limits.on_demand_initial_write_units);
            table.load.peak_read = table.load.peak_read.max(read / 2.0);
            table.load.peak_write = table.load.peak_write.max(write / 2.0);
        }
        table.billing_mode = new_mode;
        table.throughput = throughput;
        if let Some(class) = &input.table_class {
            table.table_class = class.clone();
        }
        if let Some(protection) = input.deletion_protection_enabled {
            table.deletion_protection = protection;
        }
        apply_index_plan(table, index_plan, new_mode);
        // More throughput than the partitions serve adds partitions (they never merge).
        let needed = table::partitions_for(table.billing_mode, &table.throughput, &limits);
        table.items.grow_to(needed);
        table.updating_until_ms = now_ms + limits.table_updating_ms;
        let mut description = table.describe(now_ms, &limits);
        description.table_status = Status::Updating.name().into();
        Ok(Response::Table(Box::new(TableOutput {
            table_description: Some(description),
            table: None,
        })))
    }

    fn delete_table(&mut self, input: &TableNameInput, now_ms: u64) -> Result<Response> {
        let mut errors = ConstraintErrors::new();
        errors.name(&input.table_name, "tableName", true);
        errors.into_result()?;
        let limits = self.config.limits.clone();
        let name = table_name_of(input.table_name.as_deref().expect("checked")).to_string();
        let table = self
            .tables
            .get_mut(&name)
            .ok_or_else(|| Error::table_not_found(&name))?;
        match table.status(now_ms, &limits) {
            Status::Creating | Status::Updating => {
                let doing = if table.status(now_ms, &limits) == Status::Creating {
                    "created"
                } else {
                    "updated"
                };
                return Err(Error::new(
                    ErrorKind::ResourceInUse,
                    format!(
                        "Attempt to change a resource which is still in use: Table is being {doing}: {name}"
                    ),
                ));
            }
            Status::Active | Status::Deleting => {}
        }
        if table.deletion_protection {
            return Err(Error::new(
                ErrorKind::ResourceInUse,
                "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
            ));
        }
        table.deleted_at_ms.get_or_insert(now_ms);
        let description = table.describe(now_ms, &limits);
        self.expire_deleted_tables(now_ms);
        Ok(Response::Table(Box::new(TableOutput {
            table_description: Some(description),
            table: None,
        })))
    }

    /// The table an ARN names. Malformed ARNs are validation errors, well-formed ones of
    /// missing tables are not found (obs).
    fn table_by_arn(&mut self, arn: &Option<String>) -> Result<&mut Table> {
        let Some(arn) = arn else {
            return Err(Error::validation(
                "1 validation error detected: Value null at 'resourceArn' failed to satisfy constraint: Member must not be null",
            ));
        };
        let prefix = format!(
            "arn:aws:dynamodb:{}:{}:table/",
            self.config.region, self.config.account_id
        );
        let Some(name) = arn
            .strip_prefix(&prefix)
            .filter(|n| !n.is_empty() && !n.contains('/'))
        else {
            if arn.starts_with("arn:aws:dynamodb:") && arn.contains(":table/") {
                return Err(Error::new(
                    ErrorKind::ResourceNotFound,
                    format!("Requested resource not found: ResourcArn: {arn} not found"),
                ));
            }
            return Err(Error::validation(format!(
                "Invalid TableArn: Invalid ResourceArn provided as input {arn}"
            )));
        };
        let name = name.to_string();
        self.tables.get_mut(&name).ok_or_else(|| {
            Error::new(
                ErrorKind::ResourceNotFound,
                format!("Requested resource not found: ResourcArn: {arn} not found"),
            )
        })
    }

    fn tag_resource(&mut self, input: &TagResourceInput) -> Result<Response> {
        let Some(tags) = &input.tags else {
            return Err(Error::validation(
                "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null",
            ));
        };
        table::check_tags(tags)?;
        if tags.is_empty() {
            return Err(Error::validation(
                "Atleast one Tag needs to be provided as Input.",
            ));
        }
        let table = self.table_by_arn(&input.resource_arn)?;
        let mut merged = table.tags.clone();
        for tag in tags {
            merged.insert(
                tag.key.clone().expect("checked"),
                tag.value.clone().expect("checked"),
            );
        }
        if merged.len() > limits::TAG_COUNT_MAX {
            return Err(too_many_tags());
        }
        table.tags = merged;
        Ok(Response::NoBody)
    }

    fn untag_resource(&mut self, input: &UntagResourceInput) -> Result<Response> {
        let Some(keys) = &input.tag_keys else {
            return Err(Error::validation(
                "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null",
            ));
        };
        if keys.is_empty() {
            return Err(Error::validation(
                "Atleast one Tag Key needs to be provided as Input.",
            ));
        }
        let table = self.table_by_arn(&input.resource_arn)?;
        for key in keys {
            table.tags.remove(key);
        }
        Ok(Response::NoBody)
    }

    fn list_tags(&mut self, input: &ListTagsInput) -> Result<Response> {
        let table = self.table_by_arn(&input.resource_arn)?;
        let tags = table
            .tags
            .iter()
            .map(|(k, v)| TagOutput {
                key: k.clone(),
                value: v.clone(),
            })
            .collect();
        Ok(Response::ListTags(ListTagsOutput {
            tags,
            next_token: None,
        }))
    }
}

fn too_many_tags() -> Error {
    Error::new(
        ErrorKind::LimitExceeded,
        "The number of tags on a resource exceeds the per-resource limit of 50",
    )
}

/// Streams are not implemented: enabling one is a clear error (docs/compatibility.md).
fn reject_streams(specification: Option<&StreamSpecificationInput>) -> Result<()> {
    if specification.is_some_and(|s| s.stream_enabled == Some(true)) {
        return Err(Error::validation(
            "dynasim does not implement DynamoDB Streams yet; see docs/compatibility.md",
        ));
    }
    Ok(())
}

/// What UpdateTable's GlobalSecondaryIndexUpdates will do, checked before anything changes.
#[derive(Default)]
struct IndexPlan {
    create: Option<(
        crate::data::index::Index,
        Vec<(String, crate::types::keys::ScalarType)>,
    )>,
    delete: Option<String>,
    throughput: Vec<(String, table::Throughput)>,
}

fn plan_index_updates(
    table: &Table,
    updates: &[GlobalSecondaryIndexUpdate],
    definitions: Option<&[AttributeDefinition]>,
    billing_mode: BillingMode,
) -> Result<IndexPlan> {
    if updates.is_empty() {
        return Err(Error::invalid_parameter(
            "GlobalSecondaryIndexUpdates must not be empty",
        ));
    }
    let mut plan = IndexPlan::default();
    let mut named = std::collections::BTreeSet::new();
    for update in updates {
        let (index_input, action) = match (&update.create, &update.update, &update.delete) {
            (Some(i), None, None) => (i, "Create"),
            (None, Some(i), None) => (i, "Update"),
            (None, None, Some(i)) => (i, "Delete"),
            _ => {
                return Err(Error::invalid_parameter(
                    "One of GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Update or GlobalSecondaryIndexUpdate.Delete must be specified",
                ));
            }
        };
        let mut errors = ConstraintErrors::new();
        errors.name(
            &index_input.index_name,
            &format!(
                "globalSecondaryIndexUpdates.member.{}.indexName",
                action.to_lowercase()
            ),
            false,
        );
        if action == "Create" {
            errors.not_null(
                &index_input.key_schema,
                "globalSecondaryIndexUpdates.member.create.keySchema",
            );
            errors.not_null(
                &index_input.projection,
                "globalSecondaryIndexUpdates.member.create.projection",
            );
        }
        errors.into_result()?;
        let name = index_input.index_name.clone().expect("checked");
        if !named.insert(name.clone()) {
            return Err(Error::validation(format!(
                "Only one global secondary index update per index is allowed simultaneously. Index: {name}"
            )));
        }
        let existing = table.index(&name);
        match action {
            "Create" => {
                if plan.create.is_some() || plan.delete.is_some() {
                    return Err(only_one_online_index());
                }
                if existing.is_some() {
                    return Err(Error::validation(format!(
                        "Attempting to create an index which already exists: {name}"
                    )));
                }
                if table.indexes.iter().filter(|i| i.global).count() >= limits::GSI_COUNT_MAX {
                    return Err(Error::invalid_parameter(format!(
                        "GlobalSecondaryIndex count exceeds the per-table limit of {}",
                        limits::GSI_COUNT_MAX
                    )));
                }
                let mut defined: BTreeMap<String, crate::types::keys::ScalarType> =
                    table.attribute_definitions.iter().cloned().collect();
                for definition in definitions.unwrap_or(&[]) {
                    let (Some(attribute), Some(kind)) =
                        (&definition.attribute_name, &definition.attribute_type)
                    else {
                        return Err(Error::invalid_parameter(
                            "AttributeDefinitions must have an AttributeName and an AttributeType",
                        ));
                    };
                    let Some(kind) = crate::types::keys::ScalarType::from_name(kind) else {
                        return Err(Error::validation(format!(
                            "1 validation error detected: Value '{kind}' at 'attributeDefinitions.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]"
                        )));
                    };
                    if defined
                        .insert(attribute.clone(), kind)
                        .is_some_and(|previous| previous != kind)
                    {
                        return Err(Error::invalid_parameter(format!(
                            "Cannot change the type of attribute {attribute}, which is already defined"
                        )));
                    }
                }
                let keys: Vec<&str> = index_input
                    .key_schema
                    .iter()
                    .flatten()
                    .filter_map(|k| k.attribute_name.as_deref())
                    .collect();
                let undefined: Vec<&str> = keys
                    .iter()
                    .copied()
                    .filter(|k| !defined.contains_key(*k))
                    .collect();
                if !undefined.is_empty() {
                    return Err(Error::invalid_parameter(format!(
                        "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
                        undefined.join(", "),
                        defined.keys().cloned().collect::<Vec<_>>().join(", ")
                    )));
                }
                let index = table::build_index(
                    true,
                    index_input,
                    name,
                    &defined,
                    &table.key_schema,
                    billing_mode,
                )?;
                plan.create = Some((index, defined.into_iter().collect()));
            }
            "Delete" => {
                if plan.create.is_some() || plan.delete.is_some() {
                    return Err(only_one_online_index());
                }
                if !existing.is_some_and(|i| i.global) {
                    return Err(Error::new(
                        ErrorKind::ResourceNotFound,
                        format!("Requested resource not found: Index: {name} not found"),
                    ));
                }
                plan.delete = Some(name);
            }
            _ => {
                if !existing.is_some_and(|i| i.global) {
                    return Err(Error::new(
                        ErrorKind::ResourceNotFound,
                        format!("Requested resource not found: Index: {name} not found"),
                    ));
                }
                let Some(requested) = &index_input.provisioned_throughput else {
                    return Err(Error::invalid_parameter(format!(
                        "ProvisionedThroughput must be specified for index: {name}"
                    )));
                };
                if billing_mode == BillingMode::PayPerRequest {
                    return Err(Error::invalid_parameter(format!(
                        "ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
                    )));
                }
                let mut errors = ConstraintErrors::new();
                table::check_throughput(
                    &mut errors,
                    requested,
                    "globalSecondaryIndexUpdates.member.update.provisionedThroughput",
                );
                errors.into_result()?;
                plan.throughput.push((
                    name,
                    table::Throughput {
                        read_capacity_units: requested.read_capacity_units.expect("checked") as u64,
                        write_capacity_units: requested.write_capacity_units.expect("checked")
                            as u64,
                        last_increase_ms: None,
                        last_decrease_ms: None,
                        decreases_today: 0,
                    },
                ));
            }
        }
    }
    Ok(plan)
}

fn only_one_online_index() -> Error {
    Error::new(
        ErrorKind::LimitExceeded,
        "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
    )
}

/// Applies a checked index plan, and keeps GSI throughput in step with the billing mode:
/// on-demand GSIs have none; GSIs of a table switched to provisioned take the table's.
fn apply_index_plan(table: &mut Table, plan: IndexPlan, billing_mode: BillingMode) {
    if let Some(name) = plan.delete {
        table.indexes.retain(|i| i.name != name);
    }
    if let Some((index, definitions)) = plan.create {
        table.attribute_definitions = definitions;
        table.add_index(index);
    }
    for (name, throughput) in plan.throughput {
        if let Some(index) = table.indexes.iter_mut().find(|i| i.name == name) {
            index.throughput = Some(throughput);
        }
    }
    let table_throughput = table.throughput.clone();
    for index in table.indexes.iter_mut().filter(|i| i.global) {
        match billing_mode {
            BillingMode::PayPerRequest => index.throughput = None,
            BillingMode::Provisioned => {
                index
                    .throughput
                    .get_or_insert_with(|| table_throughput.clone());
            }
        }
    }
    table.prune_attribute_definitions();
}

/// Contributor Insights: DynamoDB publishes the data to CloudWatch; dynasim keeps it with the
/// table (see `metrics::Insights`) and serves it on `/metrics`. Tracked per table.
impl Engine {
    fn insights_target<'a>(
        &self,
        input: &'a ContributorInsightsInput,
        now_ms: u64,
    ) -> Result<&'a str> {
        let mut errors = ConstraintErrors::new();
        errors.name(&input.table_name, "tableName", true);
        if input.index_name.is_some() {
            errors.name(&input.index_name, "indexName", false);
        }
        errors.into_result()?;
        let name = table_name_of(input.table_name.as_deref().expect("checked"));
        let table = self.table_for_data(name, now_ms)?;
        if let Some(index) = &input.index_name {
            if table.index(index).is_none() {
                return Err(Error::resource_not_found());
            }
            return Err(Error::validation(
                "dynasim tracks Contributor Insights per table, not per index; see docs/compatibility.md",
            ));
        }
        Ok(name)
    }

    fn insights_output(&self, name: &str, describe: bool) -> ContributorInsightsOutput {
        let table = &self.tables[name];
        let enabled = table.metrics.insights.is_some();
        let created = (table.created_ms / 1000).to_string();
        ContributorInsightsOutput {
            table_name: name.to_string(),
            index_name: None,
            contributor_insights_status: if enabled { "ENABLED" } else { "DISABLED" }.into(),
            contributor_insights_rule_list: (describe && enabled).then(|| {
                ["PKC", "PKT"]
                    .iter()
                    .map(|kind| format!("DynamoDBContributorInsights-{kind}-{name}-{created}"))
                    .collect()
            }),
            last_update_date_time: table
                .metrics
                .insights_updated_ms
                .filter(|_| describe)
                .map(|ms| ms as f64 / 1000.0),
            contributor_insights_mode: (describe && enabled)
                .then(|| "ACCESSED_AND_THROTTLED_KEYS".into()),
        }
    }

    pub(crate) fn update_contributor_insights(
        &mut self,
        input: &ContributorInsightsInput,
        now_ms: u64,
    ) -> Result<Response> {
        let name = self.insights_target(input, now_ms)?;
        let enable = match input.contributor_insights_action.as_deref() {
            Some("ENABLE") => true,
            Some("DISABLE") => false,
            other => {
                return Err(Error::validation(format!(
                    "1 validation error detected: Value '{}' at 'contributorInsightsAction' failed to satisfy constraint: Member must satisfy enum value set: [ENABLE, DISABLE]",
                    other.unwrap_or("null")
                )));
            }
        };
        let table = self.tables.get_mut(name).expect("found");
        if enable {
            table.metrics.insights.get_or_insert_with(Default::default);
        } else {
            table.metrics.insights = None;
        }
        table.metrics.insights_updated_ms = Some(now_ms);
        let mut output = self.insights_output(name, false);
        // The change takes effect at once; the answer names the transition, as AWS's does.
        output.contributor_insights_status = if enable { "ENABLING" } else { "DISABLING" }.into();
        Ok(Response::ContributorInsights(output))
    }

    pub(crate) fn describe_contributor_insights(
        &self,
        input: &ContributorInsightsInput,
        now_ms: u64,
    ) -> Result<Response> {
        let name = self.insights_target(input, now_ms)?;
        Ok(Response::ContributorInsights(
            self.insights_output(name, true),
        ))
    }

    pub(crate) fn list_contributor_insights(
        &self,
        input: &ListContributorInsightsInput,
        now_ms: u64,
    ) -> Result<Response> {
        let names: Vec<&str> = match &input.table_name {
            Some(name) => {
                let name = table_name_of(name);
                self.table_for_data(name, now_ms)?;
                vec![name]
            }
            None => self.tables.keys().map(String::as_str).collect(),
        };
        if let Some(max) = input.max_results
            && !(1..=100).contains(&max)
        {
            return Err(Error::validation(format!(
                "1 validation error detected: Value '{max}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100"
            )));
        }
        let start = input
            .next_token
            .as_deref()
            .map_or(0, |t| t.parse::<usize>().unwrap_or(usize::MAX));
        let max = input.max_results.unwrap_or(100) as usize;
        let summaries: Vec<ContributorInsightsSummary> = names
            .iter()
            .skip(start)
            .take(max)
            .map(|name| {
                let enabled = self.tables[*name].metrics.insights.is_some();
                ContributorInsightsSummary {
                    table_name: name.to_string(),
                    contributor_insights_status: if enabled { "ENABLED" } else { "DISABLED" }
                        .into(),
                    contributor_insights_mode: enabled
                        .then(|| "ACCESSED_AND_THROTTLED_KEYS".into()),
                }
            })
            .collect();
        let next = start.saturating_add(summaries.len());
        Ok(Response::ListContributorInsights(
            ListContributorInsightsOutput {
                contributor_insights_summaries: summaries,
                next_token: (next < names.len()).then(|| next.to_string()),
            },
        ))
    }
}
