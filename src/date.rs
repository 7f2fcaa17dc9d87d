//! ISO 8601 timestamps as JavaScript's `Date#toJSON` writes them (`2026-11-24T23:38:45.000Z`):
//! SocketCluster sends the `expiry` of `AuthTokenExpiredError` and the `date` of
//! `AuthTokenNotBeforeError` in this form, and the plugin status report uses it too.

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// Formats seconds since the Unix epoch (fractions kept to the millisecond) as UTC.
pub fn iso_utc(epoch_s: f64) -> String {
    let ms = (epoch_s * 1000.0).round() as i64;
    let (days, ms_of_day) = (ms.div_euclid(DAY_MS), ms.rem_euclid(DAY_MS));
    let (year, month, day) = civil_from_days(days);
    let (secs, millis) = (ms_of_day / 1000, ms_of_day % 1000);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// A `SystemTime` (to the millisecond) as UTC; the epoch for times before it.
pub fn iso_system_time(time: std::time::SystemTime) -> String {
    let since = time
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    iso_utc(since.as_millis() as f64 / 1000.0)
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_javascript_date_to_json() {
        // new Date(1795563413 * 1000).toJSON() in Node.
        assert_eq!(iso_utc(1_795_563_413.0), "2026-11-24T23:36:53.000Z");
        assert_eq!(iso_utc(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_utc(951_782_400.5), "2000-02-29T00:00:00.500Z");
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_795_752_632_123);
        assert_eq!(iso_system_time(at), "2026-11-27T04:10:32.123Z");
    }
}
