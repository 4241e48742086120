//! UpdateTable: billing mode and throughput changes (with the daily decrease rules), table
//! class, deletion protection and GlobalSecondaryIndexUpdates, all checked before anything
//! changes.

use crate::api::*;
use crate::data::table::{self, BillingMode, Status, Table};
use crate::engine::{Engine, table_name_of};
use crate::error::{ConstraintErrors, Error, ErrorKind, Result};
use crate::limits::{self};
use crate::ops::create_table::reject_streams;
use std::collections::BTreeMap;

pub(crate) fn execute(
    engine: &mut Engine,
    input: &UpdateTableInput,
    now_ms: u64,
) -> Result<Response> {
    let mut errors = ConstraintErrors::new();
    errors.name(&input.table_name, "tableName", true);
    errors.enumeration(
        &input.billing_mode,
        "billingMode",
        &["PROVISIONED", "PAY_PER_REQUEST"],
    );
    if let Some(t) = &input.provisioned_throughput {
        super::create_table::check_throughput(&mut errors, t, "provisionedThroughput");
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
    let limits = engine.config.limits.clone();
    let name = table_name_of(input.table_name.as_deref().expect("checked")).to_string();
    let table = engine
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
        (BillingMode::Provisioned, None) if table.billing_mode == BillingMode::PayPerRequest => {
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
    if new_mode == BillingMode::PayPerRequest && table.billing_mode != BillingMode::PayPerRequest {
        table.last_update_to_pay_per_request_ms = Some(now_ms);
        // A table switched to on-demand serves at once at least what it was provisioned
        // for, and at least what a new on-demand table serves (§6.5).
        let read =
            (table.throughput.read_capacity_units as f64).max(limits.on_demand_initial_read_units);
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
                let index = super::create_table::build_index(
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
                super::create_table::check_throughput(
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
