//! UpdateTimeToLive: enables or disables TTL on a table, echoing the specification. The
//! table's due index is built on enabling and dropped on disabling (`Table::set_ttl`).

use crate::api::*;
use crate::data::ttl::Setting;
use crate::engine::{Engine, table_name_of};
use crate::error::{ConstraintErrors, Error, Result};

/// The checked request.
struct Plan<'a> {
    table: &'a str,
    enabled: bool,
    attribute: &'a str,
}

fn validate(input: &UpdateTimeToLiveInput) -> Result<Plan<'_>> {
    let mut errors = ConstraintErrors::new();
    errors.table_name(&input.table_name, true);
    let path = "timeToLiveSpecification";
    errors.not_null(&input.time_to_live_specification, path);
    let (mut enabled, mut attribute) = (None, None);
    if let Some(spec) = &input.time_to_live_specification {
        errors.not_null(&spec.attribute_name, &format!("{path}.attributeName"));
        errors.attribute_name(&spec.attribute_name, &format!("{path}.attributeName"));
        errors.not_null(&spec.enabled, &format!("{path}.enabled"));
        enabled = spec.enabled;
        attribute = spec.attribute_name.as_deref();
    }
    let table = errors.into_result_with(input.table_name.as_deref())?;
    Ok(Plan {
        table: table_name_of(table),
        enabled: enabled.ok_or_else(Error::internal)?,
        attribute: attribute.ok_or_else(Error::internal)?,
    })
}

pub(crate) fn execute(
    engine: &mut Engine,
    input: &UpdateTimeToLiveInput,
    now_ms: u64,
) -> Result<Response> {
    let plan = validate(input)?;
    let limits = &engine.config.limits;
    let Some(table) = engine.tables.get_mut(plan.table) else {
        return Err(Error::table_not_found(plan.table));
    };
    let current = table.ttl_setting();
    match (current, plan.enabled) {
        (Some(s), _) if s.enabled && s.attribute != plan.attribute => {
            return Err(Error::ttl_attribute_different(&s.attribute));
        }
        (Some(s), true) if s.enabled => return Err(Error::ttl_already_enabled()),
        (Some(s), false) if !s.enabled => return Err(Error::ttl_already_disabled()),
        (None, false) => return Err(Error::ttl_already_disabled()),
        _ => {}
    }
    if current.is_some_and(|s| now_ms < s.changed_ms + limits.ttl_modification_interval_ms) {
        return Err(Error::ttl_modified_too_often());
    }
    let setting = Setting {
        attribute: plan.attribute.to_string(),
        enabled: plan.enabled,
        changed_ms: now_ms,
    };
    table.set_ttl(setting, now_ms);
    Ok(Response::UpdateTimeToLive(UpdateTimeToLiveOutput {
        time_to_live_specification: TimeToLiveSpecification {
            enabled: plan.enabled,
            attribute_name: plan.attribute.to_string(),
        },
    }))
}
