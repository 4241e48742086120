//! The catalog: tables by name and by ARN, as the control and data planes look them up.

use crate::data::table::Table;
use crate::engine::{Engine, table_name_of};
use crate::error::{ConstraintErrors, Error, Result};

impl Engine {
    pub(crate) fn named_table(&self, table_name: &Option<String>) -> Result<&Table> {
        let mut errors = ConstraintErrors::new();
        errors.table_name(table_name, true);
        let name = table_name_of(errors.into_result_with(table_name.as_deref())?);
        self.tables
            .get(name)
            .ok_or_else(|| Error::table_not_found(name))
    }

    /// The table an ARN names. Malformed ARNs are validation errors, well-formed ones of
    /// missing tables are not found (obs).
    pub(crate) fn table_by_arn(&mut self, arn: &Option<String>) -> Result<&mut Table> {
        let Some(arn) = arn else {
            return Err(Error::resource_arn_missing());
        };
        let prefix = format!(
            "arn:aws:dynamodb:{}:{}:table/",
            self.config.region, self.config.account_id
        );
        let rest = arn.strip_prefix(&prefix);
        if rest.is_some_and(|r| r.contains("/index/")) {
            return Err(Error::index_arn_not_taggable(arn));
        }
        let Some(name) = rest.filter(|n| !n.is_empty() && !n.contains('/')) else {
            if arn.starts_with("arn:aws:dynamodb:") && arn.contains(":table/") {
                return Err(Error::resource_arn_not_found(arn));
            }
            return Err(Error::table_arn_invalid(arn));
        };
        let name = name.to_string();
        self.tables
            .get_mut(&name)
            .ok_or_else(|| Error::resource_arn_not_found(arn))
    }
}
