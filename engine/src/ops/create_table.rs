//! CreateTable: the request checked into a table definition (key schema, attribute
//! definitions, billing, indexes) in DynamoDB's order, then the table added to the catalog in
//! CREATING. The definition checks are shared with UpdateTable (throughput, new GSIs, tags).

use crate::api::*;
use crate::capacity::throughput::{BillingMode, Throughput, partitions_for};
use crate::data::index::{Index, Projection};
use crate::data::stream::ViewType;
use crate::data::table::{NewTable, Status, Table};
use crate::engine::Engine;
use crate::error::{ConstraintErrors, Error, Result, constraint};
use crate::limits::{self};
use crate::types::index_keys::IndexKeySchema;
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
        tags,
    } = validate_create(input)?;
    let stream = stream_to_create(input.stream_specification.as_ref())?;
    if engine.tables.contains_key(&name) {
        return Err(Error::table_already_exists(&name));
    }
    if engine.tables.len() >= limits::TABLE_COUNT_MAX {
        return Err(Error::table_count_exceeded());
    }
    engine.table_sequence += 1;
    let id = table_id(&name, now_ms, engine.table_sequence);
    let tags = tags.into_iter().collect::<BTreeMap<_, _>>();
    if tags.len() > limits::TAG_COUNT_MAX {
        return Err(Error::tag_count_exceeded());
    }
    let partition_count = partitions_for(billing_mode, &throughput, &engine.config.limits);
    let table = Table::new(NewTable {
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
        partition_count,
        hosted: engine.config.hosted_partitions,
        load: crate::capacity::admission::TableLoad::new(&engine.config.limits),
        metrics: crate::capacity::metrics::TableMetrics {
            insights: engine.realism.insights(&name).then(Default::default),
            insights_updated_ms: engine.realism.insights(&name).then_some(now_ms),
            ..Default::default()
        },
        indexes,
    });
    let mut table = table;
    if let Some(view_type) = stream {
        start_stream(engine, &mut table, view_type, now_ms);
    }
    let mut description = table.describe(now_ms, &engine.config.limits);
    // CreateTable always answers CREATING, as DynamoDB does, however short the delay.
    description.table_status = Status::Creating.name().into();
    engine.tables.insert(name, table);
    Ok(Response::Table(Box::new(TableOutput {
        table_description: Some(description),
        table: None,
    })))
}

/// A new table's stream, ENABLING while the table is CREATING, labelled after any stream of
/// a deleted table of the same name.
fn start_stream(engine: &Engine, table: &mut Table, view_type: ViewType, now_ms: u64) {
    let limits = &engine.config.limits;
    let floor = engine.stream_label_floor(&table.arn);
    let enabling_until = now_ms + limits.table_creating_ms;
    table.enable_stream(view_type, now_ms, enabling_until, limits, floor);
}

/// A table id in UUID form, from the name, the time and the engine's table sequence.
fn table_id(name: &str, now_ms: u64, sequence: u64) -> String {
    let digest = xxhash_rust::xxh3::xxh3_128(format!("{name}\0{now_ms}\0{sequence}").as_bytes());
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (digest >> 96) as u32,
        (digest >> 80) as u16,
        (digest >> 68) as u16 & 0xFFF,
        (digest >> 56) as u16 & 0xFFF,
        digest as u64 & 0xFFFF_FFFF_FFFF
    )
}

/// The stream CreateTable's StreamSpecification asks for (StreamEnabled false: none).
fn stream_to_create(specification: Option<&StreamSpecificationInput>) -> Result<Option<ViewType>> {
    Ok(match check_stream_specification(specification, true)? {
        Some(StreamChange::Enable(view_type)) => Some(view_type),
        Some(StreamChange::Disable) | None => None,
    })
}

/// What a StreamSpecification asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamChange {
    Enable(ViewType),
    Disable,
}

/// Checks a StreamSpecification (CreateTable's or UpdateTable's): StreamEnabled is required,
/// StreamViewType one of the four, required to enable and refused to disable.
pub(crate) fn check_stream_specification(
    specification: Option<&StreamSpecificationInput>,
    creating: bool,
) -> Result<Option<StreamChange>> {
    let Some(specification) = specification else {
        return Ok(None);
    };
    let mut errors = ConstraintErrors::new();
    errors.not_null(
        &specification.stream_enabled,
        "streamSpecification.streamEnabled",
    );
    errors.enumeration(
        &specification.stream_view_type,
        "streamSpecification.streamViewType",
        &ViewType::NAMES,
    );
    let enabled = errors.into_result_with(specification.stream_enabled)?;
    let view_type = specification
        .stream_view_type
        .as_deref()
        .and_then(ViewType::from_name);
    match (enabled, view_type) {
        (true, Some(view_type)) => Ok(Some(StreamChange::Enable(view_type))),
        (true, None) => Err(Error::stream_view_type_required(creating)),
        (false, None) => Ok(Some(StreamChange::Disable)),
        (false, Some(_)) => Err(Error::stream_view_type_when_disabling(creating)),
    }
}

/// Checks capacity units as AWS does: at least 1, at most the table quota. The read and
/// write units when both passed.
pub(crate) fn check_throughput(
    errors: &mut ConstraintErrors,
    throughput: &ProvisionedThroughputInput,
    path: &str,
) -> Option<(u64, u64)> {
    let mut checked = Vec::with_capacity(2);
    for (value, member) in [
        (throughput.read_capacity_units, "readCapacityUnits"),
        (throughput.write_capacity_units, "writeCapacityUnits"),
    ] {
        match value {
            None => errors.push("null", &format!("{path}.{member}"), constraint::NOT_NULL),
            Some(v) if v < 1 => errors.push(
                &v.to_string(),
                &format!("{path}.{member}"),
                &constraint::value_at_least(1),
            ),
            Some(v) => checked.push(v as u64),
        }
    }
    match checked[..] {
        [read, write] => Some((read, write)),
        _ => None,
    }
}

/// Provisioned throughput of `read` and `write` units, never changed yet.
pub(crate) fn new_throughput((read, write): (u64, u64)) -> Throughput {
    Throughput {
        read_capacity_units: read,
        write_capacity_units: write,
        last_increase_ms: None,
        last_decrease_ms: None,
        decreases_today: 0,
    }
}

/// An index definition whose name, key schema and projection passed the shape checks.
pub(crate) struct IndexShape<'a> {
    pub(crate) name: String,
    pub(crate) key_schema: &'a [KeySchemaElement],
    pub(crate) projection: &'a ProjectionInput,
    pub(crate) throughput: Option<&'a ProvisionedThroughputInput>,
}

impl<'a> IndexShape<'a> {
    /// The shape of `index` when its name, key schema and projection are all present.
    pub(crate) fn of(index: &'a IndexInput) -> Option<IndexShape<'a>> {
        Some(IndexShape {
            name: index.index_name.clone()?,
            key_schema: index.key_schema.as_deref()?,
            projection: index.projection.as_ref()?,
            throughput: index.provisioned_throughput.as_ref(),
        })
    }
}

/// The shape checks of CreateTable's indexes; the indexes that passed them.
fn check_index_shapes<'a>(
    errors: &mut ConstraintErrors,
    indexes: &'a [IndexInput],
    kind: &str,
) -> Vec<IndexShape<'a>> {
    let mut shapes = Vec::new();
    for (i, index) in indexes.iter().enumerate() {
        let base = format!("{kind}.{}.member", i + 1);
        errors.name(&index.index_name, &format!("{base}.indexName"), false);
        errors.not_null(&index.key_schema, &format!("{base}.keySchema"));
        for (j, element) in index.key_schema.iter().flatten().enumerate() {
            let path = format!("{base}.keySchema.{}.member.attributeName", j + 1);
            errors.attribute_name(&element.attribute_name, &path);
        }
        errors.not_null(&index.projection, &format!("{base}.projection"));
        let non_key = index
            .projection
            .as_ref()
            .and_then(|p| p.non_key_attributes.as_ref());
        for (j, name) in non_key.into_iter().flatten().enumerate() {
            let path = format!("{base}.projection.nonKeyAttributes.{}.member", j + 1);
            errors.attribute_name(&Some(name.clone()), &path);
        }
        shapes.extend(IndexShape::of(index));
    }
    shapes
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
    /// Key and value of each tag, in request order.
    pub tags: Vec<(String, String)>,
}

/// What CreateTable's shape checks proved present.
struct CreateShape<'a> {
    name: String,
    /// Attribute name and type of each definition, in request order.
    definitions: Vec<(String, ScalarType)>,
    /// Attribute name and key type of each key schema element (one or two).
    keys: Vec<(&'a str, &'a str)>,
    /// Read and write units, when ProvisionedThroughput was given.
    capacity: Option<(u64, u64)>,
    globals: Vec<IndexShape<'a>>,
    locals: Vec<IndexShape<'a>>,
}

/// Checks a CreateTable request in AWS's order: shape constraints, then key schema and
/// attribute definitions, then billing.
pub(crate) fn validate_create(input: &CreateTableInput) -> Result<TableDefinition> {
    let shape = check_create_shape(input)?;
    let defined = define_attributes(shape.definitions)?;
    let key_schema = table_key_schema(&shape.keys, input, &defined)?;
    let (billing_mode, throughput) = table_billing(input, shape.capacity, &shape.name)?;
    let tags = match &input.tags {
        Some(tags) => check_tags(tags)?,
        None => Vec::new(),
    };
    let indexes = validate_indexes(
        input,
        shape.globals,
        shape.locals,
        &defined,
        &key_schema,
        billing_mode,
    )?;
    Ok(TableDefinition {
        name: shape.name,
        indexes,
        attribute_definitions: defined.into_iter().collect(),
        key_schema,
        billing_mode,
        throughput,
        tags,
    })
}

/// The shape constraints of a CreateTable request, all reported together.
fn check_create_shape(input: &CreateTableInput) -> Result<CreateShape<'_>> {
    let mut errors = ConstraintErrors::new();
    errors.table_name(&input.table_name, false);
    errors.not_null(&input.attribute_definitions, "attributeDefinitions");
    errors.not_null(&input.key_schema, "keySchema");
    let definitions = input
        .attribute_definitions
        .as_deref()
        .map(|d| check_definitions(&mut errors, d));
    let keys = input
        .key_schema
        .as_deref()
        .map(|s| check_key_schema_shape(&mut errors, s));
    errors.enumeration(
        &input.billing_mode,
        "billingMode",
        &["PROVISIONED", "PAY_PER_REQUEST"],
    );
    let capacity = input
        .provisioned_throughput
        .as_ref()
        .and_then(|t| check_throughput(&mut errors, t, "provisionedThroughput"));
    let globals = input
        .global_secondary_indexes
        .as_deref()
        .map_or_else(Vec::new, |i| {
            check_index_shapes(&mut errors, i, "globalSecondaryIndexes")
        });
    let locals = input
        .local_secondary_indexes
        .as_deref()
        .map_or_else(Vec::new, |i| {
            check_index_shapes(&mut errors, i, "localSecondaryIndexes")
        });
    errors.enumeration(
        &input.table_class,
        "tableClass",
        &["STANDARD", "STANDARD_INFREQUENT_ACCESS"],
    );
    let ((name, definitions), keys) =
        errors.into_result_with(input.table_name.clone().zip(definitions).zip(keys))?;
    Ok(CreateShape {
        name,
        definitions,
        keys,
        capacity,
        globals,
        locals,
    })
}

/// The shape checks of AttributeDefinitions; the definitions that passed them.
fn check_definitions(
    errors: &mut ConstraintErrors,
    definitions: &[AttributeDefinition],
) -> Vec<(String, ScalarType)> {
    let mut checked = Vec::new();
    for (i, d) in definitions.iter().enumerate() {
        let base = format!("attributeDefinitions.{}.member", i + 1);
        errors.not_null(&d.attribute_name, &format!("{base}.attributeName"));
        errors.attribute_name(&d.attribute_name, &format!("{base}.attributeName"));
        errors.not_null(&d.attribute_type, &format!("{base}.attributeType"));
        errors.enumeration(
            &d.attribute_type,
            &format!("{base}.attributeType"),
            &["B", "N", "S"],
        );
        let scalar_type = d.attribute_type.as_deref().and_then(ScalarType::from_name);
        if let (Some(name), Some(scalar_type)) = (&d.attribute_name, scalar_type) {
            checked.push((name.clone(), scalar_type));
        }
    }
    checked
}

/// The shape checks of the table's KeySchema; the elements that passed them.
fn check_key_schema_shape<'a>(
    errors: &mut ConstraintErrors,
    schema: &'a [KeySchemaElement],
) -> Vec<(&'a str, &'a str)> {
    if schema.len() > 2 {
        errors.push("[…]", "keySchema", &constraint::length_at_most(2));
    }
    if schema.is_empty() {
        errors.push("'[]'", "keySchema", &constraint::length_at_least(1));
    }
    let mut checked = Vec::new();
    for (i, k) in schema.iter().enumerate() {
        let base = format!("keySchema.{}.member", i + 1);
        errors.not_null(&k.attribute_name, &format!("{base}.attributeName"));
        errors.attribute_name(&k.attribute_name, &format!("{base}.attributeName"));
        errors.not_null(&k.key_type, &format!("{base}.keyType"));
        errors.enumeration(&k.key_type, &format!("{base}.keyType"), &["HASH", "RANGE"]);
        if let (Some(name), Some(key_type)) = (&k.attribute_name, &k.key_type) {
            checked.push((name.as_str(), key_type.as_str()));
        }
    }
    checked
}

/// The attribute definitions by name; no name twice.
fn define_attributes(
    definitions: Vec<(String, ScalarType)>,
) -> Result<BTreeMap<String, ScalarType>> {
    let mut defined: BTreeMap<String, ScalarType> = BTreeMap::new();
    for (attribute_name, scalar_type) in definitions {
        if defined
            .insert(attribute_name.clone(), scalar_type)
            .is_some()
        {
            return Err(Error::attribute_definition_duplicate(&attribute_name));
        }
    }
    Ok(defined)
}

/// The table's key schema from its checked elements: HASH then RANGE, every key attribute
/// of the table and its indexes defined, and nothing else defined.
fn table_key_schema(
    keys: &[(&str, &str)],
    input: &CreateTableInput,
    defined: &BTreeMap<String, ScalarType>,
) -> Result<KeySchema> {
    if keys[0].1 != "HASH" {
        return Err(Error::key_schema_first_not_hash());
    }
    if keys.len() == 2 {
        if keys[1].1 != "RANGE" {
            return Err(Error::key_schema_second_not_range());
        }
        if keys[0].0 == keys[1].0 {
            return Err(Error::key_schema_same_name());
        }
    }
    let mut used: BTreeSet<String> = keys.iter().map(|(n, _)| n.to_string()).collect();
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
    let undefined: Vec<&str> = used
        .iter()
        .filter(|n| !defined.contains_key(*n))
        .map(String::as_str)
        .collect();
    if !undefined.is_empty() {
        return Err(Error::key_attributes_undefined(
            &undefined.join(", "),
            &defined.keys().cloned().collect::<Vec<_>>().join(", "),
        ));
    }
    if used.len() != defined.len() {
        return Err(Error::attribute_definitions_unused());
    }
    for (n, _) in keys {
        if n.len() > limits::KEY_ATTRIBUTE_NAME_SIZE_BYTES_MAX {
            return Err(Error::key_attribute_name_too_long(n));
        }
    }
    let attribute = |i: usize| KeyAttribute {
        scalar_type: defined[keys[i].0],
        name: keys[i].0.to_string(),
    };
    Ok(KeySchema {
        hash: attribute(0),
        range: (keys.len() == 2).then(|| attribute(1)),
    })
}

/// The billing mode and the table's throughput: capacity exactly when PROVISIONED, within
/// the per-table quota.
fn table_billing(
    input: &CreateTableInput,
    capacity: Option<(u64, u64)>,
    name: &str,
) -> Result<(BillingMode, Throughput)> {
    let billing_mode = match input.billing_mode.as_deref() {
        Some("PAY_PER_REQUEST") => BillingMode::PayPerRequest,
        _ => BillingMode::Provisioned,
    };
    let throughput = match (billing_mode, capacity) {
        (BillingMode::Provisioned, None) => return Err(Error::throughput_required()),
        (BillingMode::PayPerRequest, Some(_)) => {
            return Err(Error::throughput_with_pay_per_request());
        }
        (BillingMode::Provisioned, Some((read, write))) => {
            if read > limits::TABLE_MAX_READ_CAPACITY_UNITS
                || write > limits::TABLE_MAX_WRITE_CAPACITY_UNITS
            {
                return Err(Error::table_throughput_exceeded(name));
            }
            new_throughput((read, write))
        }
        (BillingMode::PayPerRequest, None) => new_throughput((0, 0)),
    };
    Ok((billing_mode, throughput))
}

/// Checks tags: key and value lengths, then no reserved key. The key and value of each tag,
/// in request order.
/// A tag's key and value hold only letters, digits, whitespace and `_ . : / = + - @`
/// (the Developer Guide's tagging restrictions; obs: the service rejects others).
fn check_tag_characters(tag: &Tag, base: &str) -> Result<()> {
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
    if let Some(k) = tag.key.as_deref().filter(|k| !k.chars().all(allowed)) {
        return Err(Error::tag_characters_invalid(
            k,
            &format!("{base}.key"),
            true,
        ));
    }
    if let Some(v) = tag.value.as_deref().filter(|v| !v.chars().all(allowed)) {
        return Err(Error::tag_characters_invalid(
            v,
            &format!("{base}.value"),
            false,
        ));
    }
    Ok(())
}

pub(crate) fn check_tags(tags: &[Tag]) -> Result<Vec<(String, String)>> {
    let mut errors = ConstraintErrors::new();
    let mut checked = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let base = format!("tags.{}.member", i + 1);
        match &tag.key {
            None => errors.push("null", &format!("{base}.key"), constraint::NOT_NULL),
            Some(k) if k.is_empty() => errors.push(
                "''",
                &format!("{base}.key"),
                &constraint::length_at_least(1),
            ),
            Some(k) if k.chars().count() > limits::TAG_KEY_LENGTH_MAX => errors.push(
                &format!("'{k}'"),
                &format!("{base}.key"),
                &constraint::length_at_most(limits::TAG_KEY_LENGTH_MAX),
            ),
            Some(_) => {}
        }
        match &tag.value {
            None => errors.push("null", &format!("{base}.value"), constraint::NOT_NULL),
            Some(v) if v.chars().count() > limits::TAG_VALUE_LENGTH_MAX => errors.push(
                &format!("'{v}'"),
                &format!("{base}.value"),
                &constraint::length_at_most(limits::TAG_VALUE_LENGTH_MAX),
            ),
            Some(_) => {}
        }
        check_tag_characters(tag, &base)?;
        if let (Some(k), Some(v)) = (&tag.key, &tag.value) {
            checked.push((k.clone(), v.clone()));
        }
    }
    errors.into_result()?;
    if checked.iter().any(|(k, _)| k.starts_with("aws:")) {
        return Err(Error::tag_key_reserved());
    }
    Ok(checked)
}

/// An index's key schema from its elements: one HASH and an optional RANGE, or for a GSI up to
/// four HASH elements followed by up to four RANGE elements (multi-attribute keys).
fn index_key_schema(
    elements: &[KeySchemaElement],
    defined: &BTreeMap<String, ScalarType>,
    index_name: &str,
    global: bool,
) -> Result<IndexKeySchema> {
    let attribute = |e: &KeySchemaElement| -> Result<KeyAttribute> {
        let name = e
            .attribute_name
            .clone()
            .ok_or_else(|| Error::index_key_schema_invalid(index_name))?;
        let scalar_type = *defined
            .get(&name)
            .expect("undefined attributes were rejected earlier");
        Ok(KeyAttribute { name, scalar_type })
    };
    let multi_attribute = global
        && key_type(elements.first()) == "HASH"
        && (elements.len() > 2 || key_type(elements.get(1)) == "HASH");
    if multi_attribute {
        return multi_attribute_key_schema(elements, index_name, attribute);
    }
    match elements {
        [hash] if key_type(Some(hash)) == "HASH" => Ok(IndexKeySchema {
            hash: vec![attribute(hash)?],
            range: Vec::new(),
        }),
        [hash, range] if key_type(Some(hash)) == "HASH" && key_type(Some(range)) == "RANGE" => {
            if hash.attribute_name == range.attribute_name {
                return Err(Error::key_schema_same_name());
            }
            Ok(IndexKeySchema {
                hash: vec![attribute(hash)?],
                range: vec![attribute(range)?],
            })
        }
        [first, ..] if key_type(Some(first)) != "HASH" => Err(Error::key_schema_first_not_hash()),
        [_, _] => Err(Error::key_schema_second_not_range()),
        _ => Err(Error::index_key_schema_invalid(index_name)),
    }
}

fn key_type(element: Option<&KeySchemaElement>) -> &str {
    element.and_then(|e| e.key_type.as_deref()).unwrap_or("")
}

/// A GSI key schema of several elements, the first HASH: HASH elements, then RANGE elements,
/// at most four of each, no attribute twice.
fn multi_attribute_key_schema(
    elements: &[KeySchemaElement],
    index_name: &str,
    attribute: impl Fn(&KeySchemaElement) -> Result<KeyAttribute>,
) -> Result<IndexKeySchema> {
    let hash_count = elements
        .iter()
        .take_while(|e| key_type(Some(e)) == "HASH")
        .count();
    let rest = &elements[hash_count..];
    if let Some(misplaced) = rest.iter().find(|e| key_type(Some(e)) != "RANGE") {
        if key_type(Some(misplaced)) == "HASH" {
            return Err(Error::index_key_schema_hash_after_range(index_name));
        }
        return Err(Error::index_key_schema_invalid(index_name));
    }
    if hash_count > limits::INDEX_KEY_ATTRIBUTE_COUNT_MAX {
        return Err(Error::index_key_schema_too_many("HASH", index_name));
    }
    if rest.len() > limits::INDEX_KEY_ATTRIBUTE_COUNT_MAX {
        return Err(Error::index_key_schema_too_many("RANGE", index_name));
    }
    let mut names = BTreeSet::new();
    for element in elements {
        if let Some(name) = &element.attribute_name
            && !names.insert(name.as_str())
        {
            return Err(Error::index_key_schema_duplicate(name, index_name));
        }
    }
    Ok(IndexKeySchema {
        hash: elements[..hash_count]
            .iter()
            .map(&attribute)
            .collect::<Result<_>>()?,
        range: rest.iter().map(&attribute).collect::<Result<_>>()?,
    })
}

fn index_projection(projection: &ProjectionInput) -> Result<Projection> {
    let kind = projection.projection_type.as_deref();
    match (kind, &projection.non_key_attributes) {
        (Some("ALL"), None) => Ok(Projection::All),
        (Some("KEYS_ONLY"), None) => Ok(Projection::KeysOnly),
        (Some("INCLUDE"), Some(names)) => {
            for (i, name) in names.iter().enumerate() {
                if name.len() > limits::KEY_ATTRIBUTE_NAME_SIZE_BYTES_MAX {
                    return Err(Error::non_key_attribute_name_too_long(name));
                }
                if names[..i].contains(name) {
                    return Err(Error::non_key_attribute_duplicate(name));
                }
            }
            Ok(Projection::Include(names.clone()))
        }
        (Some("INCLUDE"), None) => Err(Error::projection_include_without_attributes()),
        (Some(kind @ ("ALL" | "KEYS_ONLY")), Some(_)) => {
            Err(Error::projection_with_attributes(kind))
        }
        (Some(other), _) => Err(Error::projection_type_unknown(other)),
        (None, _) => Err(Error::projection_type_unknown("null")),
    }
}

/// The index counts: no empty list, and within the per-table quotas.
fn check_index_counts(input: &CreateTableInput, globals: usize, locals: usize) -> Result<()> {
    if input
        .global_secondary_indexes
        .as_ref()
        .is_some_and(Vec::is_empty)
    {
        return Err(Error::global_indexes_empty());
    }
    if input
        .local_secondary_indexes
        .as_ref()
        .is_some_and(Vec::is_empty)
    {
        return Err(Error::local_indexes_empty());
    }
    if globals > limits::GSI_COUNT_MAX {
        return Err(Error::global_index_count_exceeded());
    }
    if locals > limits::LSI_COUNT_MAX {
        return Err(Error::local_index_count_exceeded());
    }
    Ok(())
}

fn validate_indexes(
    input: &CreateTableInput,
    globals: Vec<IndexShape<'_>>,
    locals: Vec<IndexShape<'_>>,
    defined: &BTreeMap<String, ScalarType>,
    table_schema: &KeySchema,
    billing_mode: BillingMode,
) -> Result<Vec<Index>> {
    check_index_counts(input, globals.len(), locals.len())?;
    let mut names = BTreeSet::new();
    let mut indexes = Vec::new();
    let mut projected_count = 0;
    for (global, shape) in globals
        .into_iter()
        .map(|i| (true, i))
        .chain(locals.into_iter().map(|i| (false, i)))
    {
        if !names.insert(shape.name.clone()) {
            return Err(Error::index_name_duplicate(&shape.name));
        }
        let index = build_index(global, shape, defined, table_schema, billing_mode)?;
        if let Projection::Include(names) = &index.projection {
            projected_count += names.len();
        }
        indexes.push(index);
    }
    if projected_count > limits::PROJECTED_ATTRIBUTE_COUNT_MAX {
        return Err(Error::projected_attribute_count_exceeded());
    }
    Ok(indexes)
}

/// One index from its definition, checked against the table: key schema (LSIs share the
/// table's partition key and need a sort key), projection, and GSI throughput by billing mode.
pub(crate) fn build_index(
    global: bool,
    shape: IndexShape<'_>,
    defined: &BTreeMap<String, ScalarType>,
    table_schema: &KeySchema,
    billing_mode: BillingMode,
) -> Result<Index> {
    let name = shape.name;
    let key_schema = index_key_schema(shape.key_schema, defined, &name, global)?;
    if !global {
        if table_schema.range.is_none() {
            return Err(Error::local_index_without_table_range_key());
        }
        // An LSI's key schema is one HASH and at most one RANGE (multi-attribute keys are for
        // GSIs only), so its first partition key attribute is its only one.
        if key_schema.hash[0] != table_schema.hash {
            return Err(Error::local_index_hash_key_differs(
                &name,
                &key_schema.hash[0].name,
                &table_schema.hash.name,
            ));
        }
        if key_schema.range.is_empty() {
            return Err(Error::local_index_without_range_key(&name));
        }
    }
    let projection = index_projection(shape.projection)?;
    let throughput = match (global, billing_mode, shape.throughput) {
        (true, BillingMode::Provisioned, Some(t)) => {
            let mut errors = ConstraintErrors::new();
            let capacity = check_throughput(
                &mut errors,
                t,
                "globalSecondaryIndexes.member.provisionedThroughput",
            );
            Some(new_throughput(errors.into_result_with(capacity)?))
        }
        (true, BillingMode::Provisioned, None) => {
            return Err(Error::index_throughput_required(&name));
        }
        (true, BillingMode::PayPerRequest, Some(_)) => {
            return Err(Error::index_throughput_with_pay_per_request(&name));
        }
        _ => None,
    };
    Ok(Index {
        online: None,
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
