//! UpdateContributorInsights: ENABLE or DISABLE, effective at once (the answer names the
//! transition, as DynamoDB's does).

use crate::api::*;
use crate::engine::Engine;
use crate::error::{Error, Result};

impl Engine {
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
        // `insights_target` found the table; it is still there (nothing ran in between).
        let Some(table) = self.tables.get_mut(name) else {
            return Err(Error::table_not_found(name));
        };
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
}
