//! ListContributorInsights: every table's status, paged by NextToken and MaxResults.

use crate::api::*;
use crate::engine::{Engine, table_name_of};
use crate::error::{Error, Result};

impl Engine {
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
