//! UTC timestamps: milliseconds since the Unix epoch, shown as RFC 3339.

/// Milliseconds since the Unix epoch now (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for a millisecond timestamp (proleptic Gregorian, UTC).
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Which end of a day a date without a time stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayEnd {
    /// Its first millisecond (00:00:00.000): a lower bound, `--since`.
    Start,
    /// Its last millisecond (23:59:59.999): an upper bound, `--until`.
    End,
}

/// Milliseconds since the Unix epoch of an RFC 3339 date-time
/// (`2026-03-14T09:30:00Z`, `2026-03-14T09:30:00.250+01:00`; `t`, `z` and a
/// space for `T` accepted, as RFC 3339 §5.6 allows) or full date
/// (`2026-03-14`, taken as the start or the end of that UTC day, `end`).
/// Times before 1970 are 0; years run from 0000 to 9999.
pub fn parse_rfc3339(text: &str, end: DayEnd) -> Result<u64, String> {
    let bad = || {
        format!("{text:?} is not an RFC 3339 date (2026-03-14) or date-time (2026-03-14T09:30:00Z)")
    };
    let b = text.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = b.get(r)?;
        s.iter()
            .all(u8::is_ascii_digit)
            .then(|| s.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let (y, m, d) = match (num(0..4), b.get(4), num(5..7), b.get(7), num(8..10)) {
        (Some(y), Some(b'-'), Some(m), Some(b'-'), Some(d)) => (y, m, d),
        _ => return Err(bad()),
    };
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return Err(bad());
    }
    let day_ms = days_from_civil(y, m, d) * 86_400_000;
    if b.len() == 10 {
        let ms = match end {
            DayEnd::Start => day_ms,
            DayEnd::End => day_ms + 86_399_999,
        };
        return Ok(ms.max(0) as u64);
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return Err(bad());
    }
    let (hh, mm, ss) = match (num(11..13), b.get(13), num(14..16), b.get(16), num(17..19)) {
        (Some(h), Some(b':'), Some(mi), Some(b':'), Some(s)) if h < 24 && mi < 60 && s <= 60 => {
            (h, mi, s)
        }
        _ => return Err(bad()),
    };
    // A fraction of a second: milliseconds kept, finer digits dropped.
    let mut at = 19;
    let mut frac = 0i64;
    if b.get(at) == Some(&b'.') {
        let digits = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return Err(bad());
        }
        for k in 0..3 {
            frac = frac * 10
                + b.get(at + 1 + k)
                    .filter(|_| k < digits)
                    .map_or(0, |c| i64::from(c - b'0'));
        }
        at += 1 + digits;
    }
    let offset_min = match &b[at..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            match (num(at + 1..at + 3), num(at + 4..at + 6)) {
                (Some(oh), Some(om)) if oh < 24 && om < 60 => {
                    let o = oh * 60 + om;
                    if *sign == b'-' {
                        -o
                    } else {
                        o
                    }
                }
                _ => return Err(bad()),
            }
        }
        _ => return Err(bad()),
    };
    let ms = day_ms + ((hh * 60 + mm - offset_min) * 60 + ss) * 1000 + frac;
    Ok(ms.max(0) as u64)
}

/// Days in month `m` of year `y` (proleptic Gregorian).
fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// (year, month, day) to days since 1970-01-01; the inverse of
/// [`civil_from_days`] (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(
            super::rfc3339(1_795_000_000_000),
            "2026-11-18T11:06:40.000Z"
        );
    }

    #[test]
    fn parses_what_it_prints_and_rfc3339_forms() {
        use super::{parse_rfc3339, rfc3339, DayEnd::*};
        for ms in [0, 951_782_400_123, 1_795_000_000_000, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339(&rfc3339(ms), Start), Ok(ms));
        }
        assert_eq!(parse_rfc3339("2000-02-29", Start), Ok(951_782_400_000));
        assert_eq!(parse_rfc3339("2000-02-29", End), Ok(951_868_799_999));
        assert_eq!(
            parse_rfc3339("2000-02-29t01:00:00+01:00", End),
            Ok(951_782_400_000)
        );
        assert_eq!(
            parse_rfc3339("2000-02-28 23:00:00-01:00", Start),
            Ok(951_782_400_000)
        );
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00.1z", Start),
            Ok(951_782_400_100)
        );
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00.123456Z", Start),
            Ok(951_782_400_123)
        );
        assert_eq!(parse_rfc3339("1969-12-31", End), Ok(0));
        for bad in [
            "",
            "2000",
            "2000-02-30",
            "1999-02-29",
            "2000-13-01",
            "2000-00-10",
            "2000-1-01",
            "2000-02-29T",
            "2000-02-29T24:00:00Z",
            "2000-02-29T10:00:00",
            "2000-02-29T10:00Z",
            "2000-02-29T10:00:00.Z",
            "2000-02-29T10:00:00+0100",
            "2000-02-29T10:00:00Zx",
            "2000-02-29x",
            "２０００-02-29",
            "2000-02-29T10:00:00+24:00",
        ] {
            assert!(parse_rfc3339(bad, Start).is_err(), "{bad}");
        }
    }
}
