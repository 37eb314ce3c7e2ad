//! Wall-clock timestamps in the document's RFC 3339 UTC form.

use std::time::{Duration, SystemTime};

/// Now, as `2026-11-23T10:00:00Z`.
pub fn now_rfc3339() -> String {
    format_rfc3339(SystemTime::now())
}

/// Formats a time as `2026-11-23T10:00:00Z`.
pub fn format_rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Whether `t` can be written as RFC 3339 (years 1970–9999); later times would panic the formatter.
pub fn is_representable(t: SystemTime) -> bool {
    t.duration_since(std::time::UNIX_EPOCH)
        .is_ok_and(|d| d.as_secs() < 253_402_300_800)
}

/// Parses an RFC 3339 timestamp.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(text).ok()
}

/// Parses a policy duration such as `30d`, `12h`, `1w`, `90m`, `45s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().map_err(|_| {
        format!("`{text}` is not a duration; use a number and a unit: s, m, h, d or w (e.g. 30d)")
    })?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "`{text}` has an unknown unit; use s, m, h, d or w (e.g. 30d)"
            ))
        }
    };
    n.checked_mul(secs)
        .filter(|&s| s <= 1000 * 365 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long (at most 1000 years)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(parse_duration("1w").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_duration("12h").unwrap(), Duration::from_secs(43_200));
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("3y").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn timestamps_round_trip() {
        let now = now_rfc3339();
        assert!(now.ends_with('Z'));
        assert!(parse_rfc3339(&now).is_some());
        assert!(parse_rfc3339("yesterday").is_none());
    }
}
