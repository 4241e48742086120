//! DescribeEndpoints: this endpoint's own address.

use crate::api::*;
use crate::engine::Engine;
use crate::error::Result;
use crate::limits::{self};

pub(crate) fn execute(engine: &Engine) -> Result<Response> {
    Ok(Response::DescribeEndpoints(DescribeEndpointsOutput {
        endpoints: vec![Endpoint {
            address: engine.config.endpoint_address.clone(),
            cache_period_in_minutes: limits::ENDPOINT_CACHE_PERIOD_MINUTES,
        }],
    }))
}
