//! UpdateTable: billing mode and throughput changes (with the daily decrease rules), table
//! class, deletion protection and GlobalSecondaryIndexUpdates, all checked before anything
//! changes.

use crate::api::*;
use crate::capacity::throughput::{BillingMode, Throughput, partitions_for};
use crate::data::table::{Status, Table};
use crate::engine::{Engine, table_name_of};
use crate::error::{ConstraintErrors, Error, Result};
use crate::limits::{self, Limits};
use crate::ops::create_table::{
    IndexShape, StreamChange, check_stream_specification, new_throughput,
};
use std::collections::BTreeMap;

pub(crate) fn execute(
    engine: &mut Engine,
    input: &UpdateTableInput,
    now_ms: u64,
) -> Result<Response> {
    let (table_name, capacity, stream) = check_shape(input)?;
    let limits = engine.config.limits.clone();
    let name = table_name_of(table_name).to_string();
    let label_floor = engine.stream_label_floor(&engine.table_arn(&name));
    let table = engine
        .tables
        .get_mut(&name)
        .ok_or_else(|| Error::table_not_found(&name))?;
    match table.status(now_ms, &limits) {
        Status::Active => {}
        status => {
            let doing = match status {
                Status::Creating => "created",
                Status::Deleting => "deleted",
                _ => "updated",
            };
            return Err(Error::table_in_use(doing, &name));
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
            now_ms,
        )?,
        None => IndexPlan::default(),
    };
    let throughput = plan_throughput(table, input, new_mode, capacity, &name, now_ms)?;
    check_stream_change(table, stream, &name)?;
    if new_mode == BillingMode::PayPerRequest && table.billing_mode != BillingMode::PayPerRequest {
        switch_to_on_demand(table, &limits, now_ms);
    }
    table.billing_mode = new_mode;
    table.throughput = throughput;
    if let Some(class) = &input.table_class {
        table.table_class = class.clone();
    }
    if let Some(protection) = input.deletion_protection_enabled {
        table.deletion_protection = protection;
    }
    apply_index_plan(table, index_plan, new_mode, now_ms, &limits);
    apply_stream_change(table, stream, &limits, now_ms, label_floor);
    // More throughput than the partitions serve adds partitions (they never merge).
    let needed = partitions_for(table.billing_mode, &table.throughput, &limits);
    table.grow_partitions_to(needed, now_ms, &limits);
    table.updating_until_ms = now_ms + limits.table_updating_ms;
    let mut description = table.describe(now_ms, &limits);
    description.table_status = Status::Updating.name().into();
    Ok(Response::Table(Box::new(TableOutput {
        table_description: Some(description),
        table: None,
    })))
}

/// A stream can be enabled only on a table without an enabled one, and disabled only on a
/// table with one.
fn check_stream_change(table: &Table, change: Option<StreamChange>, name: &str) -> Result<()> {
    match change {
        Some(StreamChange::Enable(_)) if table.enabled_stream().is_some() => {
            Err(Error::stream_already_enabled(name))
        }
        Some(StreamChange::Disable) if table.enabled_stream().is_none() => {
            Err(Error::stream_not_enabled(name))
        }
        _ => Ok(()),
    }
}

/// A new stream is ENABLING, and a disabled one DISABLING, while the table is UPDATING.
fn apply_stream_change(
    table: &mut Table,
    change: Option<StreamChange>,
    limits: &Limits,
    now_ms: u64,
    label_floor: Option<u64>,
) {
    match change {
        Some(StreamChange::Enable(view_type)) => {
            let until = now_ms + limits.table_updating_ms;
            table.enable_stream(view_type, now_ms, until, limits, label_floor);
        }
        Some(StreamChange::Disable) => {
            table.disable_stream(now_ms, limits.table_updating_ms, limits)
        }
        None => {}
    }
}

/// What UpdateTable asks of the table after the shape checks: its name, the read and write
/// units when ProvisionedThroughput was given, and the stream change.
type Shape<'a> = (&'a str, Option<(u64, u64)>, Option<StreamChange>);

/// The checks before the table is looked up: shape constraints, unimplemented members and
/// a request that changes something. The table name, and the read and write units when
/// ProvisionedThroughput was given.
fn check_shape(input: &UpdateTableInput) -> Result<Shape<'_>> {
    let mut errors = ConstraintErrors::new();
    errors.table_name(&input.table_name, true);
    errors.enumeration(
        &input.billing_mode,
        "billingMode",
        &["PROVISIONED", "PAY_PER_REQUEST"],
    );
    let capacity = input.provisioned_throughput.as_ref().and_then(|t| {
        super::create_table::check_throughput(&mut errors, t, "provisionedThroughput")
    });
    errors.enumeration(
        &input.table_class,
        "tableClass",
        &["STANDARD", "STANDARD_INFREQUENT_ACCESS"],
    );
    let table_name = errors.into_result_with(input.table_name.as_deref())?;
    if input.replica_updates.is_some() || input.sse_specification.is_some() {
        return Err(Error::update_table_member_not_implemented());
    }
    let stream = check_stream_specification(input.stream_specification.as_ref(), false)?;
    if input.billing_mode.is_none()
        && input.provisioned_throughput.is_none()
        && input.table_class.is_none()
        && input.deletion_protection_enabled.is_none()
        && input.stream_specification.is_none()
        && input.global_secondary_index_updates.is_none()
    {
        return Err(Error::update_table_without_change());
    }
    Ok((table_name, capacity, stream))
}

/// The table's throughput after the update: capacity only when PROVISIONED, a change from
/// the current, within the quota; increases and decreases are dated.
fn plan_throughput(
    table: &Table,
    input: &UpdateTableInput,
    new_mode: BillingMode,
    capacity: Option<(u64, u64)>,
    name: &str,
    now_ms: u64,
) -> Result<Throughput> {
    let mut throughput = table.throughput.clone();
    match (new_mode, capacity) {
        (BillingMode::PayPerRequest, Some(_)) => {
            return Err(Error::throughput_with_pay_per_request());
        }
        (BillingMode::Provisioned, None) if table.billing_mode == BillingMode::PayPerRequest => {
            return Err(Error::throughput_required());
        }
        (BillingMode::Provisioned, Some((read, write))) => {
            if table.billing_mode == BillingMode::Provisioned
                && read == throughput.read_capacity_units
                && write == throughput.write_capacity_units
                && input.billing_mode.is_none()
            {
                return Err(Error::throughput_unchanged(
                    (throughput.read_capacity_units, read),
                    (throughput.write_capacity_units, write),
                ));
            }
            if read > limits::TABLE_MAX_READ_CAPACITY_UNITS
                || write > limits::TABLE_MAX_WRITE_CAPACITY_UNITS
            {
                return Err(Error::table_throughput_exceeded(name));
            }
            if read > throughput.read_capacity_units || write > throughput.write_capacity_units {
                throughput.last_increase_ms = Some(now_ms);
            }
            if read < throughput.read_capacity_units || write < throughput.write_capacity_units {
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
    Ok(throughput)
}

/// A table switched to on-demand serves at once at least what it was provisioned for, and
/// at least what a new on-demand table serves (§6.5).
fn switch_to_on_demand(table: &mut Table, limits: &Limits, now_ms: u64) {
    table.last_update_to_pay_per_request_ms = Some(now_ms);
    let read =
        (table.throughput.read_capacity_units as f64).max(limits.on_demand_initial_read_units);
    let write =
        (table.throughput.write_capacity_units as f64).max(limits.on_demand_initial_write_units);
    table.load.peak_read = table.load.peak_read.max(read / 2.0);
    table.load.peak_write = table.load.peak_write.max(write / 2.0);
}

/// What UpdateTable's GlobalSecondaryIndexUpdates will do, checked before anything changes.
#[derive(Default)]
struct IndexPlan {
    create: Option<(
        crate::data::index::Index,
        Vec<(String, crate::types::keys::ScalarType)>,
    )>,
    delete: Option<String>,
    throughput: Vec<(String, Throughput)>,
}

/// One GlobalSecondaryIndexUpdate after its shape checks.
enum IndexUpdate<'a> {
    Create(IndexShape<'a>),
    Update(&'a IndexInput),
    Delete,
}

fn plan_index_updates(
    table: &Table,
    updates: &[GlobalSecondaryIndexUpdate],
    definitions: Option<&[AttributeDefinition]>,
    billing_mode: BillingMode,
    now_ms: u64,
) -> Result<IndexPlan> {
    // One index created or deleted at a time: while one is CREATING, only it may be deleted,
    // and only once it backfills.
    let creating = table.index_creating(now_ms);
    if updates.is_empty() {
        return Err(Error::index_updates_empty());
    }
    let mut plan = IndexPlan::default();
    let mut named = std::collections::BTreeSet::new();
    for update in updates {
        let (name, update) = check_index_update(update)?;
        if !named.insert(name.clone()) {
            return Err(Error::index_update_repeated(&name));
        }
        let existing = table.index(&name);
        match update {
            IndexUpdate::Create(shape) => {
                if plan.create.is_some() || plan.delete.is_some() || creating.is_some() {
                    return Err(Error::online_index_change_exceeded());
                }
                if existing.is_some() {
                    return Err(Error::index_already_exists(&name));
                }
                if table.indexes().iter().filter(|i| i.global).count() >= limits::GSI_COUNT_MAX {
                    return Err(Error::global_index_count_exceeded());
                }
                let defined = defined_with(table, definitions, shape.key_schema)?;
                let index = super::create_table::build_index(
                    true,
                    shape,
                    &defined,
                    &table.key_schema,
                    billing_mode,
                )?;
                plan.create = Some((index, defined.into_iter().collect()));
            }
            IndexUpdate::Delete => {
                let deletes_creating =
                    creating.is_some_and(|i| i.name == name && i.creating(now_ms) == Some(true));
                if plan.create.is_some()
                    || plan.delete.is_some()
                    || (creating.is_some() && !deletes_creating)
                {
                    return Err(Error::online_index_change_exceeded());
                }
                if !existing.is_some_and(|i| i.global) {
                    return Err(Error::index_not_found(&name));
                }
                plan.delete = Some(name);
            }
            IndexUpdate::Update(index_input) => {
                if !existing.is_some_and(|i| i.global) {
                    return Err(Error::index_not_found(&name));
                }
                let throughput = index_throughput_update(index_input, &name, billing_mode)?;
                plan.throughput.push((name, throughput));
            }
        }
    }
    Ok(plan)
}

/// The shape checks of one GlobalSecondaryIndexUpdate: exactly one action, a valid index
/// name, and for Create a key schema and a projection.
fn check_index_update(update: &GlobalSecondaryIndexUpdate) -> Result<(String, IndexUpdate<'_>)> {
    let (index_input, action) = match (&update.create, &update.update, &update.delete) {
        (Some(i), None, None) => (i, "Create"),
        (None, Some(i), None) => (i, "Update"),
        (None, None, Some(i)) => (i, "Delete"),
        _ => return Err(Error::index_update_action_invalid()),
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
    let checked = match action {
        "Create" => {
            errors.not_null(
                &index_input.key_schema,
                "globalSecondaryIndexUpdates.member.create.keySchema",
            );
            errors.not_null(
                &index_input.projection,
                "globalSecondaryIndexUpdates.member.create.projection",
            );
            IndexShape::of(index_input)
                .map(|shape| (shape.name.clone(), IndexUpdate::Create(shape)))
        }
        "Update" => index_input
            .index_name
            .clone()
            .map(|name| (name, IndexUpdate::Update(index_input))),
        _ => index_input
            .index_name
            .clone()
            .map(|name| (name, IndexUpdate::Delete)),
    };
    errors.into_result_with(checked)
}

/// The table's attribute definitions with the request's added, for a new index whose key
/// attributes must all be defined.
fn defined_with(
    table: &Table,
    definitions: Option<&[AttributeDefinition]>,
    key_schema: &[KeySchemaElement],
) -> Result<BTreeMap<String, crate::types::keys::ScalarType>> {
    let mut defined: BTreeMap<String, crate::types::keys::ScalarType> =
        table.attribute_definitions.iter().cloned().collect();
    for definition in definitions.unwrap_or(&[]) {
        let (Some(attribute), Some(kind)) =
            (&definition.attribute_name, &definition.attribute_type)
        else {
            return Err(Error::attribute_definition_incomplete());
        };
        let Some(kind) = crate::types::keys::ScalarType::from_name(kind) else {
            return Err(Error::attribute_definition_type_invalid(kind));
        };
        if defined
            .insert(attribute.clone(), kind)
            .is_some_and(|previous| previous != kind)
        {
            return Err(Error::attribute_definition_type_changed(attribute));
        }
    }
    let undefined: Vec<&str> = key_schema
        .iter()
        .filter_map(|k| k.attribute_name.as_deref())
        .filter(|k| !defined.contains_key(*k))
        .collect();
    if !undefined.is_empty() {
        return Err(Error::key_attributes_undefined(
            &undefined.join(", "),
            &defined.keys().cloned().collect::<Vec<_>>().join(", "),
        ));
    }
    Ok(defined)
}

/// The new throughput of an existing GSI: required, and only on a PROVISIONED table.
fn index_throughput_update(
    index_input: &IndexInput,
    name: &str,
    billing_mode: BillingMode,
) -> Result<Throughput> {
    let Some(requested) = &index_input.provisioned_throughput else {
        return Err(Error::index_throughput_required(name));
    };
    if billing_mode == BillingMode::PayPerRequest {
        return Err(Error::index_throughput_with_pay_per_request(name));
    }
    let mut errors = ConstraintErrors::new();
    let capacity = super::create_table::check_throughput(
        &mut errors,
        requested,
        "globalSecondaryIndexUpdates.member.update.provisionedThroughput",
    );
    Ok(new_throughput(errors.into_result_with(capacity)?))
}

/// Applies a checked index plan, and keeps GSI throughput in step with the billing mode:
/// on-demand GSIs have none; GSIs of a table switched to provisioned take the table's.
fn apply_index_plan(
    table: &mut Table,
    plan: IndexPlan,
    billing_mode: BillingMode,
    now_ms: u64,
    limits: &Limits,
) {
    if let Some(name) = plan.delete {
        table.remove_index(&name);
    }
    if let Some((index, definitions)) = plan.create {
        table.attribute_definitions = definitions;
        table.add_index(index, now_ms, limits);
    }
    for (name, throughput) in plan.throughput {
        if let Some(slot) = table.index_throughput_mut(&name) {
            *slot = Some(throughput);
        }
    }
    let table_throughput = table.throughput.clone();
    for slot in table.global_index_throughputs_mut() {
        match billing_mode {
            BillingMode::PayPerRequest => *slot = None,
            BillingMode::Provisioned => {
                slot.get_or_insert_with(|| table_throughput.clone());
            }
        }
    }
    table.prune_attribute_definitions();
}
