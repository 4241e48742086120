//! DescribeContributorInsights, and what the three Contributor Insights operations share: the
//! table a request names and the description of its rules. DynamoDB publishes the data to
//! CloudWatch; dynasim keeps it with the table (`capacity::metrics::Insights`) and serves it on
//! `/metrics`. Tracked per table.

use crate::api::*;
use crate::engine::{Engine, table_name_of};
use crate::error::{ConstraintErrors, Error, Result};

impl Engine {
    pub(crate) fn insights_target<'a>(
        &self,
        input: &'a ContributorInsightsInput,
        now_ms: u64,
    ) -> Result<&'a str> {
        let mut errors = ConstraintErrors::new();
        errors.table_name(&input.table_name, true);
        if input.index_name.is_some() {
            errors.name(&input.index_name, "indexName", false);
        }
        let name = table_name_of(errors.into_result_with(input.table_name.as_deref())?);
        let table = self.table_for_data(name, now_ms)?;
        if let Some(index) = &input.index_name {
            if table.index(index).is_none() {
                return Err(Error::resource_not_found());
            }
            return Err(Error::insights_per_index_not_implemented());
        }
        Ok(name)
    }

    pub(crate) fn insights_output(&self, name: &str, describe: bool) -> ContributorInsightsOutput {
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
}
