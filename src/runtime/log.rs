//! container.log in Docker's json-file format: one JSON object per line,
//! `{"stream":"stdout","time":"<RFC3339 ns, UTC>","log":"<line incl. \n>"}`.

use serde::Serialize;
use std::time::{SystemTime, UNIX_EPOCH};

/// Docker splits lines longer than this into several records.
const MAX_LINE: usize = 16 * 1024;

#[derive(Serialize)]
struct Entry<'a> {
    stream: &'a str,
    time: &'a str,
    log: &'a str,
}

/// Where records go: each call is one whole record (a JSON line with its newline), so a
/// rotating writer can start a new file between records, never inside one.
pub trait Records {
    fn record(&mut self, rec: &[u8]) -> std::io::Result<()>;
}

impl Records for Vec<u8> {
    fn record(&mut self, rec: &[u8]) -> std::io::Result<()> {
        self.extend_from_slice(rec);
        Ok(())
    }
}

/// `None`: the log is off (`logging.driver: none`), records are dropped.
impl<R: Records> Records for Option<R> {
    fn record(&mut self, rec: &[u8]) -> std::io::Result<()> {
        match self {
            Some(r) => r.record(rec),
            None => Ok(()),
        }
    }
}

/// Splits one stream into lines and appends them as JSON records.
pub struct StreamLog {
    name: &'static str,
    partial: Vec<u8>,
}

impl StreamLog {
    pub fn new(name: &'static str) -> StreamLog {
        StreamLog {
            name,
            partial: Vec::new(),
        }
    }

    /// Emits every complete line in `data` (and over-long partial lines); keeps the rest.
    pub fn feed(&mut self, data: &[u8], out: &mut impl Records) -> std::io::Result<()> {
        self.partial.extend_from_slice(data);
        let now = rfc3339_nanos(SystemTime::now());
        let mut start = 0;
        while let Some(pos) = self.partial[start..].iter().position(|b| *b == b'\n') {
            let end = start + pos + 1;
            write_entry(out, self.name, &now, &self.partial[start..end])?;
            start = end;
        }
        while self.partial.len() - start >= MAX_LINE {
            write_entry(out, self.name, &now, &self.partial[start..start + MAX_LINE])?;
            start += MAX_LINE;
        }
        self.partial.drain(..start);
        Ok(())
    }

    /// At EOF: the last line without a newline is still a record.
    pub fn finish(&mut self, out: &mut impl Records) -> std::io::Result<()> {
        if !self.partial.is_empty() {
            let now = rfc3339_nanos(SystemTime::now());
            write_entry(out, self.name, &now, &self.partial)?;
            self.partial.clear();
        }
        Ok(())
    }
}

fn write_entry(
    out: &mut impl Records,
    stream: &str,
    time: &str,
    line: &[u8],
) -> std::io::Result<()> {
    let log = String::from_utf8_lossy(line);
    let mut buf = serde_json::to_vec(&Entry {
        stream,
        time,
        log: &log,
    })
    .map_err(std::io::Error::other)?;
    buf.push(b'\n');
    out.record(&buf)
}

/// `2026-11-28T06:43:05.123456789Z`.
pub fn rfc3339_nanos(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, dd) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Days since 1970-01-01 -> (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_utc_with_nanoseconds() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 5);
        assert_eq!(rfc3339_nanos(t), "2023-11-14T22:13:20.000000005Z");
        assert_eq!(
            rfc3339_nanos(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000000000Z"
        );
    }

    #[test]
    fn splits_lines_and_flushes_partial() {
        let mut out = Vec::new();
        let mut s = StreamLog::new("stdout");
        s.feed(b"hello\nwor", &mut out).unwrap();
        s.feed(b"ld\n\"q\"\ttail", &mut out).unwrap();
        s.finish(&mut out).unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let logs: Vec<&str> = lines.iter().map(|v| v["log"].as_str().unwrap()).collect();
        assert_eq!(logs, ["hello\n", "world\n", "\"q\"\ttail"]);
        assert_eq!(lines[0]["stream"], "stdout");
        assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn long_lines_are_split() {
        let mut out = Vec::new();
        let mut s = StreamLog::new("stderr");
        s.feed(&vec![b'a'; MAX_LINE + 10], &mut out).unwrap();
        s.finish(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 2);
    }
}
