//! A table: its definition (checked from CreateTable), its lifecycle as a function of time,
//! its description, and its items.

use crate::api::*;
use crate::capacity::admission::TableLoad;
use crate::data::index::{Index, Projection};
use crate::data::mutation::Mutation;
use crate::error::{ConstraintErrors, Error, Result};
use crate::limits::{self, Limits};
use crate::partition::{Partitions, REPLICA_COUNT};
use crate::types::item::{self, Item, item_size_bytes};
use crate::types::keys::{KeyAttribute, KeySchema, ScalarType};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BillingMode {
    Provisioned,
    PayPerRequest,
}

impl BillingMode {
    pub fn name(self) -> &'static str {
        match self {
            BillingMode::Provisioned => "PROVISIONED",
            BillingMode::PayPerRequest => "PAY_PER_REQUEST",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Throughput {
    pub read_capacity_units: u64,
    pub write_capacity_units: u64,
    pub last_increase_ms: Option<u64>,
    pub last_decrease_ms: Option<u64>,
    pub decreases_today: u32,
}

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
    /// partitions.
    pub items: Partitions,
    /// Admission state: the provisioned pool, the on-demand peak, GSI buckets.
    pub load: TableLoad,
    pub metrics: crate::capacity::metrics::TableMetrics,
    pub size_bytes: u64,
    /// Global and local secondary indexes, in definition order.
    pub indexes: Vec<Index>,
}

/// Index writes one table write caused: (index name, is global, capacity units).
pub type IndexWrites = Vec<(String, bool, f64)>;

/// What a write needs besides the item: the time, and how long each replica takes to
/// apply it.
#[derive(Clone, Copy, Debug)]
pub struct WriteContext<'a> {
    pub now_ms: u64,
    pub lags: [u64; REPLICA_COUNT],
    /// How long GSIs take to show this write (a profile's `gsi_lag_ms`), if they lag.
    pub gsi_lag_ms: Option<u64>,
    pub limits: &'a Limits,
}

/// How many partitions provisioned throughput needs: one per 3,000 RCU plus one per
/// 1,000 WCU, at least one (`dynamodb-facts.md` §6.4). A new on-demand table starts with what
/// its initial 12,000 RRU or 4,000 WRU need.
pub fn partitions_for(billing_mode: BillingMode, throughput: &Throughput, limits: &Limits) -> u64 {
    let (read, write) = match billing_mode {
        BillingMode::Provisioned => (
            throughput.read_capacity_units as f64,
            throughput.write_capacity_units as f64,
        ),
        BillingMode::PayPerRequest => {
            let read = limits.on_demand_initial_read_units / limits.partition_read_units_max;
            let write = limits.on_demand_initial_write_units / limits.partition_write_units_max;
            return read.max(write).ceil().max(1.0) as u64;
        }
    };
    (read / limits.partition_read_units_max + write / limits.partition_write_units_max)
        .ceil()
        .max(1.0) as u64
}

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

impl Table {
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

    /// The item under `key` as the partition's leader holds it (what writes and strongly
    /// consistent reads see).
    pub fn get(&self, key: &[u8]) -> Option<Item> {
        self.items.get(key).map(item::decode)
    }

    /// The item under `key` as replica `zone` holds it at `now_ms`: possibly stale.
    pub fn get_from(&mut self, zone: usize, key: &[u8], now_ms: u64) -> Option<Item> {
        let partition = self.items.partition_of_mut(key);
        partition.group.catch_up(now_ms);
        partition
            .group
            .read(zone, key, &partition.items)
            .map(item::decode)
    }

    /// Applies a mutation: the one function through which a table's items change. Keeps
    /// sizes and indexes in step and returns the index writes. `mutation.before` must be the
    /// item stored under the key now (callers read it anyway, for conditions and return
    /// values).
    pub fn apply(&mut self, mutation: &Mutation, context: &WriteContext<'_>) -> IndexWrites {
        match &mutation.after {
            Some(after) => self.put(&mutation.key, after, mutation.before.as_ref(), context),
            None if mutation.before.is_some() => {
                let (deleted, writes) = self.delete(&mutation.key, context);
                assert!(
                    deleted.is_some(),
                    "the caller's view of the old item is current"
                );
                writes
            }
            None => Vec::new(),
        }
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
        assert_eq!(
            replaced,
            old.is_some(),
            "the caller's view of the old item is current"
        );
        if let Some(old) = old {
            self.size_bytes -= item_size_bytes(old) as u64;
        }
        self.size_bytes += item_size_bytes(new_item) as u64;
        self.update_indexes(key, old, Some(new_item), context)
    }

    fn delete(&mut self, key: &[u8], context: &WriteContext<'_>) -> (Option<Item>, IndexWrites) {
        let Some(old) = self.items.delete(key, context.now_ms, context.lags) else {
            return (None, Vec::new());
        };
        self.size_bytes -= item_size_bytes(&old) as u64;
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
                writes.push((index.name.clone(), index.global, units));
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
        let end = crate::types::keys::prefix_end(&prefix);
        let upper = end
            .as_deref()
            .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        let mut bytes = 0usize;
        for entry in self.items.range(std::ops::Bound::Included(&prefix), upper) {
            let stored = item::decode(entry.item_bytes());
            bytes += item_size_bytes(&stored);
            for index in self
                .indexes
                .iter()
                .filter(|i| !i.global && i.key_schema.covers(&stored))
            {
                bytes += item_size_bytes(&index.project(&stored, &self.key_schema));
            }
        }
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
    pub fn add_index(&mut self, mut index: Index) {
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
            creation_date_time: seconds(self.created_ms),
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
            local_secondary_indexes: self.describe_indexes(false),
            global_secondary_indexes: self.describe_indexes(true),
            stream_specification: None,
            table_class_summary: Some(TableClassSummary {
                table_class: self.table_class.clone(),
            }),
            deletion_protection_enabled: self.deletion_protection,
        }
    }
}

impl Table {
    fn describe_indexes(&self, global: bool) -> Option<Vec<IndexDescription>> {
        let described: Vec<IndexDescription> = self
            .indexes
            .iter()
            .filter(|i| i.global == global)
            .map(|i| i.describe(&self.arn))
            .collect();
        (!described.is_empty()).then_some(described)
    }
}

/// Checks capacity units as AWS does: at least 1, at most the table quota.
pub fn check_throughput(
    errors: &mut ConstraintErrors,
    throughput: &ProvisionedThroughputInput,
    path: &str,
) {
    for (value, member) in [
        (throughput.read_capacity_units, "readCapacityUnits"),
        (throughput.write_capacity_units, "writeCapacityUnits"),
    ] {
        match value {
            None => errors.push(
                "null",
                &format!("{path}.{member}"),
                "Member must not be null",
            ),
            Some(v) if v < 1 => errors.push(
                &v.to_string(),
                &format!("{path}.{member}"),
                "Member must have value greater than or equal to 1",
            ),
            Some(_) => {}
        }
    }
}

fn check_index_names_and_shape(errors: &mut ConstraintErrors, indexes: &[IndexInput], kind: &str) {
    for (i, index) in indexes.iter().enumerate() {
        let base = format!("{kind}.{}.member", i + 1);
        errors.name(&index.index_name, &format!("{base}.indexName"), false);
        errors.not_null(&index.key_schema, &format!("{base}.keySchema"));
        errors.not_null(&index.projection, &format!("{base}.projection"));
    }
}

/// The validated form of a CreateTable request.
#[derive(Debug)]
pub struct TableDefinition {
    pub name: String,
    pub attribute_definitions: Vec<(String, ScalarType)>,
    pub key_schema: KeySchema,
    pub billing_mode: BillingMode,
    pub throughput: Throughput,
    pub indexes: Vec<Index>,
}

/// Checks a CreateTable request in AWS's order: shape constraints, then key schema and
/// attribute definitions, then billing.
pub fn validate_create(input: &CreateTableInput) -> Result<TableDefinition> {
    let mut errors = ConstraintErrors::new();
    errors.name(&input.table_name, "tableName", false);
    errors.not_null(&input.attribute_definitions, "attributeDefinitions");
    errors.not_null(&input.key_schema, "keySchema");
    if let Some(definitions) = &input.attribute_definitions {
        for (i, d) in definitions.iter().enumerate() {
            let base = format!("attributeDefinitions.{}.member", i + 1);
            errors.not_null(&d.attribute_name, &format!("{base}.attributeName"));
            errors.not_null(&d.attribute_type, &format!("{base}.attributeType"));
            errors.enumeration(
                &d.attribute_type,
                &format!("{base}.attributeType"),
                &["B", "N", "S"],
            );
        }
    }
    if let Some(schema) = &input.key_schema {
        if schema.len() > 2 {
            errors.push(
                "[…]",
                "keySchema",
                "Member must have length less than or equal to 2",
            );
        }
        if schema.is_empty() {
            errors.push(
                "[]",
                "keySchema",
                "Member must have length greater than or equal to 1",
            );
        }
        for (i, k) in schema.iter().enumerate() {
            let base = format!("keySchema.{}.member", i + 1);
            errors.not_null(&k.attribute_name, &format!("{base}.attributeName"));
            errors.not_null(&k.key_type, &format!("{base}.keyType"));
            errors.enumeration(&k.key_type, &format!("{base}.keyType"), &["HASH", "RANGE"]);
        }
    }
    errors.enumeration(
        &input.billing_mode,
        "billingMode",
        &["PROVISIONED", "PAY_PER_REQUEST"],
    );
    if let Some(throughput) = &input.provisioned_throughput {
        check_throughput(&mut errors, throughput, "provisionedThroughput");
    }
    if let Some(indexes) = &input.global_secondary_indexes {
        check_index_names_and_shape(&mut errors, indexes, "globalSecondaryIndexes");
    }
    if let Some(indexes) = &input.local_secondary_indexes {
        check_index_names_and_shape(&mut errors, indexes, "localSecondaryIndexes");
    }
    errors.enumeration(
        &input.table_class,
        "tableClass",
        &["STANDARD", "STANDARD_INFREQUENT_ACCESS"],
    );
    errors.into_result()?;

    let name = input.table_name.clone().expect("checked");
    let definitions = input.attribute_definitions.as_ref().expect("checked");
    let schema = input.key_schema.as_ref().expect("checked");

    let mut defined: BTreeMap<String, ScalarType> = BTreeMap::new();
    for d in definitions {
        let attribute_name = d.attribute_name.clone().expect("checked");
        let scalar_type =
            ScalarType::from_name(d.attribute_type.as_deref().expect("checked")).expect("checked");
        if defined
            .insert(attribute_name.clone(), scalar_type)
            .is_some()
        {
            return Err(Error::invalid_parameter(format!(
                "Duplicate value in attribute name: {attribute_name}"
            )));
        }
    }
    let key_type = |i: usize| schema[i].key_type.as_deref().expect("checked");
    if key_type(0) != "HASH" {
        return Err(Error::validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ));
    }
    if schema.len() == 2 {
        if key_type(1) != "RANGE" {
            return Err(Error::validation(
                "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
            ));
        }
        if schema[0].attribute_name == schema[1].attribute_name {
            return Err(Error::validation(
                "Both the Hash Key and the Range Key element in the KeySchema have the same name",
            ));
        }
    }
    let mut used: BTreeSet<String> = schema
        .iter()
        .map(|k| k.attribute_name.clone().expect("checked"))
        .collect();
    for index in input
        .global_secondary_indexes
        .iter()
        .flatten()
        .chain(input.local_secondary_indexes.iter().flatten())
    {
        for k in index.key_schema.iter().flatten() {
            if let Some(n) = &k.attribute_name {
                used.insert(n.clone());
            }
        }
    }
    let undefined: Vec<&String> = used.iter().filter(|n| !defined.contains_key(*n)).collect();
    if !undefined.is_empty() {
        return Err(Error::invalid_parameter(format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            undefined
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            defined.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    if used.len() != defined.len() {
        return Err(Error::invalid_parameter(
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    for k in schema {
        let n = k.attribute_name.as_deref().expect("checked");
        if n.len() > limits::KEY_ATTRIBUTE_NAME_SIZE_BYTES_MAX {
            return Err(Error::invalid_parameter(format!(
                "Hash or range key name length exceeds the limit of {} bytes: {n}",
                limits::KEY_ATTRIBUTE_NAME_SIZE_BYTES_MAX
            )));
        }
    }
    let attribute = |i: usize| {
        let n = schema[i].attribute_name.clone().expect("checked");
        KeyAttribute {
            scalar_type: defined[&n],
            name: n,
        }
    };
    let key_schema = KeySchema {
        hash: attribute(0),
        range: (schema.len() == 2).then(|| attribute(1)),
    };

    let billing_mode = match input.billing_mode.as_deref() {
        Some("PAY_PER_REQUEST") => BillingMode::PayPerRequest,
        _ => BillingMode::Provisioned,
    };
    let throughput = match (billing_mode, &input.provisioned_throughput) {
        (BillingMode::Provisioned, None) => {
            return Err(Error::invalid_parameter(
                "ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
            ));
        }
        (BillingMode::PayPerRequest, Some(_)) => {
            return Err(Error::invalid_parameter(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
        (BillingMode::Provisioned, Some(t)) => {
            let (read, write) = (
                t.read_capacity_units.expect("checked") as u64,
                t.write_capacity_units.expect("checked") as u64,
            );
            if read > limits::TABLE_MAX_READ_CAPACITY_UNITS
                || write > limits::TABLE_MAX_WRITE_CAPACITY_UNITS
            {
                return Err(Error::new(
                    crate::error::ErrorKind::LimitExceeded,
                    format!(
                        "Subscriber limit exceeded: Provisioned throughput for table {name} exceeds the per-table limit of {} read and {} write capacity units",
                        limits::TABLE_MAX_READ_CAPACITY_UNITS,
                        limits::TABLE_MAX_WRITE_CAPACITY_UNITS
                    ),
                ));
            }
            Throughput {
                read_capacity_units: read,
                write_capacity_units: write,
                last_increase_ms: None,
                last_decrease_ms: None,
                decreases_today: 0,
            }
        }
        (BillingMode::PayPerRequest, None) => Throughput {
            read_capacity_units: 0,
            write_capacity_units: 0,
            last_increase_ms: None,
            last_decrease_ms: None,
            decreases_today: 0,
        },
    };
    if let Some(tags) = &input.tags {
        check_tags(tags)?;
    }
    let indexes = validate_indexes(input, &defined, &key_schema, billing_mode)?;
    Ok(TableDefinition {
        name,
        indexes,
        attribute_definitions: defined.into_iter().collect(),
        key_schema,
        billing_mode,
        throughput,
    })
}

pub fn check_tags(tags: &[Tag]) -> Result<()> {
    let mut errors = ConstraintErrors::new();
    for (i, tag) in tags.iter().enumerate() {
        let base = format!("tags.{}.member", i + 1);
        match &tag.key {
            None => errors.push("null", &format!("{base}.key"), "Member must not be null"),
            Some(k) if k.is_empty() => errors.push(
                "''",
                &format!("{base}.key"),
                "Member must have length greater than or equal to 1",
            ),
            Some(k) if k.chars().count() > limits::TAG_KEY_LENGTH_MAX => errors.push(
                &format!("'{k}'"),
                &format!("{base}.key"),
                "Member must have length less than or equal to 128",
            ),
            Some(_) => {}
        }
        match &tag.value {
            None => errors.push("null", &format!("{base}.value"), "Member must not be null"),
            Some(v) if v.chars().count() > limits::TAG_VALUE_LENGTH_MAX => errors.push(
                &format!("'{v}'"),
                &format!("{base}.value"),
                "Member must have length less than or equal to 256",
            ),
            Some(_) => {}
        }
    }
    errors.into_result()?;
    if tags
        .iter()
        .any(|t| t.key.as_deref().is_some_and(|k| k.starts_with("aws:")))
    {
        return Err(Error::validation(
            "Tag keys starting with 'aws:' are reserved for system use",
        ));
    }
    Ok(())
}

fn index_key_schema(
    elements: &[KeySchemaElement],
    defined: &BTreeMap<String, ScalarType>,
    index_name: &str,
) -> Result<KeySchema> {
    let attribute = |e: &KeySchemaElement| -> Result<KeyAttribute> {
        let name = e.attribute_name.clone().ok_or_else(|| {
            Error::invalid_parameter(format!("Invalid KeySchema for index: {index_name}"))
        })?;
        let scalar_type = *defined
            .get(&name)
            .expect("undefined attributes were rejected earlier");
        Ok(KeyAttribute { name, scalar_type })
    };
    fn key_type(e: &KeySchemaElement) -> &str {
        e.key_type.as_deref().unwrap_or("")
    }
    match elements {
        [hash] if key_type(hash) == "HASH" => Ok(KeySchema {
            hash: attribute(hash)?,
            range: None,
        }),
        [hash, range] if key_type(hash) == "HASH" && key_type(range) == "RANGE" => {
            if hash.attribute_name == range.attribute_name {
                return Err(Error::validation(
                    "Both the Hash Key and the Range Key element in the KeySchema have the same name",
                ));
            }
            Ok(KeySchema {
                hash: attribute(hash)?,
                range: Some(attribute(range)?),
            })
        }
        [first, ..] if key_type(first) != "HASH" => Err(Error::validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        )),
        [_, _] => Err(Error::validation(
            "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
        )),
        _ => Err(Error::invalid_parameter(format!(
            "Invalid KeySchema for index: {index_name}"
        ))),
    }
}

fn index_projection(projection: &ProjectionInput) -> Result<Projection> {
    let kind = projection.projection_type.as_deref();
    match (kind, &projection.non_key_attributes) {
        (Some("ALL"), None) => Ok(Projection::All),
        (Some("KEYS_ONLY"), None) => Ok(Projection::KeysOnly),
        (Some("INCLUDE"), Some(names)) => {
            for name in names {
                if name.len() > limits::KEY_ATTRIBUTE_NAME_SIZE_BYTES_MAX {
                    return Err(Error::invalid_parameter(format!(
                        "NonKeyAttributes name exceeds 255 bytes: {name}"
                    )));
                }
            }
            Ok(Projection::Include(names.clone()))
        }
        (Some("INCLUDE"), None) => Err(Error::invalid_parameter(
            "ProjectionType is INCLUDE, but NonKeyAttributes is not specified",
        )),
        (Some(kind @ ("ALL" | "KEYS_ONLY")), Some(_)) => Err(Error::invalid_parameter(format!(
            "ProjectionType is {kind}, but NonKeyAttributes is specified"
        ))),
        (Some(other), _) => Err(Error::invalid_parameter(format!(
            "Unknown ProjectionType: {other}"
        ))),
        (None, _) => Err(Error::invalid_parameter("Unknown ProjectionType: null")),
    }
}

fn validate_indexes(
    input: &CreateTableInput,
    defined: &BTreeMap<String, ScalarType>,
    table_schema: &KeySchema,
    billing_mode: BillingMode,
) -> Result<Vec<Index>> {
    let globals = input.global_secondary_indexes.as_deref().unwrap_or(&[]);
    let locals = input.local_secondary_indexes.as_deref().unwrap_or(&[]);
    if input
        .global_secondary_indexes
        .as_ref()
        .is_some_and(Vec::is_empty)
    {
        return Err(Error::invalid_parameter(
            "List of GlobalSecondaryIndexes is empty",
        ));
    }
    if input
        .local_secondary_indexes
        .as_ref()
        .is_some_and(Vec::is_empty)
    {
        return Err(Error::invalid_parameter(
            "List of LocalSecondaryIndexes is empty",
        ));
    }
    if globals.len() > limits::GSI_COUNT_MAX {
        return Err(Error::invalid_parameter(format!(
            "GlobalSecondaryIndex count exceeds the per-table limit of {}",
            limits::GSI_COUNT_MAX
        )));
    }
    if locals.len() > limits::LSI_COUNT_MAX {
        return Err(Error::invalid_parameter(format!(
            "Number of LocalSecondaryIndexes exceeds per-table limit of {}",
            limits::LSI_COUNT_MAX
        )));
    }
    let mut names = BTreeSet::new();
    let mut indexes = Vec::new();
    let mut projected_count = 0;
    for (global, input_index) in globals
        .iter()
        .map(|i| (true, i))
        .chain(locals.iter().map(|i| (false, i)))
    {
        let name = input_index.index_name.clone().expect("checked");
        if !names.insert(name.clone()) {
            return Err(Error::invalid_parameter(format!(
                "Duplicate index name: {name}"
            )));
        }
        let index = build_index(
            global,
            input_index,
            name,
            defined,
            table_schema,
            billing_mode,
        )?;
        if let Projection::Include(names) = &index.projection {
            projected_count += names.len();
        }
        indexes.push(index);
    }
    if projected_count > limits::PROJECTED_ATTRIBUTE_COUNT_MAX {
        return Err(Error::invalid_parameter(format!(
            "The number of projected attributes across all secondary indexes exceeds the per-table limit of {}",
            limits::PROJECTED_ATTRIBUTE_COUNT_MAX
        )));
    }
    Ok(indexes)
}

/// One index from its definition, checked against the table: key schema (LSIs share the
/// table's partition key and need a sort key), projection, and GSI throughput by billing mode.
pub fn build_index(
    global: bool,
    input_index: &IndexInput,
    name: String,
    defined: &BTreeMap<String, ScalarType>,
    table_schema: &KeySchema,
    billing_mode: BillingMode,
) -> Result<Index> {
    let key_schema = index_key_schema(
        input_index.key_schema.as_deref().expect("checked"),
        defined,
        &name,
    )?;
    if !global {
        if table_schema.range.is_none() {
            return Err(Error::invalid_parameter(
                "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
            ));
        }
        if key_schema.hash != table_schema.hash {
            return Err(Error::invalid_parameter(format!(
                "Index KeySchema does not have the same leading hash key as table KeySchema for index: {name}. index hash key: {}, table hash key: {}",
                key_schema.hash.name, table_schema.hash.name
            )));
        }
        if key_schema.range.is_none() {
            return Err(Error::invalid_parameter(format!(
                "Index KeySchema does not have a range key for index: {name}"
            )));
        }
    }
    let projection = index_projection(input_index.projection.as_ref().expect("checked"))?;
    let throughput = match (global, billing_mode, &input_index.provisioned_throughput) {
        (true, BillingMode::Provisioned, Some(t)) => {
            let mut errors = ConstraintErrors::new();
            check_throughput(
                &mut errors,
                t,
                "globalSecondaryIndexes.member.provisionedThroughput",
            );
            errors.into_result()?;
            Some(Throughput {
                read_capacity_units: t.read_capacity_units.expect("checked") as u64,
                write_capacity_units: t.write_capacity_units.expect("checked") as u64,
                last_increase_ms: None,
                last_decrease_ms: None,
                decreases_today: 0,
            })
        }
        (true, BillingMode::Provisioned, None) => {
            return Err(Error::invalid_parameter(format!(
                "ProvisionedThroughput must be specified for index: {name}"
            )));
        }
        (true, BillingMode::PayPerRequest, Some(_)) => {
            return Err(Error::invalid_parameter(format!(
                "ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
            )));
        }
        _ => None,
    };
    Ok(Index {
        name,
        global,
        key_schema,
        projection,
        throughput,
        entries: BTreeMap::new(),
        size_bytes: 0,
        pending: Default::default(),
    })
}
