//! CreateTable: the request checked into a table definition (key schema, attribute
//! definitions, billing, indexes) in DynamoDB's order, then the table added to the catalog in
//! CREATING. The definition checks are shared with UpdateTable (throughput, new GSIs, tags).

use crate::api::*;
use crate::data::index::{Index, Projection};
use crate::data::table::Throughput;
use crate::data::table::{self, BillingMode, Status, Table};
use crate::engine::Engine;
use crate::error::{ConstraintErrors, Error, ErrorKind, Result};
use crate::limits::{self};
use crate::ops::tag_resource::too_many_tags;
use crate::types::keys::{KeyAttribute, KeySchema, ScalarType};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) fn execute(
    engine: &mut Engine,
    input: &CreateTableInput,
    now_ms: u64,
) -> Result<Response> {
    let TableDefinition {
        name,
        attribute_definitions,
        key_schema,
        billing_mode,
        throughput,
        indexes,
    } = validate_create(input)?;
    reject_streams(input.stream_specification.as_ref())?;
    if engine.tables.contains_key(&name) {
        return Err(Error::table_already_exists(&name));
    }
    if engine.tables.len() >= limits::TABLE_COUNT_MAX {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "Subscriber limit exceeded: You have exceeded the maximum number of tables ({}) for this account and region",
                limits::TABLE_COUNT_MAX
            ),
        ));
    }
    engine.table_sequence += 1;
    let digest = xxhash_rust::xxh3::xxh3_128(
        format!("{name}\0{now_ms}\0{}", engine.table_sequence).as_bytes(),
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
    let partition_count = table::partitions_for(billing_mode, &throughput, &engine.config.limits);
    let table = Table {
        arn: engine.table_arn(&name),
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
        load: crate::capacity::admission::TableLoad::new(&engine.config.limits),
        metrics: crate::capacity::metrics::TableMetrics {
            insights: engine.realism.insights(&name).then(Default::default),
            insights_updated_ms: engine.realism.insights(&name).then_some(now_ms),
            ..Default::default()
        },
        size_bytes: 0,
        indexes,
    };
    let mut description = table.describe(now_ms, &engine.config.limits);
    // CreateTable always answers CREATING, as DynamoDB does, however short the delay.
    description.table_status = Status::Creating.name().into();
    engine.tables.insert(name, table);
    Ok(Response::Table(Box::new(TableOutput {
        table_description: Some(description),
        table: None,
    })))
}

/// Streams are not implemented: enabling one is a clear error (docs/compatibility.md).
pub(crate) fn reject_streams(specification: Option<&StreamSpecificationInput>) -> Result<()> {
    if specification.is_some_and(|s| s.stream_enabled == Some(true)) {
        return Err(Error::validation(
            "dynasim does not implement DynamoDB Streams yet; see docs/compatibility.md",
        ));
    }
    Ok(())
}

/// Checks capacity units as AWS does: at least 1, at most the table quota.
pub(crate) fn check_throughput(
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
pub(crate) fn validate_create(input: &CreateTableInput) -> Result<TableDefinition> {
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

pub(crate) fn check_tags(tags: &[Tag]) -> Result<()> {
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
pub(crate) fn build_index(
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
