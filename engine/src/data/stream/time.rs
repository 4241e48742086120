//! Dates as a stream label shows them: ISO 8601 with milliseconds, UTC, no zone
//! (`2015-05-11T21:21:33.291`).

/// `ms` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmm`.
pub fn label(ms: u64) -> String {
    let (days, ms_of_day) = (ms / 86_400_000, ms % 86_400_000);
    let (year, month, day) = civil_from_days(days as i64);
    let seconds = ms_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        ms_of_day % 1000
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_utc_iso_8601_with_milliseconds() {
        assert_eq!(label(0), "1970-01-01T00:00:00.000");
        // The Streams API reference's example label.
        assert_eq!(label(1_431_379_293_291), "2015-05-11T21:21:33.291");
        assert_eq!(label(951_782_400_000), "2000-02-29T00:00:00.000");
        assert_eq!(label(1_798_761_599_999), "2026-12-31T23:59:59.999");
    }
}
