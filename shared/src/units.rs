//! The two small languages of the configuration: durations (`7d`, `15min`, `30s`) and rates
//! (`60/min`, `5/15min`).

use std::fmt;
use std::time::Duration;

/// Parses `500ms`, `30s`, `15min` (or `15m`), `12h`, `7d`; a bare unit means one of it.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let count: u64 = if number.is_empty() {
        1
    } else {
        number.parse().map_err(|_| "number too large".to_string())?
    };
    let unit_secs: u64 = match unit.trim() {
        "ms" => return Ok(Duration::from_millis(count)),
        "s" | "sec" => 1,
        "m" | "min" => 60,
        "h" | "hour" => 3600,
        "d" => 86_400,
        _ => return Err("expected a duration like 7d, 12h, 15min or 30s".into()),
    };
    if number.is_empty() && unit.is_empty() {
        return Err("expected a duration like 7d, 12h, 15min or 30s".into());
    }
    let secs = count
        .checked_mul(unit_secs)
        .ok_or_else(|| "duration too large".to_string())?;
    if secs == 0 {
        return Err("a duration must be longer than zero".into());
    }
    Ok(Duration::from_secs(secs))
}

/// Parses a size: `25MB`, `500KB`, `1GB` (powers of 1024) or a number of bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    const HINT: &str = "expected a size like 25MB, 500KB or a number of bytes";
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let count: u64 = number.parse().map_err(|_| HINT.to_string())?;
    let unit: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(HINT.into()),
    };
    let bytes = count
        .checked_mul(unit)
        .ok_or_else(|| "size too large".to_string())?;
    if bytes == 0 {
        return Err("a size must be more than zero".into());
    }
    Ok(bytes)
}

/// "At most `count` events per `per`": a rate limit as written in the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    pub fn parse(text: &str) -> Result<Rate, String> {
        let (count, per) = text
            .split_once('/')
            .ok_or_else(|| "expected a rate like 60/min or 5/15min".to_string())?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| "expected a rate like 60/min or 5/15min".to_string())?;
        if count == 0 {
            return Err("a rate must allow at least one event".into());
        }
        let per = parse_duration(per)?;
        Ok(Rate { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.count, self.per.as_secs())
    }
}

/// "25 MB", for messages.
pub fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    if mb >= 1.0 && mb.fract() == 0.0 {
        format!("{mb:.0} MB")
    } else if mb >= 0.1 {
        format!("{mb:.1} MB")
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("15min"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("h"), Ok(Duration::from_secs(3600)));
        for bad in ["seven", "", "7", "0d", "7y", "-1d", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("25MB"), Ok(25 << 20));
        assert_eq!(parse_size("500 kb"), Ok(500 << 10));
        assert_eq!(parse_size("1234"), Ok(1234));
        for bad in ["", "MB", "0", "5TB", "-1", "99999999999999999999GB"] {
            assert!(parse_size(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn rates() {
        assert_eq!(
            Rate::parse("5/15min"),
            Ok(Rate {
                count: 5,
                per: Duration::from_secs(900)
            })
        );
        assert_eq!(Rate::parse("60/min").unwrap().per, Duration::from_secs(60));
        for bad in ["60", "0/min", "x/min", "5/fortnight"] {
            assert!(Rate::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(megabytes(25 * 1024 * 1024), "25 MB");
        assert_eq!(megabytes(1000), "1 KB");
        assert_eq!(megabytes(1536 * 1024), "1.5 MB");
    }
}
