//! Messages of Time to Live: UpdateTimeToLive's state and rate checks (dynamodb-facts §11).

use super::Error;

impl Error {
    /// (obs: compared exactly by clients of the service, e.g. terraform-provider-aws; Alternator's
    /// test_ttl.py asserts ValidationException.*(active|enabled) against AWS) Enabling TTL with
    /// the attribute it is already enabled on.
    pub(crate) fn ttl_already_enabled() -> Error {
        Error::validation("TimeToLive is already enabled")
    }

    /// (obs: terraform-provider-aws compares it exactly; Alternator asserts
    /// ValidationException.*disabled) Disabling TTL on a table where it is not enabled.
    pub(crate) fn ttl_already_disabled() -> Error {
        Error::validation("TimeToLive is already disabled")
    }

    /// (obs: a findings catalogue of live runs, ack-api-quirks DDB-TABLE-146; Alternator's
    /// test_ttl.py asserts ValidationException.*different and .*(active|enabled)) Enabling or
    /// disabling TTL naming another attribute than the one it is enabled on.
    pub(crate) fn ttl_attribute_different(current: &str) -> Error {
        Error::validation(format!(
            "TimeToLive is active on a different AttributeName: current AttributeName is {current}"
        ))
    }

    /// (obs, dynamodb-facts §11) A second change within the modification interval.
    pub(crate) fn ttl_modified_too_often() -> Error {
        Error::validation("Time to live has been modified multiple times within a fixed interval")
    }
}
