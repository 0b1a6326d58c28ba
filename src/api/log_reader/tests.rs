use super::*;
use crate::runtime::log::Records;
use crate::runtime::log_rotate::RotatingLog;

/// A scratch directory, removed when dropped (when a test fails too).
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!(
            "rstack-logread-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    fn base(&self) -> PathBuf {
        self.0.join("container.log")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A record of line `i`, 100 bytes or so.
fn record(i: usize) -> Vec<u8> {
    format!(
        "{{\"log\":\"line {i} {}\\n\",\"stream\":\"stdout\",\"time\":\"2026-01-01T00:00:{:02}.{i:09}Z\"}}\n",
        "x".repeat(30),
        i / 1000 % 60
    )
    .into_bytes()
}

fn write(log: &mut RotatingLog, range: std::ops::Range<usize>) {
    for i in range {
        log.record(&record(i)).unwrap();
    }
    log.flush().unwrap();
}

fn numbers(items: &[LogLine]) -> Vec<usize> {
    items
        .iter()
        .map(|l| l.data.split(' ').nth(1).unwrap().parse().unwrap())
        .collect()
}

fn following(base: &Path) -> LogReader {
    let mut r = LogReader::open(base, "c", "s");
    r.follow();
    r
}

/// Everything the reader has now.
fn drain(r: &mut LogReader) -> Vec<usize> {
    let mut out = Vec::new();
    while r.read(&mut out) == Read::More {}
    numbers(&out)
}

fn range(r: std::ops::Range<usize>) -> Vec<usize> {
    r.collect()
}

#[test]
fn reads_the_rotated_files_in_order() {
    let d = Scratch::new("order");
    // ~100-byte records, 1000-byte files, 4 files: the last ~36 lines are kept.
    let mut log = RotatingLog::open(&d.base(), 1000, 4).unwrap();
    write(&mut log, 0..200);
    let mut r = LogReader::open(&d.base(), "c", "s");
    let got = drain(&mut r);
    assert_eq!(*got.last().unwrap(), 199);
    assert!(got.len() > 27 && got.len() <= 40, "{got:?}");
    assert_eq!(got, range(got[0]..200), "contiguous, oldest first");
}

#[test]
fn a_snapshot_read_stops_where_the_log_ended_when_it_began() {
    let d = Scratch::new("snapshot");
    let mut log = RotatingLog::open(&d.base(), 1000, 3).unwrap();
    write(&mut log, 0..50);
    let mut r = LogReader::open(&d.base(), "c", "s");
    let mut out = Vec::new();
    assert_eq!(r.read(&mut out), Read::More);
    // Written (and rotated twice) after the start: not part of this read, and the files the
    // reader holds are still read in full.
    write(&mut log, 50..80);
    while r.read(&mut out) == Read::More {}
    let got = numbers(&out);
    assert_eq!(*got.last().unwrap(), 49);
    assert_eq!(got, range(got[0]..50));
}

#[test]
fn tail_spans_rotated_files() {
    let d = Scratch::new("tail");
    let mut log = RotatingLog::open(&d.base(), 1000, 5).unwrap();
    write(&mut log, 0..100);
    for n in [0, 1, 3, 9, 10, 25] {
        let mut r = LogReader::open(&d.base(), "c", "s");
        r.keep_last_lines(n);
        assert_eq!(drain(&mut r), range(100 - n..100), "tail {n}");
    }
    let mut r = LogReader::open(&d.base(), "c", "s");
    r.keep_last_lines(10_000);
    let all = drain(&mut r);
    assert_eq!(all, range(all[0]..100), "fewer lines than asked: all kept");
}

#[test]
fn tail_ignores_a_line_being_written() {
    let d = Scratch::new("partial");
    let mut log = RotatingLog::open(&d.base(), 0, 1).unwrap();
    write(&mut log, 0..5);
    drop(log);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(d.base())
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"log\":\"being wr").unwrap();
    let mut r = LogReader::open(&d.base(), "c", "s");
    r.keep_last_lines(2);
    assert_eq!(drain(&mut r), [3, 4]);
}

#[test]
fn following_through_rotations_loses_and_repeats_nothing() {
    let d = Scratch::new("follow");
    let mut log = RotatingLog::open(&d.base(), 1000, 4).unwrap();
    write(&mut log, 0..5);
    let mut r = following(&d.base());
    let mut got = drain(&mut r);
    // Between reads the writer rotates 0, 1 or 2 times (at most max-file - 2, so the file
    // the reader is in and its successors are all still there).
    let mut next = 5;
    for step in 0..60 {
        let n = [3, 9, 17][step % 3];
        write(&mut log, next..next + n);
        next += n;
        // Sometimes a partial chunk only, so the reader is mid-file at a rotation.
        if step % 4 == 0 {
            let mut out = Vec::new();
            r.read(&mut out);
            got.extend(numbers(&out));
        } else {
            got.extend(drain(&mut r));
        }
    }
    got.extend(drain(&mut r));
    assert_eq!(got, range(0..next));
}

#[test]
fn a_follower_that_fell_behind_goes_on_with_the_oldest_file_left() {
    let d = Scratch::new("behind");
    let mut log = RotatingLog::open(&d.base(), 1000, 3).unwrap();
    write(&mut log, 0..3);
    let mut r = following(&d.base());
    let mut got = drain(&mut r);
    // Far more than 3 files' worth: the file the reader holds is rotated away.
    write(&mut log, 3..200);
    got.extend(drain(&mut r));
    write(&mut log, 200..210);
    got.extend(drain(&mut r));
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order, no repeats");
    assert_eq!(*got.last().unwrap(), 209);
    let tail: Vec<usize> = got.iter().copied().skip_while(|n| *n < 180).collect();
    assert_eq!(
        tail,
        range(tail[0]..210),
        "contiguous from the oldest file left"
    );
}

#[test]
fn following_a_single_file_that_starts_over() {
    let d = Scratch::new("single");
    let mut log = RotatingLog::open(&d.base(), 1000, 1).unwrap();
    write(&mut log, 0..5);
    let mut r = following(&d.base());
    assert_eq!(drain(&mut r), range(0..5));
    // Fills the file and starts it over, several times: each file is read to its end before
    // the next, so nothing is lost or repeated.
    let mut got = range(0..5);
    for k in 0..6 {
        write(&mut log, 5 + 7 * k..12 + 7 * k);
        got.extend(drain(&mut r));
    }
    assert_eq!(got, range(0..47));
}

#[test]
fn a_missing_log_reads_as_empty_and_is_picked_up_once_written() {
    let d = Scratch::new("missing");
    let mut r = LogReader::open(&d.base(), "c", "s");
    assert!(drain(&mut r).is_empty());
    let mut f = following(&d.base());
    assert!(drain(&mut f).is_empty());
    let mut log = RotatingLog::open(&d.base(), 1000, 2).unwrap();
    write(&mut log, 0..3);
    assert_eq!(drain(&mut f), [0, 1, 2]);
}

#[test]
fn an_endless_line_is_dropped_not_buffered() {
    let d = Scratch::new("endless");
    let mut data = vec![b'x'; 3 * MAX_RECORD];
    data.push(b'\n');
    data.extend(record(7));
    std::fs::write(d.base(), data).unwrap();
    let mut r = LogReader::open(&d.base(), "c", "s");
    let mut out = Vec::new();
    while r.read(&mut out) == Read::More {
        assert!(r.partial.len() <= MAX_RECORD);
    }
    assert_eq!(numbers(&out), [7]);
}
