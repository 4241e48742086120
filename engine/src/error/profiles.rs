//! (ours) Messages of an invalid realism profile (`docs/profiles.md`). A profile is our own
//! configuration, not a DynamoDB request, so these are plain strings that `Profile::validate`
//! collects and the command line prints; no DynamoDB error type applies. `at` names the
//! behaviour: `defaults` or `tables.<name>`.

/// (ours) A `[min, max]` lag range whose minimum is above its maximum.
pub(crate) fn lag_range_inverted(at: &str, name: &str, min: u64, max: u64) -> String {
    format!("{at}.{name}: min {min} exceeds max {max}")
}

/// (ours) An auto-scaling target outside the range Application Auto Scaling accepts.
pub(crate) fn auto_scaling_target_out_of_range(at: &str) -> String {
    format!("{at}.auto_scaling.target_utilization must be within 0.2 and 0.9")
}

/// (ours) Auto-scaling bounds that are zero or inverted.
pub(crate) fn auto_scaling_capacity_bounds_invalid(at: &str) -> String {
    format!("{at}.auto_scaling: min_capacity must be positive and at most max_capacity")
}

/// (ours) Storms that last longer than their period, or have no period.
pub(crate) fn storms_duration_invalid(at: &str) -> String {
    format!("{at}.storms: duration_s must be at most every_s, which must be positive")
}

/// (ours) A storm probability that is not a probability.
pub(crate) fn storms_probability_out_of_range(at: &str) -> String {
    format!("{at}.storms.probability must be within 0 and 1")
}

/// (ours) A limit override that must be a positive finite number.
pub(crate) fn limit_not_positive(name: &str) -> String {
    format!("limits.{name} must be positive")
}

/// (ours) A negative or infinite `burst_seconds`.
pub(crate) fn burst_seconds_negative() -> String {
    "limits.burst_seconds must not be negative".to_string()
}
