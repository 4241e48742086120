//! Shapes of the Contributor Insights operations.

use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize, Debug, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct ContributorInsightsInput {
    pub table_name: Option<String>,
    pub index_name: Option<String>,
    pub contributor_insights_action: Option<String>,
    pub contributor_insights_mode: Option<String>,
}

#[derive(Serialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContributorInsightsOutput {
    pub table_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_name: Option<String>,
    pub contributor_insights_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contributor_insights_rule_list: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_date_time: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contributor_insights_mode: Option<String>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct ListContributorInsightsInput {
    pub table_name: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Serialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContributorInsightsSummary {
    pub table_name: String,
    pub contributor_insights_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contributor_insights_mode: Option<String>,
}

#[derive(Serialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ListContributorInsightsOutput {
    pub contributor_insights_summaries: Vec<ContributorInsightsSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}
