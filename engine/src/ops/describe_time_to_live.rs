//! DescribeTimeToLive: the table's TTL status as of now, with the attribute while TTL is on
//! (or turning off); a table never configured answers DISABLED without one (obs).

use crate::api::*;
use crate::data::ttl;
use crate::engine::Engine;
use crate::error::Result;

pub(crate) fn execute(engine: &Engine, input: &TableNameInput, now_ms: u64) -> Result<Response> {
    let table = engine.named_table(&input.table_name)?;
    let setting = table.ttl_setting();
    let status = ttl::status(setting, now_ms, engine.config.limits.ttl_transition_ms);
    let attribute_name = setting
        .filter(|_| status != "DISABLED")
        .map(|s| s.attribute.clone());
    Ok(Response::DescribeTimeToLive(DescribeTimeToLiveOutput {
        time_to_live_description: TimeToLiveDescription {
            time_to_live_status: status.into(),
            attribute_name,
        },
    }))
}
