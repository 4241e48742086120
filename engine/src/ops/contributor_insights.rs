//! UpdateContributorInsights, DescribeContributorInsights and ListContributorInsights, and
//! the lookups they share. The heavy hitters themselves are counted in `capacity::metrics`.

use crate::api::*;
use crate::engine::{Engine, table_name_of};
use crate::error::{ConstraintErrors, Error, Result};

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
                return Err(Error::insights_action_invalid(other.unwrap_or("null")));
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
            return Err(Error::insights_max_results_invalid(max));
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
