//! DescribeLimits: the account and table capacity quotas.

use crate::api::*;
use crate::error::Result;
use crate::limits::{self};

pub(crate) fn execute() -> Result<Response> {
    Ok(Response::DescribeLimits(DescribeLimitsOutput {
        account_max_read_capacity_units: limits::ACCOUNT_MAX_READ_CAPACITY_UNITS,
        account_max_write_capacity_units: limits::ACCOUNT_MAX_WRITE_CAPACITY_UNITS,
        table_max_read_capacity_units: limits::TABLE_MAX_READ_CAPACITY_UNITS,
        table_max_write_capacity_units: limits::TABLE_MAX_WRITE_CAPACITY_UNITS,
    }))
}
