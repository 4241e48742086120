//! Messages of Time to Live: UpdateTimeToLive's state and rate checks (dynamodb-facts §11).

use super::Error;

impl Error {
    /// (obs?) Enabling TTL on a table where it is already enabled, with the same attribute
    /// or another one (AWS's text is known to mention that TTL is enabled; dynamodb-facts §11).
    pub(crate) fn ttl_already_enabled() -> Error {
        Error::validation("TimeToLive is already enabled")
    }

    /// (obs?) Disabling TTL on a table where it is not enabled.
    pub(crate) fn ttl_already_disabled() -> Error {
        Error::validation("TimeToLive is already disabled")
    }

    /// (obs?) Disabling TTL naming another attribute than the configured one (AWS's text is
    /// known to mention "different").
    pub(crate) fn ttl_attribute_different() -> Error {
        Error::validation(
            "The specified attribute name is different from the current TimeToLive attribute name",
        )
    }

    /// (obs, dynamodb-facts §11) A second change within the modification interval.
    pub(crate) fn ttl_modified_too_often() -> Error {
        Error::validation("Time to live has been modified multiple times within a fixed interval")
    }
}
